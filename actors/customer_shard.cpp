#include "actors/customer_shard.hpp"

#include <spdlog/spdlog.h>
#include <unordered_map>

#include "actors/messages.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {

namespace {

// A request that arrived while its customer was passivating: resumed with the successor
// actor, or failed when none can be made.
struct Waiting {
    std::function<void(const caf::actor&)> resume;
    std::function<void(const caf::error&)> fail;
};

struct Entry {
    caf::actor actor;
    TimeMs last_used = 0;
    bool passivating = false;
    // Requests that arrived while the actor was passivating, replayed in order to its
    // successor once the old actor is gone (so two actors never hold one customer).
    std::vector<Waiting> waiting;
};

// A batch of events (one request), answered together once every event's result is in.
// Its events travel as tickets {batch id, slot}; their outcomes come back from the store
// writer, several to a message (committed_atom).
struct Batch {
    caf::response_promise promise;
    std::vector<EventResult> results;
    // Per slot: the id of the customer actor its ticket went to, so that the tickets of an
    // actor that ends unexpectedly can be failed; 0 while it waits for a successor actor.
    std::vector<caf::actor_id> held_by;
    std::vector<bool> done;
    size_t outstanding = 0;
};

struct Registry {
    std::unordered_map<std::string, Entry> by_id;
    std::unordered_map<caf::actor_addr, std::string> id_of;
};

class Shard {
  public:
    Shard(caf::event_based_actor* self, std::shared_ptr<const CustomerContext> context)
        : self_(self), context_(std::move(context)) {}

    // Routes a request for `id` to its actor, activating one if needed; the answer comes
    // from the actor (delegation) or, while the customer is passivating, later.
    caf::result<caf::message> route(const std::string& id, caf::message request,
                                    IfUnknown if_unknown) {
        auto it = registry_.by_id.find(id);
        if (it != registry_.by_id.end() && it->second.passivating) {
            auto promise = self_->make_response_promise();
            it->second.waiting.push_back(
                {[promise, request](const caf::actor& actor) mutable {
                     promise.delegate(actor, std::move(request));
                 },
                 [promise](const caf::error& error) mutable { promise.deliver(error); }});
            return promise;
        }
        if (it == registry_.by_id.end()) {
            auto initial = stored_customer(*context_, id, if_unknown);
            if (!initial) return initial.error();
            if (!*initial) return caf::make_message(CustomerLookup{});
            it = activate(std::move(**initial));
        }
        it->second.last_used = context_->now();
        return self_->delegate(it->second.actor, std::move(request));
    }

    // A batch of events: each goes to its customer with a ticket; the batch is answered
    // with one EventResult per event, in batch order, once all are in.
    caf::response_promise batch(std::vector<Event>& events) {
        auto promise = self_->make_response_promise();
        if (events.empty()) {
            promise.deliver(std::vector<EventResult>());
            return promise;
        }
        const uint64_t id = next_batch_++;
        Batch& batch = batches_[id];
        batch.promise = promise;
        batch.results.resize(events.size());
        batch.held_by.assign(events.size(), caf::invalid_actor_id);
        batch.done.assign(events.size(), false);
        batch.outstanding = events.size();
        // `batch` is not used below: the last event may complete (and erase) it at once.
        for (size_t i = 0; i < events.size(); ++i)
            deliver(std::move(events[i]), Ticket{id, static_cast<uint32_t>(i)});
        return promise;
    }

    // The store writer's outcomes for tickets of this shard, after a commit.
    void committed(CommittedTickets& committed) {
        for (const TicketOutcome& outcome : committed.outcomes) {
            EventResult result;
            // The commit's own text, as the single-event path answers it (describe()).
            if (!committed.error.empty())
                result.error = committed.error;
            else
                result.duplicate = outcome.outcome == EventOutcome::duplicate;
            finish(outcome.ticket, std::move(result));
        }
    }

    // From the timer sweeper: the customer, activated from its record if need be, is told to
    // fire what is due. It schedules wake-ups only within its idle horizon
    // (customer_actor.cpp), and an index entry may be early (StoreRecord::index_lower_bound):
    // its answer to the call puts the entry right.
    void wake(const std::string& id) {
        if (const caf::actor* actor = stored_actor(id, "timer cannot fire"))
            self_->send(*actor, wakeup_atom::value, kSweeperWakeup);
    }

    // Unlike a due timer, which the successor finds in its record, a notice held back here
    // would wait for the next start: one for a passivating customer goes to its successor.
    void announce(const GoalNotice& notice) {
        auto live = registry_.by_id.find(notice.customer);
        if (live != registry_.by_id.end() && live->second.passivating) {
            live->second.waiting.push_back(
                {[self = self_, notice](const caf::actor& actor) {
                     self->send(actor, notice_atom::value, notice);
                 },
                 [notice](const caf::error& error) {
                     spdlog::warn("action notice not taken customer={} decision_id={} error={}",
                                  notice.customer, notice.decision_id, caf::to_string(error));
                 }});
            return;
        }
        if (const caf::actor* actor = stored_actor(notice.customer, "action notice not taken"))
            self_->send(*actor, notice_atom::value, notice);
    }

    // The live actor of a stored customer, activated if need be; null when the customer is
    // not stored, is passivating, or cannot be read (logged with `failure`).
    const caf::actor* stored_actor(const std::string& id, const char* failure) {
        auto live = registry_.by_id.find(id);
        if (live != registry_.by_id.end() && live->second.passivating) return nullptr;
        if (live == registry_.by_id.end()) {
            auto initial = stored_customer(*context_, id, IfUnknown::skip);
            if (!initial) {
                spdlog::warn("{} customer={} error={}", failure, id,
                             caf::to_string(initial.error()));
                return nullptr;
            }
            if (!*initial) return nullptr;
            live = activate(std::move(**initial));
        }
        return &live->second.actor;
    }

    // Asks every customer idle since before `idle_since` to passivate.
    void passivate_idle(TimeMs idle_since) {
        size_t asked = 0;
        for (auto& [id, entry] : registry_.by_id) {
            if (entry.passivating || entry.last_used >= idle_since) continue;
            entry.passivating = true;
            self_->send(entry.actor, passivate_atom::value);
            ++asked;
        }
        if (asked > 0) spdlog::debug("passivating customers={}", asked);
    }

    void on_down(const caf::down_msg& down) {
        if (down.source == context_->store_writer.address()) return writer_ended(down.reason);
        auto id = registry_.id_of.find(down.source);
        if (id == registry_.id_of.end()) return;
        --context_->metrics->customers_live;
        auto entry = registry_.by_id.find(id->second);
        const bool passivated = entry->second.passivating;
        if (passivated) ++context_->metrics->passivations;
        if (!passivated)
            spdlog::warn("customer actor ended customer={} reason={}", id->second,
                         caf::to_string(down.reason));
        // A passivated actor ended normally only after the store writer committed all it was
        // sent, so its tickets' outcomes are on their way. Otherwise some may never come.
        if (!passivated || down.reason)
            fail_tickets_of(down.source.id(),
                            caf::make_error(caf::sec::runtime_error,
                                            "customer " + id->second +
                                                " ended before its event was committed: " +
                                                caf::to_string(down.reason)));
        auto waiting = std::move(entry->second.waiting);
        const std::string customer = std::move(id->second);
        registry_.by_id.erase(entry);
        registry_.id_of.erase(id);
        if (waiting.empty()) return;
        auto initial = stored_customer(*context_, customer, IfUnknown::create);
        if (!initial) {
            for (Waiting& request : waiting) request.fail(initial.error());
            return;
        }
        auto revived = activate(std::move(**initial));
        revived->second.last_used = context_->now();
        for (Waiting& request : waiting) request.resume(revived->second.actor);
    }

    void end_all() {
        for (auto& [id, entry] : registry_.by_id)
            caf::anon_send_exit(entry.actor, caf::exit_reason::user_shutdown);
    }

  private:
    // One event of a batch: routed like route() does, but sent with its ticket rather than
    // asked, so that its outcome comes back in the store writer's message for the commit.
    void deliver(Event event, Ticket ticket) {
        // Its commit would go nowhere: a plain message to an ended actor is dropped unanswered.
        if (writer_gone_) return finish(ticket, failed(writer_gone_));
        const std::string id = event.customer;
        auto it = registry_.by_id.find(id);
        if (it != registry_.by_id.end() && it->second.passivating) {
            auto shared = std::make_shared<Event>(std::move(event));
            it->second.waiting.push_back(
                {[this, shared, ticket](const caf::actor& actor) {
                     send_ticket(actor, std::move(*shared), ticket);
                 },
                 [this, ticket](const caf::error& error) { finish(ticket, failed(error)); }});
            return;
        }
        if (it == registry_.by_id.end()) {
            auto initial = stored_customer(*context_, id, IfUnknown::create);
            if (!initial) return finish(ticket, failed(initial.error()));
            it = activate(std::move(**initial));
        }
        it->second.last_used = context_->now();
        send_ticket(it->second.actor, std::move(event), ticket);
    }

    void send_ticket(const caf::actor& customer, Event event, Ticket ticket) {
        auto batch = batches_.find(ticket.batch);
        if (batch == batches_.end() || batch->second.done[ticket.slot]) return;
        batch->second.held_by[ticket.slot] = customer.id();
        self_->send(customer, event_atom::value, std::move(event), ticket);
    }

    // The result of a ticket's event; the batch is answered once it has all of them. A
    // ticket already failed (its customer actor ended) keeps its failure.
    void finish(Ticket ticket, EventResult result) {
        auto it = batches_.find(ticket.batch);
        if (it == batches_.end()) return;
        Batch& batch = it->second;
        if (ticket.slot >= batch.done.size() || batch.done[ticket.slot]) return;
        batch.done[ticket.slot] = true;
        batch.held_by[ticket.slot] = caf::invalid_actor_id;
        batch.results[ticket.slot] = std::move(result);
        if (--batch.outstanding > 0) return;
        batch.promise.deliver(std::move(batch.results));
        batches_.erase(it);
    }

    // Only when a customer actor ends unexpectedly, so a scan of every batch in flight.
    void fail_tickets_of(caf::actor_id actor, const caf::error& error) {
        std::vector<Ticket> held;
        for (const auto& [id, batch] : batches_)
            for (size_t slot = 0; slot < batch.held_by.size(); ++slot)
                if (batch.held_by[slot] == actor) held.push_back({id, static_cast<uint32_t>(slot)});
        for (const Ticket& ticket : held) finish(ticket, failed(error));
    }

    // The store writer ends after the shards when the daemon stops, so this is a failure: no
    // ticket with a customer will be answered, nor any later one.
    void writer_ended(const caf::error& reason) {
        spdlog::error("store writer ended reason={}", caf::to_string(reason));
        writer_gone_ = caf::make_error(caf::sec::runtime_error,
                                       "the store writer ended: " + caf::to_string(reason));
        std::vector<Ticket> held;
        for (const auto& [id, batch] : batches_)
            for (size_t slot = 0; slot < batch.held_by.size(); ++slot)
                if (batch.held_by[slot] != caf::invalid_actor_id)
                    held.push_back({id, static_cast<uint32_t>(slot)});
        for (const Ticket& ticket : held) finish(ticket, failed(writer_gone_));
    }

    EventResult failed(const caf::error& error) const {
        EventResult result;
        result.error = describe(self_->system(), error);
        return result;
    }

    std::unordered_map<std::string, Entry>::iterator activate(CustomerState initial) {
        std::string id = initial.id;
        auto actor = self_->spawn(customer_actor, context_, std::move(initial));
        self_->monitor(actor);
        ++context_->metrics->customers_live;
        registry_.id_of.emplace(actor.address(), id);
        return registry_.by_id
            .emplace(std::move(id), Entry{std::move(actor), context_->now(), false, {}})
            .first;
    }

    caf::event_based_actor* self_;
    std::shared_ptr<const CustomerContext> context_;
    Registry registry_;
    std::unordered_map<uint64_t, Batch> batches_;
    uint64_t next_batch_ = 0;
    caf::error writer_gone_;  // set once the store writer ended
};

}  // namespace

caf::behavior customer_shard(caf::event_based_actor* self,
                             std::shared_ptr<const CustomerContext> context) {
    auto shard = std::make_shared<Shard>(self, context);
    self->set_down_handler([shard](caf::down_msg& down) { shard->on_down(down); });
    // Tickets are answered by the store writer alone: if it ends, the shard must fail them.
    if (context->store_writer) self->monitor(context->store_writer);
    // Customers are not linked to their shard (one failing customer must not take its shard
    // down), so the shard ends them itself when it ends.
    self->attach_functor([shard] { shard->end_all(); });
    const DurationMs idle_after = context->idle_after;
    // A quarter of idle_after between checks: a customer ends at most 1.25 × idle_after after
    // its last message.
    const auto check_idle_later = [self, every = std::max<DurationMs>(idle_after / 4, 50)] {
        self->delayed_send(self, std::chrono::milliseconds(every), passivate_idle_atom::value);
    };
    if (idle_after > 0) check_idle_later();
    return {
        [shard](event_atom atom, Event& event) {
            const std::string id = event.customer;
            return shard->route(id, caf::make_message(atom, std::move(event)), IfUnknown::create);
        },
        [shard](event_atom, std::vector<Event>& events) { return shard->batch(events); },
        [shard](committed_atom, CommittedTickets& committed) { shard->committed(committed); },
        [shard](lookup_atom atom, const std::string& id) {
            return shard->route(id, caf::make_message(atom), IfUnknown::skip);
        },
        [shard](timer_due_atom, const std::string& id) { shard->wake(id); },
        [shard](notice_atom, const GoalNotice& notice) { shard->announce(notice); },
        [shard, context, idle_after, check_idle_later](passivate_idle_atom) {
            shard->passivate_idle(context->now() - idle_after);
            check_idle_later();
        },
    };
}

ShardRouter::ShardRouter(caf::actor_system& system, std::shared_ptr<const CustomerContext> context,
                         size_t shard_count) {
    for (size_t i = 0; i < std::max<size_t>(1, shard_count); ++i)
        shards_.push_back(system.spawn(customer_shard, context));
}

const caf::actor& ShardRouter::shard_for(std::string_view customer) const {
    // Salted so shard choice is independent of other uses of the same hash.
    return shards_[stable_hash(customer, stable_hash("shard")) % shards_.size()];
}

}  // namespace journeyd
