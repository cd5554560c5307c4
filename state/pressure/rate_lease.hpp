// Global rate budgets ([pressure.rate]) shared across a cluster by lease.
//
// Each channel's budget R is split in two halves. Every node always owns a floor of
// R / 2 / N (floor_rates) that no lease is needed for. The other half, the pool, is lent by
// one node, the lender (the first member of the list), for `term` at a time: each node asks
// every second, reporting its demand (requests per second that asked the channel for a
// slot), and gets pool × its demand / all demand, or pool / N while nobody asks for
// anything, but never more than what other unexpired leases leave of the pool. So the
// unexpired leases never sum to more than the pool, and floors plus leases never to more
// than R, at every moment and whatever the network does. A borrower counts its lease from
// when it asked, so its lease ends before the lender's record of it.
//
// When the lender cannot be reached, leases run out and every node is back at its floor:
// the budget is under-used (half of it) until the lender is back, never exceeded. There is
// deliberately no second lender: in a partition two lenders would each lend the whole pool.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/duration.hpp"

namespace journeyd {

using ChannelRates = std::map<std::string, double>;  // channel -> per second

// The share of each budget that is lent; the rest is split evenly as floors.
inline constexpr double kLentShare = 0.5;

ChannelRates floor_rates(const ChannelRates& budgets, size_t members);

// Not thread-safe: owned by the first member's gateway actor, which takes every member's
// request in turn.
class RateLender {
  public:
    RateLender(ChannelRates budgets, size_t members, DurationMs term);

    // Records `member`'s demand and returns its lease: per channel, what it may send per
    // second on top of its floor until `now + term` (its own clock: from when it asked).
    ChannelRates lend(size_t member, const ChannelRates& demand, TimeMs now);

  private:
    struct Lease {
        double rate = 0;
        double demand = 0;
        TimeMs until = 0;
    };

    ChannelRates budgets_;
    size_t members_;
    DurationMs term_;
    std::map<std::string, std::vector<Lease>> leases_;  // per channel, per member
};

// A lease or a demand report as it crosses the middleman: a msgpack map channel -> number.
std::string encode_rates(const ChannelRates& rates);
std::optional<ChannelRates> decode_rates(std::string_view bytes, std::string& error);

}  // namespace journeyd
