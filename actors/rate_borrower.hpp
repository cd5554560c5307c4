// This node's side of the cluster's rate-budget leases (state/pressure/rate_lease.hpp): every
// `every` it asks the coordinator what was asked of each budgeted channel, reports that
// demand to the lender and sets the coordinator's budgets to floor + lease; when a lease
// runs out without a new one (the lender is unreachable), back to the floor alone. What it
// sets is published on ClusterStatus for /cluster.
//
// The lender is the first member's gateway: through that member's peer, or this node's own
// gateway when it is the first member. It answers (lease_atom, uint64_t member,
// std::string encode_rates demand) -> std::string encode_rates lease.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "actors/cluster_status.hpp"
#include "state/pressure/rate_lease.hpp"

namespace journeyd {

struct BorrowerSetup {
    ChannelRates floor;
    uint64_t member = 0;  // this node's index in the member list
    caf::actor lender;
    caf::actor coordinator;
    std::shared_ptr<ClusterStatus> status;
    std::function<TimeMs()> now;
    DurationMs term = 3'000;
    std::chrono::milliseconds every{1'000};
};

caf::behavior rate_borrower(caf::event_based_actor* self, BorrowerSetup setup);

}  // namespace journeyd
