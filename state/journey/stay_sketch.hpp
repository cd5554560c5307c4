// The time customers stay in a stage, as a streaming quantile sketch: a fixed log-bucketed
// histogram (the DDSketch mapping) whose buckets are store counters. A stay adds 1 to one
// bucket, so the sketch is durable with the record that ends the stay, exact under kill -9
// (a bucket is a counter like any other), and the sketches of cluster members sum bucket by
// bucket. A quantile read from it is within kStayRelativeError of the true value of that rank.
//
// Bucket 0 holds stays of 0 ms; bucket i ≥ 1 holds (γ^(i-2), γ^(i-1)] ms with
// γ = (1 + α) / (1 - α), α = kStayRelativeError, and reads back as 2γ^(i-1) / (γ + 1). Stays of up
// to ten years fit in 133 buckets, so a stage has at most that many keys.
//
// Pure functions; thread-safe.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>

#include "state/duration.hpp"

namespace journeyd {

inline constexpr double kStayRelativeError = 0.1;
inline constexpr double kStayGamma = (1 + kStayRelativeError) / (1 - kStayRelativeError);

inline int stay_bucket(DurationMs stayed) {
    if (stayed <= 0) return 0;
    // The smallest i with stayed <= γ^(i-1); the epsilon keeps exact powers in their bucket.
    const double exponent = std::log(static_cast<double>(stayed)) / std::log(kStayGamma);
    return 1 + static_cast<int>(std::ceil(exponent - 1e-9));
}

inline double stay_bucket_value(int bucket) {
    if (bucket <= 0) return 0;
    return 2 * std::pow(kStayGamma, bucket - 1) / (kStayGamma + 1);
}

// The value of rank floor(q · (n - 1)) (q = 0.5: the lower median) of the stays counted in
// `buckets` (bucket -> count), or nullopt when it holds none.
inline std::optional<double> stay_quantile(const std::map<int, int64_t>& buckets, double q) {
    int64_t n = 0;
    for (const auto& [bucket, count] : buckets) n += count > 0 ? count : 0;
    if (n == 0) return std::nullopt;
    const auto rank = static_cast<int64_t>(q * static_cast<double>(n - 1));
    int64_t seen = 0;
    for (const auto& [bucket, count] : buckets) {
        seen += count > 0 ? count : 0;
        if (seen > rank) return stay_bucket_value(bucket);
    }
    return stay_bucket_value(buckets.rbegin()->first);
}

}  // namespace journeyd
