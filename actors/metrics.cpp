#include "actors/metrics.hpp"

#include <algorithm>

namespace journeyd {

void LatencyHistogram::observe(std::chrono::microseconds elapsed) {
    const int64_t us = std::max<int64_t>(0, elapsed.count());
    const size_t bucket = static_cast<size_t>(
        std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us) - kBoundsUs.begin());
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
}

uint64_t LatencyHistogram::count() const {
    uint64_t total = 0;
    for (const auto& bucket : buckets_) total += bucket.load(std::memory_order_relaxed);
    return total;
}

void LatencyHistogram::render(ExpositionWriter& out, std::string_view name,
                              std::string_view help) const {
    out.family(name, ExpositionWriter::Type::histogram, help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBoundsUs.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out.sample(cumulative, {{"le", ExpositionWriter::number(kBoundsUs[i] / 1e6)}}, "_bucket");
    }
    cumulative += buckets_.back().load(std::memory_order_relaxed);
    out.sample(cumulative, {{"le", "+Inf"}}, "_bucket");
    out.sample(static_cast<double>(sum_us_.load(std::memory_order_relaxed)) / 1e6, {}, "_sum");
    out.sample(cumulative, {}, "_count");
}

}  // namespace journeyd
