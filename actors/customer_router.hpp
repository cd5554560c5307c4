// Where the messages about one customer go: on a single node, to the customer's shard and
// to the coordinator; in a cluster, to those of this node when it owns the customer
// (ClusterOwnership), else to the peer actor standing in for the owner
// (actors/cluster_peer.hpp), which answers the same messages from the other node.
//
//   customer(id):    (event_atom, Event) -> EventOutcome, (lookup_atom, id) -> CustomerLookup
//   coordinator(id): (decisions_atom, id), (contacts_atom, id)
//   record(id):      nullptr when the store of this node holds the customer, else the peer,
//                    which answers (record_atom, id) -> StoredRecord
#pragma once

#include <caf/all.hpp>
#include <string_view>
#include <vector>

#include "actors/customer_shard.hpp"
#include "state/cluster_ownership.hpp"

namespace journeyd {

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

    bool is_local(std::string_view customer) const {
        return peers_.empty() || ownership_.owns(customer);
    }
    const caf::actor& customer(std::string_view id) const {
        return is_local(id) ? shards_.shard_for(id) : peer_of(id);
    }
    const caf::actor& coordinator(std::string_view id) const {
        return is_local(id) ? coordinator_ : peer_of(id);
    }
    const ShardRouter& shards() const { return shards_; }

  private:
    const caf::actor& peer_of(std::string_view id) const { return peers_[ownership_.owner_of(id)]; }

    ShardRouter shards_;
    caf::actor coordinator_;
    ClusterOwnership ownership_;
    std::vector<caf::actor> peers_;
};

}  // namespace journeyd
