// Process-wide counters the actors bump and the admin port reads (/stats, /metrics).
// Customers per stage are not here: the store counts them, for all stored customers.
// Lock-free atomics: writers are actors on many threads, readers are HTTP threads, and no
// reader needs a consistent snapshot across counters.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "state/duration.hpp"

namespace journeyd {

// A Prometheus histogram of durations with fixed buckets (seconds).
class LatencyHistogram {
  public:
    static constexpr std::array<double, 14> kBounds = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    void observe(DurationMs ms);
    // The exposition lines of this histogram under `name` (with _bucket, _sum, _count).
    std::string render(const std::string& name) const;
    uint64_t count() const { return count_.load(std::memory_order_relaxed); }

  private:
    std::array<std::atomic<uint64_t>, kBounds.size()> buckets_{};  // non-cumulative
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_ms_{0};
};

struct Metrics {
    std::atomic<uint64_t> events_accepted{0};
    std::atomic<uint64_t> events_duplicate{0};
    std::atomic<uint64_t> events_rejected{0};
    std::atomic<uint64_t> frames{0};        // every frame received (each gets one answer)
    std::atomic<uint64_t> frame_errors{0};  // of those, answered {"ok": false, "error"}
    std::atomic<int64_t> connections_open{0};
    std::atomic<uint64_t> backpressure_pauses{0};
    std::atomic<int64_t> customers_live{0};
    std::atomic<uint64_t> passivations{0};
    LatencyHistogram event_to_decision;
    // A wake-up that fired timers: how long after the due time it was scheduled for it ran
    // (for a passivated customer this includes waiting for the timer sweeper).
    LatencyHistogram timer_lateness;
};

}  // namespace journeyd
