// This node's door for the other cluster members, published on its middleman port. Peers
// (actors/cluster_peer.hpp) forward what their clients asked about customers this node
// owns; the gateway hands it to the local shards, coordinator or store and answers. Only
// CAF's built-in types cross the middleman: events, customers and histories travel as the
// msgpack bytes of state/ (pack_events, encode_customer, encode_history).
//
// Events come in batches (one per frame and owner) and are answered once each is committed
// here, so a client of another node gets its acknowledgement on the same terms as a client
// of this one. A customer this node does not own under its member list is refused: peers
// with another list are already turned away at hello, this is the last guard against a
// customer living on two nodes.
//
// Messages (all but drain from peers, through the middleman):
//   (hello_atom, std::string from, uint64_t fingerprint)
//       -> (std::string name, uint64_t fingerprint)
//   (event_atom, std::string pack_events bytes)
//       -> std::string encode_event_results bytes, once each event is committed or failed
//   (lookup_atom, std::string id) -> (bool found, std::string encode_customer bytes)
//   (decisions_atom | contacts_atom, std::string id) -> std::string encode_history bytes
//   (record_atom, std::string id) -> (bool found, std::string stored record)
//   (counters_atom) -> std::string encode_counters bytes: this node's store counters
//   (lease_atom, uint64_t member, std::string encode_rates demand)
//       -> std::string encode_rates lease (the lender only, state/pressure/rate_lease.hpp)
//   (config_prepare_atom | config_commit_atom | config_abort_atom, std::string)
//       -> std::string: delegated to the configuration applier (actors/messages.hpp)
//   (drain_atom) -> caf::unit_t once every request taken is answered; later ones are refused
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "actors/customer_shard.hpp"
#include "config/live_config.hpp"
#include "state/cluster/cluster_ownership.hpp"
#include "state/pressure/rate_lease.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct GatewaySetup {
    ClusterOwnership ownership;
    ShardRouter shards;
    caf::actor coordinator;
    std::shared_ptr<const RecordStore> store;
    std::shared_ptr<const LiveConfigs> configs;  // the configuration in force
    caf::actor config_applier;  // takes the steps of a cluster-wide configuration change
    std::function<TimeMs()> now;
    std::chrono::milliseconds timeout{10'000};  // for the local actors' answers
    std::optional<RateLender> lender;           // on the first member only
};

caf::behavior cluster_gateway(caf::event_based_actor* self, GatewaySetup setup);

}  // namespace journeyd
