// Customer shards: the registry that finds (or creates) the actor of a customer.
//
// Each shard owns the customers whose id hashes to it (ShardRouter::shard_for). It spawns
// a customer's actor on the first event for that id and delegates every message for that
// id to it, so the answer comes straight from the customer (or, for events, from the
// store writer after commit). Several shards keep one registry from being the bottleneck
// of every event in the process.
//
// Messages:
//   (event_atom, Event)             -> EventOutcome (delegated to the customer)
//   (lookup_atom, std::string id)   -> CustomerLookup; found = false for an unknown id
//   (lookup_atom)                   -> size_t, customers live in this shard
#pragma once

#include <caf/all.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "actors/customer_actor.hpp"

namespace journeyd {

caf::behavior customer_shard(caf::event_based_actor* self,
                             std::shared_ptr<const CustomerContext> context);

class ShardRouter {
  public:
    ShardRouter() = default;
    ShardRouter(caf::actor_system& system, std::shared_ptr<const CustomerContext> context,
                size_t shard_count);

    const caf::actor& shard_for(std::string_view customer) const;
    const std::vector<caf::actor>& shards() const { return shards_; }

  private:
    std::vector<caf::actor> shards_;
};

}  // namespace journeyd
