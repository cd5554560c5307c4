#include "actors/store_writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "actors/messages.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/thread_name.hpp"

namespace journeyd {
namespace {

using Answers = std::vector<std::pair<caf::response_promise, EventOutcome>>;

// A ticketed record's outcome and the shard that waits for it.
struct TicketAnswer {
    caf::actor reply_to;
    TicketOutcome outcome;
};
using TicketAnswers = std::vector<TicketAnswer>;

// Runs one batch's commit at a time on its own thread; `done` is called there with "" or the
// error once it returned and the committer is idle again.
// Thread-safety: commit() from the store writer actor, wait_idle() from its cleanup at the
// end, run() on the committer's own thread; mutex_ guards the hand-over between them.
class Committer {
  public:
    explicit Committer(std::shared_ptr<RecordStore> store)
        : store_(std::move(store)), thread_([this] { run(); }) {}

    ~Committer() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

    // Only while idle: after wait_idle(), or once the last batch's `done` was called.
    void commit(std::vector<StoreRecord> batch, std::function<void(std::string)> done) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            batch_ = std::move(batch);
            done_ = std::move(done);
            busy_ = true;
        }
        wake_.notify_all();
    }

    // Blocks until the batch handed over, if any, is committed; "" or its error.
    std::string wait_idle() {
        std::unique_lock<std::mutex> lock(mutex_);
        idle_.wait(lock, [this] { return !busy_; });
        return last_error_;
    }

  private:
    void run() {
        name_this_thread("store-commit");
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return busy_ || stopping_; });
            if (!busy_) return;
            lock.unlock();
            std::string error;
            const auto started = std::chrono::steady_clock::now();
            try {
                store_->commit(batch_);
            } catch (const std::exception& e) {
                error = e.what();
                spdlog::error("store commit failed records={} error={}", batch_.size(), error);
            }
            spdlog::debug("store commit records={} us={}", batch_.size(),
                          std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count());
            batch_.clear();
            auto done = std::move(done_);
            lock.lock();
            last_error_ = error;
            busy_ = false;
            idle_.notify_all();
            lock.unlock();
            done(std::move(error));
            lock.lock();
        }
    }

    std::shared_ptr<RecordStore> store_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::vector<StoreRecord> batch_;
    std::function<void(std::string)> done_;
    std::string last_error_;
    bool busy_ = false;
    bool stopping_ = false;
    std::thread thread_;  // last: it starts in the constructor and uses everything above
};

void answer(Answers& answers, const std::string& error) {
    for (auto& [promise, outcome] : answers) {
        // Nothing of a failed batch is durable: its events must not be acknowledged.
        if (error.empty())
            promise.deliver(outcome);
        else
            promise.deliver(caf::make_error(caf::sec::runtime_error, error));
    }
    answers.clear();
}

// One message per shard for all of its tickets in the commit, in the order they came.
// Linear search over the few shards a commit's tickets come from.
void answer(TicketAnswers& answers, const std::string& error) {
    std::vector<std::pair<caf::actor, CommittedTickets>> by_shard;
    for (TicketAnswer& ticket : answers) {
        auto to = std::find_if(by_shard.begin(), by_shard.end(),
                               [&](const auto& shard) { return shard.first == ticket.reply_to; });
        if (to == by_shard.end()) {
            by_shard.emplace_back(std::move(ticket.reply_to), CommittedTickets{{}, error});
            to = std::prev(by_shard.end());
        }
        to->second.outcomes.push_back(ticket.outcome);
    }
    answers.clear();
    // Anonymous: also sent from the writer's cleanup at its end, when it sends nothing itself.
    for (auto& [shard, committed] : by_shard)
        caf::anon_send(shard, committed_atom::value, std::move(committed));
}

struct WriterState {
    explicit WriterState(std::shared_ptr<RecordStore> store) : committer(std::move(store)) {}

    std::vector<StoreRecord> gathering;
    Answers gathering_answers;
    Answers committing_answers;  // of the batch on the committer's thread
    TicketAnswers gathering_tickets;
    TicketAnswers committing_tickets;
    bool committing = false;
    bool flush_scheduled = false;
    Committer committer;
};

// Hands what was gathered to the committer, unless it is still busy with the last batch:
// then it goes as soon as that one is done.
void commit_gathered(caf::event_based_actor* self, WriterState& w) {
    if (w.committing || w.gathering.empty()) return;
    w.committing = true;
    w.committing_answers = std::move(w.gathering_answers);
    w.gathering_answers.clear();
    w.committing_tickets = std::move(w.gathering_tickets);
    w.gathering_tickets.clear();
    std::vector<StoreRecord> batch;
    batch.swap(w.gathering);
    w.committer.commit(std::move(batch), [writer = self->address()](std::string error) {
        if (auto alive = caf::actor_cast<caf::actor>(writer))
            caf::anon_send(alive, committed_atom::value, std::move(error));
    });
}

// After a record joined the batch being gathered: commit it when full, else by max_delay.
void gathered(caf::event_based_actor* self, WriterState& w, const GroupCommit& limits) {
    if (w.gathering.size() >= limits.max_batch) {
        commit_gathered(self, w);
    } else if (!w.flush_scheduled) {
        w.flush_scheduled = true;
        self->delayed_send(self, limits.max_delay, flush_atom::value);
    }
}

}  // namespace

caf::behavior store_writer(caf::event_based_actor* self, std::shared_ptr<RecordStore> store,
                           GroupCommit limits, AppliedIdRetention retention) {
    auto w = std::make_shared<WriterState>(store);
    // At the end the batch in flight is awaited and what was gathered committed here.
    self->attach_functor([w, store] {
        const std::string committed = w->committer.wait_idle();
        answer(w->committing_answers, committed);
        answer(w->committing_tickets, committed);
        if (w->gathering.empty()) return;
        std::string error;
        try {
            store->commit(w->gathering);
        } catch (const std::exception& e) {
            error = e.what();
            spdlog::error("store commit failed records={} error={}", w->gathering.size(), error);
        }
        answer(w->gathering_answers, error);
        answer(w->gathering_tickets, error);
    });
    self->send(self, purge_atom::value);
    return {
        [self, w, limits](commit_atom, StoreRecord& record, EventOutcome outcome) {
            w->gathering.push_back(std::move(record));
            // Only requests get an answer: "answering" a plain send would reach the sender
            // as an unexpected response, which it reflects back as an error.
            auto promise = self->make_response_promise();
            if (!promise.async()) w->gathering_answers.emplace_back(std::move(promise), outcome);
            gathered(self, *w, limits);
        },
        [self, w, limits](commit_atom, StoreRecord& record, EventOutcome outcome, Ticket ticket,
                          caf::actor& reply_to) {
            w->gathering.push_back(std::move(record));
            w->gathering_tickets.push_back({std::move(reply_to), {ticket, outcome}});
            gathered(self, *w, limits);
        },
        [self, w](flush_atom) {
            w->flush_scheduled = false;
            commit_gathered(self, *w);
        },
        [self, w](committed_atom, const std::string& error) {
            w->committing = false;
            answer(w->committing_answers, error);
            answer(w->committing_tickets, error);
            commit_gathered(self, *w);
        },
        [self](drain_atom) { self->quit(); },
        [self, store, retention](purge_atom) {
            try {
                const size_t forgotten = store->forget_applied_before(
                    retention.now() - retention.keep, retention.purge_slice);
                if (forgotten > 0) spdlog::info("applied event ids forgotten count={}", forgotten);
                // A full slice means more are due: the next slice after the batches queued now.
                if (forgotten == retention.purge_slice) {
                    self->send(self, purge_atom::value);
                    return;
                }
            } catch (const std::exception& e) {
                spdlog::error("purging applied event ids failed error={}", e.what());
            }
            self->delayed_send(self, retention.purge_every, purge_atom::value);
        },
    };
}

std::function<void(std::vector<std::string>)> forget_delivered(caf::actor store_writer) {
    return [store_writer](std::vector<std::string> decision_ids) {
        std::vector<TableWrite> erase;
        for (std::string& id : decision_ids)
            erase.push_back({Table::outbox, std::move(id), std::nullopt});
        caf::anon_send(store_writer, commit_atom::value, table_writes(std::move(erase)),
                       EventOutcome::accepted);
    };
}

std::function<void(DeadLetter)> park_dead_letter(caf::actor store_writer) {
    return [store_writer](DeadLetter dead) {
        std::vector<TableWrite> writes;
        writes.push_back({Table::outbox, dead.delivery.decision_id, std::nullopt});
        writes.push_back(
            {Table::dead_letters, dead.delivery.decision_id, encode_dead_letter(dead)});
        caf::anon_send(store_writer, commit_atom::value, table_writes(std::move(writes)),
                       EventOutcome::accepted);
    };
}

}  // namespace journeyd
