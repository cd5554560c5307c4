#include "actors/customer_shard.hpp"

#include <spdlog/spdlog.h>
#include <unordered_map>

#include "actors/messages.hpp"
#include "state/codec/customer_codec.hpp"
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

// The results of a batch of events, answered together once all are in.
struct BatchResults {
    caf::response_promise promise;
    std::vector<EventResult> results;
    size_t outstanding = 0;
};

struct Registry {
    std::unordered_map<std::string, Entry> by_id;
    std::unordered_map<caf::actor_addr, std::string> id_of;
};

enum class IfUnknown { create, skip };

// The customer's state to start an actor with: restored from its stored record, or a new
// customer's (IfUnknown::create). nullopt for an unknown id with IfUnknown::skip; an error
// when the stored record cannot be read back.
caf::expected<std::optional<CustomerState>> initial_state(const CustomerContext& context,
                                                          const std::string& id,
                                                          IfUnknown if_unknown) {
    if (auto record = context.store->read(id)) {
        std::string error;
        auto restored = decode_customer(*record, context.engine->model(), error);
        if (!restored) {
            spdlog::error("stored customer unreadable customer={} error={}", id, error);
            return caf::make_error(caf::sec::runtime_error,
                                   "stored state of customer " + id + " is unreadable: " + error);
        }
        return std::optional<CustomerState>(std::move(*restored));
    }
    if (if_unknown == IfUnknown::skip) return std::optional<CustomerState>();
    CustomerState fresh;
    fresh.id = id;
    return std::optional<CustomerState>(std::move(fresh));
}

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
            auto initial = initial_state(*context_, id, if_unknown);
            if (!initial) return initial.error();
            if (!*initial) return caf::make_message(CustomerLookup{});
            it = activate(std::move(**initial));
        }
        it->second.last_used = context_->now();
        return self_->delegate(it->second.actor, std::move(request));
    }

    // One event of a batch: routed like route() does, but its answer comes back here and
    // goes to `done`, so that the batch is answered once.
    void deliver(Event event, std::function<void(EventResult)> done) {
        const std::string id = event.customer;
        auto it = registry_.by_id.find(id);
        if (it != registry_.by_id.end() && it->second.passivating) {
            auto shared = std::make_shared<Event>(std::move(event));
            it->second.waiting.push_back(
                {[this, shared, done](const caf::actor& actor) {
                     ask(actor, std::move(*shared), done);
                 },
                 [this, done](const caf::error& error) { done(failed(error)); }});
            return;
        }
        if (it == registry_.by_id.end()) {
            auto initial = initial_state(*context_, id, IfUnknown::create);
            if (!initial) return done(failed(initial.error()));
            it = activate(std::move(**initial));
        }
        it->second.last_used = context_->now();
        ask(it->second.actor, std::move(event), std::move(done));
    }

    // From the timer sweeper: the customer, activated from its record if need be, is told to
    // fire what is due. It schedules wake-ups only within its idle horizon
    // (customer_actor.cpp), and an index entry may be early (StoreRecord::index_lower_bound):
    // its answer to the call puts the entry right.
    void wake(const std::string& id) {
        auto live = registry_.by_id.find(id);
        if (live != registry_.by_id.end() && live->second.passivating) return;
        if (live == registry_.by_id.end()) {
            auto initial = initial_state(*context_, id, IfUnknown::skip);
            if (!initial) {
                spdlog::warn("timer of customer {} cannot fire: {}", id,
                             caf::to_string(initial.error()));
                return;
            }
            if (!*initial) return;
            live = activate(std::move(**initial));
        }
        self_->send(live->second.actor, wakeup_atom::value, kSweeperWakeup);
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
        auto id = registry_.id_of.find(down.source);
        if (id == registry_.id_of.end()) return;
        --context_->metrics->customers_live;
        auto entry = registry_.by_id.find(id->second);
        const bool passivated = entry->second.passivating;
        if (passivated) ++context_->metrics->passivations;
        if (!passivated)
            spdlog::warn("customer actor ended customer={} reason={}", id->second,
                         caf::to_string(down.reason));
        auto waiting = std::move(entry->second.waiting);
        const std::string customer = std::move(id->second);
        registry_.by_id.erase(entry);
        registry_.id_of.erase(id);
        if (waiting.empty()) return;
        auto initial = initial_state(*context_, customer, IfUnknown::create);
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
    // The customer's own answer comes once the event is committed (the store writer answers).
    void ask(const caf::actor& customer, Event event, std::function<void(EventResult)> done) {
        self_->request(customer, caf::infinite, event_atom::value, std::move(event))
            .then(
                [done](EventOutcome outcome) {
                    EventResult result;
                    result.duplicate = outcome == EventOutcome::duplicate;
                    done(std::move(result));
                },
                [this, done](caf::error& error) { done(failed(error)); });
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
};

}  // namespace

caf::behavior customer_shard(caf::event_based_actor* self,
                             std::shared_ptr<const CustomerContext> context) {
    auto shard = std::make_shared<Shard>(self, context);
    self->set_down_handler([shard](caf::down_msg& down) { shard->on_down(down); });
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
        [self, shard](event_atom, std::vector<Event>& events) {
            auto batch = std::make_shared<BatchResults>();
            batch->promise = self->make_response_promise();
            batch->results.resize(events.size());
            batch->outstanding = events.size();
            if (events.empty()) batch->promise.deliver(std::move(batch->results));
            for (size_t i = 0; i < events.size(); ++i)
                shard->deliver(std::move(events[i]), [batch, i](EventResult result) {
                    batch->results[i] = std::move(result);
                    if (--batch->outstanding == 0)
                        batch->promise.deliver(std::move(batch->results));
                });
            return batch->promise;
        },
        [shard](lookup_atom atom, const std::string& id) {
            return shard->route(id, caf::make_message(atom), IfUnknown::skip);
        },
        [shard](timer_due_atom, const std::string& id) { shard->wake(id); },
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
