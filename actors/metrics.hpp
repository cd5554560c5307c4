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
#include <string_view>

#include "actors/exposition.hpp"
#include "state/duration.hpp"

namespace journeyd {

// A Prometheus histogram of durations with fixed buckets (seconds).
class LatencyHistogram {
  public:
    static constexpr std::array<double, 14> kBounds = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

    void observe(DurationMs ms);
    // The family `name` (with _bucket, _sum, _count) into `out`.
    void render(ExpositionWriter& out, std::string_view name, std::string_view help) const;
    uint64_t count() const { return count_.load(std::memory_order_relaxed); }

  private:
    std::array<std::atomic<uint64_t>, kBounds.size()> buckets_{};  // non-cumulative
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_ms_{0};
};

// The configurable limits a client can run into; each hit is counted for
// journeyd_limit_hits_total{limit="NAME"}, NAME being the configuration key.
enum class Limit : uint8_t {
    max_connections,     // [ingest]: a connection over it is closed right after accept
    max_frame,           // [ingest]: a frame length over it closes the connection
    max_pending_frames,  // [ingest]: the session stops reading until answers catch up
    max_unsent_bytes,    // [ingest]: the session stops reading until the client reads
    max_body,            // [admin]: the request is answered 413
};
inline constexpr std::array<std::string_view, 5> kLimitNames = {
    "max_connections", "max_frame", "max_pending_frames", "max_unsent_bytes", "max_body"};

class LimitHits {
  public:
    void hit(Limit limit) { hits_[static_cast<size_t>(limit)].fetch_add(1); }
    uint64_t count(Limit limit) const { return hits_[static_cast<size_t>(limit)].load(); }

  private:
    std::array<std::atomic<uint64_t>, kLimitNames.size()> hits_{};
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
    LimitHits limit_hits;
    LatencyHistogram event_to_decision;
    // A wake-up that fired timers: how long after the due time it was scheduled for it ran
    // (for a passivated customer this includes waiting for the timer sweeper).
    LatencyHistogram timer_lateness;
};

}  // namespace journeyd
