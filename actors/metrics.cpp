#include "actors/metrics.hpp"

#include <algorithm>

namespace journeyd {

void LatencyHistogram::observe(DurationMs ms) {
    const double seconds = static_cast<double>(ms) / 1000.0;
    size_t bucket = 0;
    while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
    if (bucket < kBounds.size()) buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ms_.fetch_add(static_cast<uint64_t>(std::max<DurationMs>(0, ms)),
                      std::memory_order_relaxed);
}

void LatencyHistogram::render(ExpositionWriter& out, std::string_view name,
                              std::string_view help) const {
    out.family(name, ExpositionWriter::Type::histogram, help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out.sample(cumulative, {{"le", ExpositionWriter::number(kBounds[i])}}, "_bucket");
    }
    out.sample(count(), {{"le", "+Inf"}}, "_bucket");
    out.sample(static_cast<double>(sum_ms_.load()) / 1000.0, {}, "_sum");
    out.sample(count(), {}, "_count");
}

}  // namespace journeyd
