#include "actors/cluster_gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "actors/coordinator.hpp"
#include "actors/messages.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/event_codec.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/journey/identity.hpp"

namespace journeyd {
namespace {

class Gateway {
  public:
    Gateway(caf::event_based_actor* self, GatewaySetup setup)
        : self_(self), setup_(std::move(setup)) {}

    // The error for a request this node must not take, or none.
    caf::error refusal(const std::string& customer) const {
        const std::string& self_name = setup_.ownership.members()[setup_.ownership.self()];
        if (draining_)
            return caf::make_error(caf::sec::runtime_error, "node " + self_name + " is stopping");
        if (!setup_.ownership.owns(customer))
            return caf::make_error(
                caf::sec::runtime_error,
                "node " + self_name + " does not own customer " + customer + " (owner: " +
                    setup_.ownership.members()[setup_.ownership.owner_of(customer)] + ")");
        return {};
    }

    // Asks a local actor and answers the peer with `convert` (Answer&) -> caf::message;
    // counts the request as in flight until then.
    template <class Answer, class Convert, class... Message>
    caf::result<caf::message> relay(const caf::actor& whom, Convert convert, Message&&... message) {
        auto promise = self_->make_response_promise();
        ++in_flight_;
        self_->request(whom, setup_.timeout, std::forward<Message>(message)...)
            .then(
                [this, promise, convert](Answer& answer) mutable {
                    promise.deliver(convert(answer));
                    answered();
                },
                [this, promise](caf::error& error) mutable {
                    promise.deliver(std::move(error));
                    answered();
                });
        return promise;
    }

    // A forwarded batch: its events go to their shards, one batch request a shard (each
    // answered once all its events are in, see customer_shard.hpp); the answer, one
    // EventResult per event in batch order, goes back once every event is committed or has
    // failed.
    caf::result<caf::message> events(const std::string& packed) {
        DecodedRequest decoded = decode_request_body(packed, setup_.now(), kMaxForwardedDepth);
        if (!decoded.frame_error.empty())
            return caf::make_error(caf::sec::runtime_error,
                                   "forwarded events unreadable: " + decoded.frame_error);
        auto batch = std::make_shared<Batch>();
        batch->promise = self_->make_response_promise();
        batch->results.resize(decoded.size);
        for (const EventError& invalid : decoded.errors)
            batch->results[invalid.index].error = invalid.error;
        // One batch per shard (a handful: a linear search finds them).
        struct ShardBatch {
            const caf::actor* shard;
            std::vector<Event> events;
            std::vector<size_t> slots;  // their places in batch->results
        };
        std::vector<ShardBatch> by_shard;
        for (size_t i = 0; i < decoded.events.size(); ++i) {
            Event& event = decoded.events[i];
            if (auto refused = refusal(event.customer)) {
                batch->results[decoded.index[i]].error = describe(self_->system(), refused);
                continue;
            }
            const caf::actor* shard = &setup_.shards.shard_for(event.customer);
            auto to = std::find_if(by_shard.begin(), by_shard.end(),
                                   [&](const ShardBatch& b) { return b.shard == shard; });
            if (to == by_shard.end())
                to = by_shard.insert(by_shard.end(), ShardBatch{shard, {}, {}});
            to->events.push_back(std::move(event));
            to->slots.push_back(decoded.index[i]);
        }
        batch->outstanding = by_shard.size() + 1;  // + 1 until all are sent
        ++in_flight_;
        for (ShardBatch& to : by_shard) {
            auto slots = std::make_shared<std::vector<size_t>>(std::move(to.slots));
            self_->request(*to.shard, setup_.timeout, event_atom::value, std::move(to.events))
                .then(
                    [this, batch, slots](std::vector<EventResult>& results) {
                        for (size_t k = 0; k < slots->size(); ++k) {
                            EventResult& result = batch->results[(*slots)[k]];
                            if (k < results.size())
                                result = std::move(results[k]);
                            else
                                result.error = "no result from the shard";
                        }
                        finish_one(*batch);
                    },
                    [this, batch, slots](caf::error& error) {
                        const std::string why = describe(self_->system(), error);
                        for (size_t slot : *slots) batch->results[slot].error = why;
                        finish_one(*batch);
                    });
        }
        finish_one(*batch);
        return batch->promise;
    }

    caf::result<caf::message> lookup(const std::string& id) {
        if (auto refused = refusal(id)) return refused;
        return relay<CustomerLookup>(
            setup_.shards.shard_for(id),
            [this](CustomerLookup& found) {
                return caf::make_message(found.found,
                                         found.found
                                             ? encode_customer(found.state, found.under->model())
                                             : std::string(),
                                         encode_alias_list(found.aliases));
            },
            lookup_atom::value, id);
    }

    // Decisions or contacts (`atom`) of the customer, as a history holding only those.
    template <class Atom>
    caf::result<caf::message> history(Atom atom, const std::string& id) {
        if (auto refused = refusal(id)) return refused;
        using List = std::conditional_t<std::is_same_v<Atom, decisions_atom>, std::vector<Decision>,
                                        std::vector<Contact>>;
        return relay<List>(
            setup_.coordinator,
            [this](List& list) {
                PressureHistory history;
                if constexpr (std::is_same_v<Atom, decisions_atom>)
                    history.decisions = std::move(list);
                else
                    history.sends = std::move(list);
                return caf::make_message(encode_history(history, engine()->model()));
            },
            atom, id);
    }

    // A merge into a customer of this member, from the alias's member.
    caf::result<caf::message> merge(const std::string& packed) {
        std::string error;
        auto in = decode_merge_in(packed, error);
        if (!in) return caf::make_error(caf::sec::runtime_error, error);
        if (auto refused = refusal(in->into)) return refused;
        const caf::actor& shard = setup_.shards.shard_for(in->into);
        return relay<MergeDone>(
            shard, [](MergeDone& done) { return caf::make_message(done.canonical); },
            merge_atom::value, std::move(*in));
    }

    caf::result<caf::message> record(const std::string& id) {
        if (auto refused = refusal(id)) return refused;
        std::optional<std::string> stored = setup_.store->read(id);
        return caf::make_message(stored.has_value(), stored.value_or(std::string()));
    }

    // Answered while draining too: a read of the store, nothing to finish.
    std::string counters() const { return encode_counters(setup_.store->stats().counters); }

    caf::result<std::string> lease(uint64_t member, const std::string& demand) {
        if (!setup_.lender)
            return caf::make_error(caf::sec::runtime_error, "this member lends no rate budget");
        std::string error;
        auto asked = decode_rates(demand, error);
        if (!asked) return caf::make_error(caf::sec::runtime_error, error);
        return encode_rates(setup_.lender->lend(member, *asked, setup_.now()));
    }

    template <class Atom>
    caf::result<caf::message> configure(Atom atom, const std::string& argument) {
        if (!setup_.config_applier)
            return caf::make_error(caf::sec::runtime_error,
                                   "this member cannot take configuration changes");
        return self_->delegate(setup_.config_applier, atom, argument);
    }

    caf::result<caf::unit_t> drain() {
        draining_ = true;
        if (in_flight_ == 0) return caf::unit;
        drained_.push_back(self_->make_response_promise<caf::unit_t>());
        return drained_.back();
    }

  private:
    struct Batch {
        caf::response_promise promise;
        std::vector<EventResult> results;
        size_t outstanding = 0;
    };

    void finish_one(Batch& batch) {
        if (--batch.outstanding > 0) return;
        batch.promise.deliver(encode_event_results(batch.results));
        answered();
    }

    std::shared_ptr<const JourneyEngine> engine() const {
        return setup_.configs->current()->engine;
    }

    void answered() {
        if (--in_flight_ > 0) return;
        for (auto& promise : drained_) promise.deliver(caf::unit);
        drained_.clear();
    }

    caf::event_based_actor* self_;
    GatewaySetup setup_;
    size_t in_flight_ = 0;
    bool draining_ = false;
    std::vector<caf::typed_response_promise<caf::unit_t>> drained_;
};

}  // namespace

caf::behavior cluster_gateway(caf::event_based_actor* self, GatewaySetup setup) {
    const std::string name = setup.ownership.members()[setup.ownership.self()];
    const uint64_t fingerprint = setup.ownership.fingerprint();
    auto gateway = std::make_shared<Gateway>(self, std::move(setup));
    return {
        [name, fingerprint, warned = std::set<std::string>()](
            hello_atom, const std::string& from,
            uint64_t theirs) mutable -> caf::result<std::string, uint64_t> {
            // It says hello again at every retry: warned about once.
            if (theirs != fingerprint && warned.insert(from).second)
                spdlog::warn(
                    "cluster: {} has another [cluster] members list; neither side forwards to "
                    "the other",
                    from);
            return {name, fingerprint};
        },
        [gateway](event_atom, const std::string& packed) { return gateway->events(packed); },
        [gateway](lookup_atom, const std::string& id) { return gateway->lookup(id); },
        [gateway](decisions_atom atom, const std::string& id) {
            return gateway->history(atom, id);
        },
        [gateway](contacts_atom atom, const std::string& id) { return gateway->history(atom, id); },
        [gateway](record_atom, const std::string& id) { return gateway->record(id); },
        [gateway](merge_atom, const std::string& packed) { return gateway->merge(packed); },
        [gateway](counters_atom) { return gateway->counters(); },
        [gateway](lease_atom, uint64_t member, const std::string& demand) {
            return gateway->lease(member, demand);
        },
        [gateway](config_prepare_atom atom, const std::string& text) {
            return gateway->configure(atom, text);
        },
        [gateway](config_commit_atom atom, const std::string& version) {
            return gateway->configure(atom, version);
        },
        [gateway](config_abort_atom atom, const std::string& version) {
            return gateway->configure(atom, version);
        },
        [gateway](drain_atom) { return gateway->drain(); },
    };
}

}  // namespace journeyd
