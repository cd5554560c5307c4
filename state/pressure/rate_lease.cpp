#include "state/pressure/rate_lease.hpp"

#include "state/codec/msgpack_read.hpp"

namespace journeyd {

ChannelRates floor_rates(const ChannelRates& budgets, size_t members) {
    ChannelRates floors;
    for (const auto& [channel, rate] : budgets)
        floors[channel] =
            rate * (1 - kLentShare) / static_cast<double>(std::max<size_t>(members, 1));
    return floors;
}

RateLender::RateLender(ChannelRates budgets, size_t members, DurationMs term)
    : budgets_(std::move(budgets)), members_(std::max<size_t>(members, 1)), term_(term) {
    for (const auto& [channel, rate] : budgets_) leases_[channel].resize(members_);
}

ChannelRates RateLender::lend(size_t member, const ChannelRates& demand, TimeMs now) {
    ChannelRates granted;
    if (member >= members_) return granted;
    for (auto& [channel, leases] : leases_) {
        const double pool = budgets_.at(channel) * kLentShare;
        auto asked = demand.find(channel);
        Lease& mine = leases[member];
        mine.demand = asked == demand.end() ? 0 : std::max(0.0, asked->second);
        double all_demand = 0, lent_to_others = 0;
        for (size_t m = 0; m < leases.size(); ++m) {
            const bool current = m == member || leases[m].until > now;
            if (!current) continue;
            all_demand += leases[m].demand;
            if (m != member) lent_to_others += leases[m].rate;
        }
        const double fair =
            all_demand > 0 ? pool * mine.demand / all_demand : pool / static_cast<double>(members_);
        mine.rate = std::max(0.0, std::min(fair, pool - lent_to_others));
        mine.until = now + term_;
        granted[channel] = mine.rate;
    }
    return granted;
}

std::string encode_rates(const ChannelRates& rates) {
    return pack_map(rates);
}

std::optional<ChannelRates> decode_rates(std::string_view bytes, std::string& error) {
    return unpack_map<ChannelRates>(bytes, "rates", error);
}

}  // namespace journeyd
