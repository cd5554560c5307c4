// This node's part in a cluster (`[cluster]`, docs/cluster.md): it publishes the gateway on
// the middleman port, spawns a peer actor for every other member and the connector they
// connect through, routes each customer's messages to its owner (CustomerRouter), and
// borrows its share of the rate budgets (actors/rate_borrower.hpp; the first member lends).
// Its peers keep the other members' store counters in ClusterLocal::remote_counters.
// Without [cluster] members it is a single node: router() is the local one, nothing is
// published and members() lists this node alone.
//
// The constructor throws std::runtime_error when the middleman port cannot be opened.
// Stopping: drain() first (the gateway answers what it took and refuses the rest), stop()
// once the node no longer forwards anything.
//
// Thread-safety: members(), rates() and fingerprint() from any thread (admin threads read
// them: ClusterStatus locks, the fingerprint never changes); the rest from the daemon's thread.
#pragma once

#include <caf/all.hpp>
#include <functional>
#include <memory>
#include <vector>

#include "actors/cluster_status.hpp"
#include "actors/customer_router.hpp"
#include "config/config.hpp"
#include "config/live_config.hpp"
#include "runtime/cluster/cluster_connector.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct ClusterLocal {
    ShardRouter shards;
    caf::actor coordinator;
    std::shared_ptr<const RecordStore> store;
    std::shared_ptr<const LiveConfigs> configs;
    caf::actor config_applier;  // takes the steps of a change posted to another member
    std::function<TimeMs()> now;
    // Where the peers report the other members' counters; null on a single node.
    std::shared_ptr<RemoteCounters> remote_counters;
};

class Cluster {
  public:
    Cluster(caf::actor_system& system, const Config& config, ClusterLocal local);
    ~Cluster();

    const CustomerRouter& router() const { return router_; }
    std::vector<MemberStatus> members() const { return status_->snapshot(); }
    std::pair<ChannelRates, TimeMs> rates() const { return status_->rates(); }
    uint64_t fingerprint() const { return ownership_.fingerprint(); }

    void drain();
    void stop();

  private:
    caf::actor_system& system_;
    ClusterOwnership ownership_;
    std::shared_ptr<ClusterStatus> status_;
    std::unique_ptr<ClusterConnector> connector_;
    caf::actor gateway_;
    std::vector<caf::actor> peers_;
    caf::actor borrower_;
    CustomerRouter router_;
};

// A copy of `policy` whose global rate budgets are this node's floor in a cluster of
// `members` nodes (state/pressure/rate_lease.hpp); unchanged without [cluster].
PressurePolicy node_share(PressurePolicy policy, size_t members);

}  // namespace journeyd
