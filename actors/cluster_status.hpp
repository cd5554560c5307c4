// What this node knows of every cluster member, for /cluster: the peer actors write their
// member's entry on every change of state, with each heartbeat and each exchange of counters,
// the rate borrower the node's budgets; admin threads read a copy. A lock, not a message, so
// that reading never waits on a busy actor.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/duration.hpp"
#include "state/pressure/rate_lease.hpp"

namespace journeyd {

enum class MemberState { self, connecting, up, down };

constexpr std::string_view to_string(MemberState state) {
    switch (state) {
        case MemberState::self:
            return "self";
        case MemberState::connecting:
            return "connecting";
        case MemberState::up:
            return "up";
        case MemberState::down:
            return "down";
    }
    return "?";
}

struct MemberStatus {
    std::string name;
    std::string address;  // HOST:PORT of its middleman
    MemberState state = MemberState::connecting;
    TimeMs since = 0;        // when it entered `state`
    std::string reason;      // why it is down (or why the last attempt failed)
    uint64_t attempts = 0;   // connect attempts since it was last up
    uint64_t forwarded = 0;  // events and questions forwarded to it and answered
    uint64_t refused = 0;    // events and questions for its customers this node answered
                             // with an error
    TimeMs counters_at = 0;  // when its store counters last came (RemoteCounters); 0: never
};

// Thread-safety: every method from any thread; one mutex guards all the state.
class ClusterStatus {
  public:
    explicit ClusterStatus(std::vector<MemberStatus> members) : members_(std::move(members)) {}

    void publish(size_t index, const MemberStatus& status) {
        std::lock_guard<std::mutex> lock(mutex_);
        members_[index] = status;
    }
    std::vector<MemberStatus> snapshot() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return members_;
    }

    // This node's rate budgets now, and until when its lease runs (0: the floor alone).
    void publish_rates(ChannelRates rates, TimeMs lease_until) {
        std::lock_guard<std::mutex> lock(mutex_);
        rates_ = std::move(rates);
        lease_until_ = lease_until;
    }
    std::pair<ChannelRates, TimeMs> rates() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return {rates_, lease_until_};
    }

  private:
    mutable std::mutex mutex_;
    std::vector<MemberStatus> members_;
    ChannelRates rates_;
    TimeMs lease_until_ = 0;
};

}  // namespace journeyd
