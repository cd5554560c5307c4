#include "state/cluster/remote_counters.hpp"

#include "state/codec/msgpack_read.hpp"

namespace journeyd {

RemoteCounters::RemoteCounters(size_t members)
    : reported_(members), sum_(std::make_shared<const StoreCounters>()) {}

void RemoteCounters::report(size_t member, const StoreCounters& counters) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (member >= reported_.size()) return;
    // From the previous sum, not from every member's report: a report costs the size of the
    // counters, whatever the number of members.
    auto sum = std::make_shared<StoreCounters>(*sum_);
    for (const auto& [key, count] : reported_[member]) (*sum)[key] -= count;
    for (const auto& [key, count] : counters) (*sum)[key] += count;
    reported_[member] = counters;
    sum_ = std::move(sum);
}

std::shared_ptr<const StoreCounters> RemoteCounters::sum() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return sum_;
}

std::string encode_counters(const StoreCounters& counters) {
    return pack_map(counters);
}

std::optional<StoreCounters> decode_counters(std::string_view bytes, std::string& error) {
    return unpack_map<StoreCounters>(bytes, "counters", error);
}

}  // namespace journeyd
