#include "actors/metrics.hpp"

#include <sstream>

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

std::string LatencyHistogram::render(const std::string& name) const {
    std::ostringstream out;
    out << "# TYPE " << name << " histogram\n";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        out << name << "_bucket{le=\"" << kBounds[i] << "\"} " << cumulative << "\n";
    }
    out << name << "_bucket{le=\"+Inf\"} " << count() << "\n";
    out << name << "_sum " << static_cast<double>(sum_ms_.load()) / 1000.0 << "\n";
    out << name << "_count " << count() << "\n";
    return out.str();
}

}  // namespace journeyd
