#include "actors/cluster_peer.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/event_codec.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/journey/identity.hpp"

namespace journeyd {
namespace {

constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kLastRetry{5'000};

class Peer {
  public:
    Peer(caf::event_based_actor* self, PeerSetup setup)
        : self_(self), setup_(std::move(setup)), status_(setup_.status->snapshot()[setup_.index]) {}

    void connect() {
        ++status_.attempts;
        setup_.connect(caf::actor_cast<caf::actor>(self_), setup_.member);
    }

    void on_connected(caf::actor gateway, const std::string& name, uint64_t fingerprint) {
        if (name != setup_.member.name)
            return on_unreachable("it answers as " + name + ", not as " + setup_.member.name);
        if (fingerprint != setup_.fingerprint)
            return on_unreachable(
                "its [cluster] members differ from this node's; customers could have two "
                "owners, so nothing is forwarded to it");
        gateway_ = std::move(gateway);
        self_->monitor(gateway_);
        retry_after_ = kFirstRetry;
        spdlog::info("cluster: member up name={} address={} attempts={}", status_.name,
                     status_.address, status_.attempts);
        status_.attempts = 0;
        status_.reason.clear();
        enter(MemberState::up);
        self_->delayed_send(self_, setup_.heartbeat, heartbeat_atom::value, generation_);
        exchange(generation_);
    }

    void on_unreachable(const std::string& reason) {
        // Logged when the member goes down or the reason changes, not at every retry.
        if (status_.state != MemberState::down || status_.reason != reason)
            spdlog::warn("cluster: member unreachable name={} address={} reason=\"{}\"",
                         status_.name, status_.address, reason);
        status_.reason = reason;
        enter(MemberState::down);
        self_->delayed_send(self_, retry_after_, reconnect_atom::value);
        retry_after_ = std::min(retry_after_ * 2, kLastRetry);
    }

    void on_down(const caf::down_msg& down) {
        if (!gateway_ || down.source != gateway_.address()) return;
        lost("connection lost: " + describe(self_->system(), down.reason));
    }

    void heartbeat(uint64_t generation) {
        if (generation != generation_ || !gateway_) return;
        self_
            ->request(gateway_, setup_.connect_timeout, hello_atom::value, setup_.self_name,
                      setup_.fingerprint)
            .then(
                [this, generation](const std::string&, uint64_t) {
                    if (generation != generation_) return;
                    setup_.status->publish(setup_.index, status_);
                    self_->delayed_send(self_, setup_.heartbeat, heartbeat_atom::value, generation);
                },
                [this, generation](caf::error& error) {
                    if (generation != generation_) return;
                    lost("no answer to a heartbeat within " +
                         std::to_string(setup_.connect_timeout.count()) +
                         " ms: " + describe(self_->system(), error));
                });
    }

    // Asks the member's counters for RemoteCounters, then again `exchange_every` after the
    // answer (or the error), so that a slow member never has two questions pending. The
    // exchange of a connection since lost ends here: the new one runs its own.
    void exchange(uint64_t generation) {
        if (generation != generation_ || !gateway_) return;
        auto again = [this, generation] {
            self_->delayed_send(self_, setup_.exchange_every, exchange_atom::value, generation);
        };
        self_->request(gateway_, setup_.forward_timeout, counters_atom::value)
            .then(
                [this, generation, again](const std::string& bytes) {
                    // An answer from before a reconnect may be older than one reported since.
                    if (generation != generation_) return;
                    auto counters = read_counters(bytes);
                    if (counters) {
                        setup_.remote_counters->report(setup_.index, *counters);
                        status_.counters_at = setup_.now();
                        setup_.status->publish(setup_.index, status_);
                    } else {
                        spdlog::warn("cluster: {}", describe(self_->system(), counters.error()));
                    }
                    again();
                },
                // A member that does not answer is the heartbeat's to notice; its last
                // counters stay.
                [again](const caf::error&) { again(); });
    }

    caf::expected<StoreCounters> read_counters(const std::string& bytes) const {
        std::string error;
        auto counters = decode_counters(bytes, error);
        if (!counters)
            return caf::make_error(caf::sec::runtime_error,
                                   "counters from " + status_.name + ": " + error);
        return std::move(*counters);
    }

    // Forwards `message` (about `count` events or questions, for the status counters) to the
    // member's gateway, whose reply is of types Reply..., and answers with convert(reply...)
    // -> caf::expected<Answer>; refuses at once when the member is not up.
    template <class Answer, class... Reply, class Convert, class... Message>
    caf::result<Answer> forward(const std::string& about, uint64_t count,
                                caf::detail::type_list<Reply...>, Convert convert,
                                Message&&... message) {
        if (!gateway_) {
            status_.refused += count;
            // request_receiver_down: not sent (an identify's merge tells it from no answer).
            return caf::make_error(caf::sec::request_receiver_down, refusal(about));
        }
        auto promise = self_->make_response_promise<Answer>();
        self_->request(gateway_, setup_.forward_timeout, std::forward<Message>(message)...)
            .then(
                [this, promise, convert, count](Reply&... reply) mutable {
                    status_.forwarded += count;
                    caf::expected<Answer> answer = convert(reply...);
                    if (answer)
                        promise.deliver(std::move(*answer));
                    else
                        promise.deliver(std::move(answer.error()));
                },
                [this, promise, about, count](caf::error& error) mutable {
                    status_.refused += count;
                    // request_timeout: sent, outcome unknown (an identify's merge is asked again).
                    promise.deliver(caf::make_error(
                        caf::sec::request_timeout,
                        "no answer from cluster member " + status_.name + " about " + about + " (" +
                            describe(self_->system(), error) +
                            "); the outcome there is unknown, sending the event again is safe"));
                });
        return promise;
    }

    // A batch of events (one frame's for this member): each event of a member that is not up
    // is answered with the refusal for its customer, not the batch with one error.
    caf::result<std::vector<EventResult>> forward_events(const std::vector<Event>& events) {
        if (!gateway_) {
            status_.refused += events.size();
            std::vector<EventResult> refused(events.size());
            for (size_t i = 0; i < events.size(); ++i)
                refused[i].error = refusal("customer " + events[i].customer);
            return refused;
        }
        const std::string about = events.size() == 1 ? "customer " + events[0].customer
                                                     : std::to_string(events.size()) + " events";
        return forward<std::vector<EventResult>>(
            about, events.size(), caf::detail::type_list<std::string>{},
            [](const std::string& bytes) -> caf::expected<std::vector<EventResult>> {
                std::string error;
                auto results = decode_event_results(bytes, error);
                if (!results) return caf::make_error(caf::sec::runtime_error, error);
                return std::move(*results);
            },
            event_atom::value, pack_events(events));
    }

    std::shared_ptr<const JourneyEngine> engine() const {
        return setup_.configs->current()->engine;
    }

    // A step of a cluster-wide configuration change: "" once done there, else why not.
    template <class Atom>
    caf::result<std::string> configure(Atom atom, const std::string& argument) {
        return forward<std::string>(
            "a configuration change", 0, caf::detail::type_list<std::string>{},
            [](const std::string& answer) -> caf::expected<std::string> { return answer; }, atom,
            argument);
    }

    // Decisions or contacts of a customer: the member sends them as a history holding only
    // that part. One that does not read back is an error, not an empty list.
    template <class Atom, class Part>
    caf::result<Part> history_part(Atom atom, const std::string& id, Part PressureHistory::*part) {
        return forward<Part>(
            "customer " + id, 1, caf::detail::type_list<std::string>{},
            [this, id, part](const std::string& bytes) -> caf::expected<Part> {
                std::string error;
                auto history = decode_history(bytes, id, engine()->model(), error);
                if (!history)
                    return caf::make_error(caf::sec::runtime_error, "history from " + status_.name +
                                                                        " unreadable: " + error);
                return std::move((*history).*part);
            },
            atom, id);
    }

  private:
    // `about`: "customer ID".
    std::string refusal(const std::string& about) const {
        return about + " belongs to cluster member " + status_.name + ", which is " +
               std::string(to_string(status_.state)) +
               (status_.reason.empty() ? "" : " (" + status_.reason + ")") +
               "; nothing was applied, send it again once the member is up";
    }

    void lost(const std::string& reason) {
        if (gateway_) self_->demonitor(gateway_);
        gateway_ = nullptr;
        ++generation_;
        on_unreachable(reason);
    }

    void enter(MemberState state) {
        if (status_.state != state) status_.since = setup_.now();
        status_.state = state;
        setup_.status->publish(setup_.index, status_);
    }

    caf::event_based_actor* self_;
    PeerSetup setup_;
    MemberStatus status_;
    caf::actor gateway_;
    uint64_t generation_ = 0;  // of the connection: stale heartbeats are ignored
    std::chrono::milliseconds retry_after_ = kFirstRetry;
};

}  // namespace

caf::behavior cluster_peer(caf::event_based_actor* self, PeerSetup setup) {
    auto peer = std::make_shared<Peer>(self, std::move(setup));
    self->set_down_handler([peer](caf::down_msg& down) { peer->on_down(down); });
    peer->connect();
    return {
        [peer](reconnect_atom) { peer->connect(); },
        [peer](connected_atom, caf::actor& gateway, const std::string& name, uint64_t fingerprint) {
            peer->on_connected(std::move(gateway), name, fingerprint);
        },
        [peer](unreachable_atom, const std::string& reason) { peer->on_unreachable(reason); },
        [peer](heartbeat_atom, uint64_t generation) { peer->heartbeat(generation); },
        [peer](exchange_atom, uint64_t generation) { peer->exchange(generation); },
        [peer](counters_atom atom) {
            return peer->forward<StoreCounters>(
                "its store counters", 0, caf::detail::type_list<std::string>{},
                [peer](const std::string& bytes) { return peer->read_counters(bytes); }, atom);
        },
        [peer](event_atom, const std::vector<Event>& events) {
            return peer->forward_events(events);
        },
        [peer](lookup_atom, const std::string& id) {
            return peer->forward<CustomerLookup>(
                "customer " + id, 1, caf::detail::type_list<bool, std::string, std::string>{},
                [peer, id](bool found, const std::string& bytes,
                           const std::string& aliases) -> caf::expected<CustomerLookup> {
                    CustomerLookup lookup;
                    if (!found) return lookup;
                    std::string error;
                    const auto engine = peer->engine();
                    auto state = decode_customer(bytes, engine->model(), error);
                    auto listed = decode_alias_list(aliases, error);
                    if (!state || !listed)
                        return caf::make_error(caf::sec::runtime_error,
                                               "customer " + id + " unreadable: " + error);
                    lookup.found = true;
                    lookup.state = std::move(*state);
                    lookup.aliases = std::move(*listed);
                    lookup.under = engine;
                    return lookup;
                },
                lookup_atom::value, id);
        },
        [peer](decisions_atom atom, const std::string& id) {
            return peer->history_part(atom, id, &PressureHistory::decisions);
        },
        [peer](merge_atom atom, const MergeIn& in) {
            return peer->forward<MergeDone>(
                "customer " + in.into, 1, caf::detail::type_list<std::string>{},
                [](const std::string& canonical) -> caf::expected<MergeDone> {
                    return MergeDone{canonical};
                },
                atom, encode_merge_in(in));
        },
        [peer](contacts_atom atom, const std::string& id) {
            return peer->history_part(atom, id, &PressureHistory::sends);
        },
        [peer](lease_atom atom, uint64_t member, const std::string& demand) {
            return peer->forward<std::string>(
                "the rate lease", 0, caf::detail::type_list<std::string>{},
                [](const std::string& lease) { return lease; }, atom, member, demand);
        },
        [peer](record_atom atom, const std::string& id) {
            return peer->forward<StoredRecord>(
                "customer " + id, 1, caf::detail::type_list<bool, std::string>{},
                [](bool found, const std::string& bytes) {
                    return StoredRecord{found ? std::optional<std::string>(bytes) : std::nullopt};
                },
                atom, id);
        },
        [peer](config_prepare_atom atom, const std::string& text) {
            return peer->configure(atom, text);
        },
        [peer](config_commit_atom atom, const std::string& version) {
            return peer->configure(atom, version);
        },
        [peer](config_abort_atom atom, const std::string& version) {
            return peer->configure(atom, version);
        },
    };
}

}  // namespace journeyd
