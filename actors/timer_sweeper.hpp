// The timer sweeper: fires timers of customers that have no live actor. Every `interval`
// it asks the store's timer index which customers have a timer due and sends each one's
// shard (timer_due_atom, id); the shard activates the customer from its record if it is not
// live, and tells it to fire what is due; its commit moves its index entry on. Live
// customers are called too: they schedule their own wake-ups only within their idle
// horizon, and an index entry may be earlier than their timer (index_lower_bound).
//
// This is what makes a restart cheap: nothing is loaded at start, customers come back
// when an event, an admin read or one of their timers needs them.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "actors/customer_shard.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct SweeperSetup {
    std::shared_ptr<RecordStore> store;
    ShardRouter router;
    std::function<TimeMs()> now;
    std::chrono::milliseconds interval{500};
    size_t batch = 10'000;  // customers woken per slice at most
    // A full slice is followed by the next this soon, so a backlog of due timers drains at
    // up to batch / next_slice_after (200,000 a second) instead of batch per interval.
    std::chrono::milliseconds next_slice_after{50};
};

caf::behavior timer_sweeper(caf::event_based_actor* self, SweeperSetup setup);

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::DueTimer)
