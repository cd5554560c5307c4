// Another member of the cluster, as this node sees it: the stand-in for that member's
// customers, and the keeper of the connection to it.
//
// Stand-in: CustomerRouter sends it what it would send a local shard or coordinator for a
// customer the member owns (and the rate borrower its lease requests, for the first member); the
// peer forwards it to the member's gateway (actors/cluster_gateway.hpp) through the middleman and
// answers with what comes back, in the same types a local actor would. While the member is not up,
// every such request is answered at once with an error naming the member and why it is down: never
// queued, never dropped quietly. A forwarded request that gets no answer in `forward_timeout` is
// answered with an error saying the outcome is unknown (the event may have been committed there;
// sending it again is safe, event ids make it idempotent).
//
// Connection: attempts run on a connector's thread (`connect`,
// runtime/cluster/cluster_connector.hpp) and come back as (connected_atom, actor gateway,
// std::string name, uint64_t fingerprint) or (unreachable_atom, std::string reason). A member
// answering under another name, or with another member list (fingerprint), is not used: two
// lists could give a customer two owners. Up, the peer monitors the gateway (a lost connection
// is a down_msg) and says hello every `heartbeat`; no answer within `connect_timeout` counts as
// down, since a hung process keeps its TCP connection. Down, it tries again after 100 ms,
// doubling to 5 s.
//
// Counters: up, the peer asks the member's store counters at once and then every
// `exchange_every` (counters_atom, the question the admin API asks for GET /segments too) and
// reports them to `remote_counters`; down, it stops asking, and what the member reported last
// stays there (state/cluster/remote_counters.hpp says why).
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "actors/cluster_status.hpp"
#include "config/config.hpp"
#include "config/live_config.hpp"
#include "state/cluster/remote_counters.hpp"

namespace journeyd {

struct PeerSetup {
    ClusterMember member;
    size_t index = 0;  // of the member in the list, and in ClusterStatus
    std::string self_name;
    uint64_t fingerprint = 0;
    std::shared_ptr<const LiveConfigs> configs;  // reads forwarded customers back
    std::function<void(const caf::actor& peer, const ClusterMember& member)> connect;
    std::shared_ptr<ClusterStatus> status;            // holds the member's first entry at `index`
    std::shared_ptr<RemoteCounters> remote_counters;  // the member's reports go to `index`
    std::function<TimeMs()> now;
    std::chrono::milliseconds forward_timeout{10'000};
    std::chrono::milliseconds connect_timeout{2'000};
    std::chrono::milliseconds heartbeat{1'000};
    std::chrono::milliseconds exchange_every{2'000};
};

caf::behavior cluster_peer(caf::event_based_actor* self, PeerSetup setup);

}  // namespace journeyd
