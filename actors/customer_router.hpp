// Where the messages about one customer go: on a single node, to the customer's shard and
// to the coordinator; in a cluster, to those of this node when it owns the customer
// (ClusterOwnership), else to the peer actor standing in for the owner
// (actors/cluster_peer.hpp), which answers the same messages from the other node.
//
//   customer(id), this node's shard: (event_atom, Event) -> EventOutcome,
//                    (lookup_atom, id) -> CustomerLookup
//   customer(id), a peer: (event_atom, std::vector<Event>) -> std::vector<EventResult> (a
//                    member takes events in batches), (lookup_atom, id) -> CustomerLookup,
//                    (record_atom, id) -> StoredRecord
//   coordinator(id): (decisions_atom, id), (contacts_atom, id)
#pragma once

#include <caf/all.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/customer_shard.hpp"
#include "state/cluster/cluster_ownership.hpp"

namespace journeyd {

// Thread-safety: immutable once built; ingest relays on every scheduler thread and admin
// threads route through it at once.
class CustomerRouter {
  public:
    CustomerRouter() = default;
    CustomerRouter(ShardRouter shards, caf::actor coordinator)
        : shards_(std::move(shards)), coordinator_(std::move(coordinator)) {}
    // peers[i] stands in for ownership.members()[i]; peers[ownership.self()] is unused.
    CustomerRouter(ShardRouter shards, caf::actor coordinator, ClusterOwnership ownership,
                   std::vector<caf::actor> peers)
        : shards_(std::move(shards)),
          coordinator_(std::move(coordinator)),
          ownership_(std::move(ownership)),
          peers_(std::move(peers)) {}

    // Where messages about customer `id` go, and whether that is this node's shard.
    struct Route {
        const caf::actor& to;
        bool local;
    };
    Route route(std::string_view id) const {
        if (peers_.empty()) return {shards_.shard_for(id), true};
        const size_t owner = ownership_.owner_of(id);
        if (owner == ownership_.self()) return {shards_.shard_for(id), true};
        return {peers_[owner], false};
    }
    bool is_local(std::string_view id) const { return route(id).local; }
    const caf::actor& customer(std::string_view id) const { return route(id).to; }
    const caf::actor& coordinator(std::string_view id) const {
        const Route to = route(id);
        return to.local ? coordinator_ : to.to;
    }
    const ShardRouter& shards() const { return shards_; }
    // Every other member's name and peer, in list order; empty on a single node.
    std::vector<std::pair<std::string, caf::actor>> peers() const {
        std::vector<std::pair<std::string, caf::actor>> others;
        for (size_t i = 0; i < peers_.size(); ++i)
            if (i != ownership_.self()) others.emplace_back(ownership_.members()[i], peers_[i]);
        return others;
    }
    // The owner's member name in a cluster; nullopt on a single node.
    std::optional<std::string> owner_name(std::string_view id) const {
        if (peers_.empty()) return std::nullopt;
        return ownership_.members()[ownership_.owner_of(id)];
    }

  private:
    ShardRouter shards_;
    caf::actor coordinator_;
    ClusterOwnership ownership_;
    std::vector<caf::actor> peers_;
};

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CustomerRouter)
