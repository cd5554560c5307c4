// The store counters (StoreStats::counters: customers per stage and per segment, action
// outcomes) that the other members of a cluster last reported, summed: what decisions that learn
// from the whole cluster (learned propensities) add to this node's own counters.
//
// Each peer actor (actors/cluster_peer.hpp) asks its member for its counters every 2 s while the
// member is up and reports the answer here. The sum holds, for each other member, the counters
// it reported last: a member that goes down keeps counting with its last-known values, because
// its customers still exist and their counts change only through that member, so dropping them
// would swing every cluster-wide rate while it restarts. A member that never reported counts
// nothing. This node's own counters are never in the sum; callers add them from the local store.
//
// Thread-safety: every method from any thread. One mutex guards the members' reports; the sum is
// an immutable map replaced whole at each report, so a reader holds its snapshot as long as it
// likes without a lock, and never sees half of an update.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace journeyd {

// Counter key (as in the store's counters table) -> count.
using StoreCounters = std::map<std::string, int64_t>;

class RemoteCounters {
  public:
    // `members`: the size of the member list; reports are by a member's place in it.
    explicit RemoteCounters(size_t members);

    // `counters` are now member `member`'s; they replace what it reported before.
    void report(size_t member, const StoreCounters& counters);

    // The sum over every member's last report: every key any of them reported.
    std::shared_ptr<const StoreCounters> sum() const;

  private:
    mutable std::mutex mutex_;
    std::vector<StoreCounters> reported_;  // by member
    std::shared_ptr<const StoreCounters> sum_;
};

// Counters as they cross the middleman: a msgpack map key -> integer (keys are bytes, NULs
// included).
std::string encode_counters(const StoreCounters& counters);
std::optional<StoreCounters> decode_counters(std::string_view bytes, std::string& error);

}  // namespace journeyd
