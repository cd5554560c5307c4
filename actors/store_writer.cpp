#include "actors/store_writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "actors/messages.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/thread_name.hpp"

namespace journeyd {
namespace {

// Who waits for one gathered record: the requester of a single event (promise), a shard for
// an event of its batch (reply_to and ticket), or nobody (a timer's record, or table writes
// sent without a request).
struct Waiter {
    // The customer actor whose state the record holds; none for table writes alone.
    caf::actor_addr customer_actor;
    caf::response_promise promise;  // pending() for a request
    caf::actor reply_to;            // set for a ticket
    TicketOutcome answer;           // the outcome; its ticket only with reply_to
};
using Waiters = std::vector<Waiter>;

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

    // Only while idle: after wait_idle(), or once the last batch's `done` was called. Takes
    // the batch and leaves in its place the last one, emptied but with its capacity: a batch
    // of thousands of records grown from nothing each time was reallocated a dozen times and
    // its fresh pages faulted in, a third of the writer's time at peak (docs/performance.md).
    void commit(std::vector<StoreRecord>& batch, std::function<void(std::string)> done) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            batch_.clear();  // already empty: cleared after a commit, taken after a failure
            batch_.swap(batch);
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

    // The batch whose commit just failed, once its `done` was called.
    std::vector<StoreRecord> take_failed() {
        std::lock_guard<std::mutex> lock(mutex_);
        return std::exchange(batch_, {});
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
                // The writer logs when the store starts and stops refusing commits; while it
                // refuses, it tries again every second.
                spdlog::debug("store commit failed records={} error={}", batch_.size(), error);
            }
            spdlog::debug("store commit records={} us={}", batch_.size(),
                          std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count());
            // A failed batch stays for take_failed(): its table writes must not be lost.
            if (error.empty()) batch_.clear();
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

caf::error commit_error(const std::string& error) {
    return caf::make_error(caf::sec::runtime_error, error);
}

// Requests in order; tickets with one message per shard for all of its tickets, in the order
// they came. Nothing of a failed batch is durable: its events must not be acknowledged.
void answer(Waiters& waiters, const std::string& error) {
    std::vector<std::pair<caf::actor, CommittedTickets>> by_shard;
    for (Waiter& waiter : waiters) {
        if (waiter.promise.pending()) {
            if (error.empty())
                waiter.promise.deliver(waiter.answer.outcome);
            else
                waiter.promise.deliver(commit_error(error));
        }
        if (!waiter.reply_to) continue;
        // Linear search over the few shards a commit's tickets come from.
        auto to = std::find_if(by_shard.begin(), by_shard.end(),
                               [&](const auto& shard) { return shard.first == waiter.reply_to; });
        if (to == by_shard.end()) {
            by_shard.emplace_back(std::move(waiter.reply_to), CommittedTickets{{}, error});
            to = std::prev(by_shard.end());
        }
        to->second.outcomes.push_back(waiter.answer);
    }
    waiters.clear();
    // Anonymous: also sent from the writer's cleanup at its end, when it sends nothing itself.
    for (auto& [shard, committed] : by_shard)
        caf::anon_send(shard, committed_atom::value, std::move(committed));
}

// The promise to answer the current message with, if it is a request: "answering" a plain
// send would reach the sender as an unexpected response, which it reflects back as an error.
caf::response_promise requester(caf::event_based_actor* self) {
    caf::response_promise promise = self->make_response_promise();
    return promise.async() ? caf::response_promise() : promise;
}

// Backing off between commits while the store refuses them (full): each failed attempt
// doubles the wait, up to kMaxRetryWait.
constexpr auto kFirstRetryWait = std::chrono::milliseconds(50);
constexpr auto kMaxRetryWait = std::chrono::milliseconds(1000);

struct WriterState {
    explicit WriterState(std::shared_ptr<RecordStore> store) : committer(std::move(store)) {}

    std::vector<StoreRecord> gathering;
    Waiters gathering_waiters;   // one per record of `gathering`
    Waiters committing_waiters;  // of the batch on the committer's thread
    bool committing = false;
    bool flush_scheduled = false;
    // Since a commit failed and until one succeeds: the error, and the wait before the next.
    std::string failing;
    std::chrono::milliseconds retry_wait{0};
    bool retry_scheduled = false;
    // Customers whose commit failed, and the actor that was told to restore them from the
    // store: until it says it did (restored_atom), its records rest on state that is not
    // stored, and fail. A successor actor (the customer passivated meanwhile) read the store.
    std::unordered_map<std::string, caf::actor_addr> restoring;
    Committer committer;
};

// Hands what was gathered to the committer, unless it is still busy with the last batch
// (then it goes as soon as that one is done) or a failed commit is waiting to be retried.
void commit_gathered(caf::event_based_actor* self, WriterState& w) {
    if (w.committing || w.retry_scheduled) return;
    // While failing, an empty batch probes whether the store takes commits again.
    if (w.gathering.empty() && w.failing.empty()) return;
    w.committing = true;
    // Answered and cleared since the last commit: the swap keeps both vectors' capacity.
    w.committing_waiters.clear();
    w.committing_waiters.swap(w.gathering_waiters);
    w.committer.commit(w.gathering, [writer = self->address()](std::string error) {
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

// Whether a record of `waiter`'s customer actor rests on state a failed commit left
// unstored; a record of another actor of that customer ends the restoring.
bool rests_on_failed(WriterState& w, const StoreRecord& record, const Waiter& waiter) {
    if (record.customer.empty() || w.restoring.empty()) return false;
    auto restoring = w.restoring.find(record.customer);
    if (restoring == w.restoring.end()) return false;
    if (restoring->second == waiter.customer_actor) return true;
    w.restoring.erase(restoring);
    return false;
}

// A customer's record that cannot be committed: its customer actor is told to restore its
// state from the store (before the answer goes, so that a retry the answer prompts comes
// after the restore), and its waiter gets the error.
void refuse(caf::event_based_actor* self, WriterState& w, const StoreRecord& record, Waiter& waiter,
            Waiters& refused) {
    if (!record.record.empty() && waiter.customer_actor) {
        auto [restoring, inserted] =
            w.restoring.try_emplace(record.customer, waiter.customer_actor);
        if (inserted || restoring->second != waiter.customer_actor) {
            restoring->second = waiter.customer_actor;
            if (auto actor = caf::actor_cast<caf::actor>(waiter.customer_actor))
                self->send(actor, restore_atom::value);
        }
    }
    refused.push_back(std::move(waiter));
}

// Table writes alone are kept through failed commits: the coordinator's decisions, the sinks'
// confirmations and dead letters must not be lost. Everything else is refused: a customer's
// record (its actor restores itself), and a barrier, whose sender (the coordinator ending, a
// customer passivating) must not wait for a store that may never take a commit again.
bool kept_through_failures(const StoreRecord& record) {
    return record.customer.empty() && !record.writes.empty();
}

// A record arrives: gathered, or refused at once while the store refuses commits or when it
// rests on state a failed commit left unstored.
void arrive(caf::event_based_actor* self, WriterState& w, const GroupCommit& limits,
            StoreRecord record, Waiter waiter) {
    if ((!w.failing.empty() && !kept_through_failures(record)) ||
        rests_on_failed(w, record, waiter)) {
        Waiters refused;
        refuse(self, w, record, waiter, refused);
        answer(refused, w.failing.empty() ? "customer " + record.customer +
                                                " is being restored after a failed commit"
                                          : w.failing);
        return;
    }
    w.gathering.push_back(std::move(record));
    w.gathering_waiters.push_back(std::move(waiter));
    gathered(self, w, limits);
}

// A commit failed: its customers' records, and every customer's record gathered since, are
// refused and their customers restored; its table writes alone (the coordinator's decisions,
// confirmed and parked deliveries) go first into the next attempt, after a back-off, so none
// is lost and their order holds.
void commit_failed(caf::event_based_actor* self, WriterState& w, const std::string& error) {
    std::vector<StoreRecord> failed = w.committer.take_failed();
    Waiters failed_waiters = std::exchange(w.committing_waiters, {});
    std::vector<StoreRecord> kept;
    Waiters kept_waiters;
    Waiters refused;
    auto sort = [&](std::vector<StoreRecord>& records, Waiters& waiters) {
        for (size_t i = 0; i < records.size(); ++i) {
            if (kept_through_failures(records[i])) {
                kept.push_back(std::move(records[i]));
                kept_waiters.push_back(std::move(waiters[i]));
            } else {
                refuse(self, w, records[i], waiters[i], refused);
            }
        }
    };
    sort(failed, failed_waiters);
    sort(w.gathering, w.gathering_waiters);
    answer(refused, error);
    w.gathering = std::move(kept);
    w.gathering_waiters = std::move(kept_waiters);
    if (w.failing.empty()) spdlog::error("store refuses commits error={}", error);
    w.failing = error;
    w.retry_wait = std::min(kMaxRetryWait, std::max(kFirstRetryWait, 2 * w.retry_wait));
    w.retry_scheduled = true;
    self->delayed_send(self, w.retry_wait, retry_atom::value);
}

}  // namespace

caf::behavior store_writer(caf::event_based_actor* self, std::shared_ptr<RecordStore> store,
                           GroupCommit limits, AppliedIdRetention retention) {
    auto w = std::make_shared<WriterState>(store);
    // At the end the batch in flight is awaited and what was gathered committed here.
    self->attach_functor([w, store] {
        const std::string committed = w->committer.wait_idle();
        answer(w->committing_waiters, committed);
        if (w->gathering.empty()) return;
        std::string error;
        try {
            store->commit(w->gathering);
        } catch (const std::exception& e) {
            error = e.what();
            spdlog::error("store commit failed records={} error={}", w->gathering.size(), error);
        }
        answer(w->gathering_waiters, error);
    });
    self->send(self, purge_atom::value);
    // A customer actor's own records: a fired timer's (sent) and its barrier before passivating
    // (requested). Otherwise table writes alone: the coordinator's (requested), the sinks' (sent).
    auto own_record = [self](StoreRecord& record, EventOutcome outcome) {
        Waiter waiter;
        if (!record.customer.empty())
            waiter.customer_actor = caf::actor_cast<caf::actor_addr>(self->current_sender());
        waiter.promise = requester(self);
        waiter.answer.outcome = outcome;
        return waiter;
    };
    return {
        [self, w, limits, own_record](commit_atom, StoreRecord& record, EventOutcome outcome) {
            Waiter waiter = own_record(record, outcome);
            arrive(self, *w, limits, std::move(record), std::move(waiter));
        },
        [self, w, limits](commit_atom, StoreRecord& record, EventOutcome outcome, Ticket ticket,
                          caf::actor& reply_to) {
            Waiter waiter;
            waiter.customer_actor = caf::actor_cast<caf::actor_addr>(self->current_sender());
            waiter.reply_to = std::move(reply_to);
            waiter.answer = {ticket, outcome};
            arrive(self, *w, limits, std::move(record), std::move(waiter));
        },
        // Records that must be durable together (an identify's merge): gathered as one, so no
        // commit holds some of them; answered once, after the commit that holds them all.
        [self, w, limits](commit_atom, std::vector<StoreRecord>& records, EventOutcome outcome) {
            Waiters waiters(records.size());
            if (!waiters.empty()) {
                waiters.back().promise = requester(self);
                waiters.back().answer.outcome = outcome;
            }
            if (!w->failing.empty()) return answer(waiters, w->failing);
            for (size_t i = 0; i < records.size(); ++i) {
                w->gathering.push_back(std::move(records[i]));
                w->gathering_waiters.push_back(std::move(waiters[i]));
            }
            gathered(self, *w, limits);
        },
        [self, w](flush_atom) {
            w->flush_scheduled = false;
            commit_gathered(self, *w);
        },
        [self, w](committed_atom, const std::string& error) {
            w->committing = false;
            if (!error.empty()) return commit_failed(self, *w, error);
            if (!w->failing.empty()) spdlog::info("store takes commits again");
            w->failing.clear();
            w->retry_wait = std::chrono::milliseconds(0);
            answer(w->committing_waiters, error);
            commit_gathered(self, *w);
        },
        [self, w](retry_atom) {
            w->retry_scheduled = false;
            commit_gathered(self, *w);
        },
        [self, w](restored_atom, const std::string& customer) {
            auto restoring = w->restoring.find(customer);
            if (restoring != w->restoring.end() &&
                restoring->second == caf::actor_cast<caf::actor_addr>(self->current_sender()))
                w->restoring.erase(restoring);
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
