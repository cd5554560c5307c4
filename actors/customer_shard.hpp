// Customer shards: the registry that finds (or creates) the actor of a customer.
//
// Each shard owns the customers whose id hashes to it (ShardRouter::shard_for). It finds a
// customer's actor, or activates one: from the customer's stored record when the store has
// one (after a restart), else, for an event, as a new customer. Requests for that id are
// delegated to the actor, so the answer comes straight from the customer; events go as
// tickets, below, a single one as a batch of one.
// A stored record that cannot be read back under the current configuration is an error
// answer, never a silently fresh customer.
// Several shards keep one registry from being the bottleneck of every event.
//
// Messages:
//   (event_atom, Event)             -> EventOutcome (sent on as a batch of one)
//   (event_atom, std::vector<Event>) -> std::vector<EventResult>, in batch order: a frame's
//                                      events of this shard, answered once all are committed
//                                      (or failed). Each event goes to its customer with a
//                                      Ticket, not as a request: its outcome comes back in
//                                      the store writer's committed_atom message, one per
//                                      commit. A customer actor that ends unexpectedly fails
//                                      its tickets, and so does the store writer for all
//                                      (the shard monitors it); none is left unanswered.
//   (committed_atom, CommittedTickets) from the store writer: outcomes of this shard's tickets
//   (lookup_atom, std::string id)   -> CustomerLookup; found = false for an unknown id
//   (timer_due_atom, std::string id)   activates a stored customer whose timer is due
//   (notice_atom, GoalNotice)     activates the stored customer and hands it the notice
#pragma once

#include <caf/all.hpp>
#include <memory>
#include <string_view>
#include <vector>

#include "actors/customer_actor.hpp"

namespace journeyd {

caf::behavior customer_shard(caf::event_based_actor* self,
                             std::shared_ptr<const CustomerContext> context);

// Thread-safety: immutable once built; the sweeper, ingest relays, the gateway and admin
// threads call shard_for() at once.
class ShardRouter {
  public:
    ShardRouter() = default;
    ShardRouter(caf::actor_system& system, std::shared_ptr<const CustomerContext> context,
                size_t shard_count);

    // The shards of another router: the same customer goes to the same shard.
    explicit ShardRouter(std::vector<caf::actor> shards) : shards_(std::move(shards)) {}

    const caf::actor& shard_for(std::string_view customer) const;
    const std::vector<caf::actor>& shards() const { return shards_; }

  private:
    std::vector<caf::actor> shards_;
};

}  // namespace journeyd
