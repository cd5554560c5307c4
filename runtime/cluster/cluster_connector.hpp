// Connects to cluster members on a thread of its own, so that no actor and no scheduler
// thread of the node ever waits on the network.
//
// CAF 0.17's middleman connects with a blocking connect() inside its own actor (upstream
// #1162), and its BASP handshake has no timeout (#504). So every attempt goes in three steps,
// each with the deadline `timeout`:
//   1. a TCP probe of our own (non-blocking connect and poll), which turns away the
//      unreachable addresses that would hold the middleman for the kernel's SYN timeout;
//   2. the middleman's connect, asked with a deadline rather than through the blocking
//      remote_actor(); it answers from its cache while the connection stands and connects
//      anew once the member's gateway is gone, which is how a restarted member is found
//      again (#546);
//   3. a hello to the member's gateway, which gives its name and member-list fingerprint.
// The result goes to the asking peer actor as (connected_atom, actor, name, fingerprint) or
// (unreachable_atom, reason). Attempts run one at a time, in the order asked.
//
// Thread-safety: connect() from any thread (peer actors) and stop() from the daemon's; mutex_
// guards the queue, and the attempts run on the connector's own thread.
//
// Left as it is: a handshake that hangs (the member accepts TCP, then never answers) stays
// pending inside the middleman, which cannot cancel it; later attempts to that address join
// it and time out too, until the member closes the connection. The member is reported down
// meanwhile, which is the truth.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.hpp"

namespace journeyd {

class ClusterConnector {
  public:
    ClusterConnector(caf::actor_system& system, std::string self_name, uint64_t fingerprint,
                     std::chrono::milliseconds timeout);
    ~ClusterConnector();

    // Queues an attempt and returns at once; the peer hears of its result.
    void connect(caf::actor peer, ClusterMember member);
    // Ends the thread after the attempt under way; queued ones are dropped.
    void stop();

  private:
    struct Attempt {
        caf::actor peer;
        ClusterMember member;
    };

    void run();
    void attempt(const Attempt& attempt);

    caf::actor_system& system_;
    const std::string self_name_;
    const uint64_t fingerprint_;
    const std::chrono::milliseconds timeout_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Attempt> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

// "" when a TCP connection to host:port opens within `deadline`, else why not.
std::string probe_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds deadline);

}  // namespace journeyd
