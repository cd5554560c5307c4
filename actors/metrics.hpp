// Process-wide counters the actors bump and the admin port reads (/stats, /metrics).
// Customers per stage are not here: the store counts them, for all stored customers.
// Thread-safety: lock-free atomics throughout; writers are actors on many threads, readers are
// HTTP threads, and no reader needs a consistent snapshot across counters.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "actors/exposition.hpp"

namespace journeyd {

// A Prometheus histogram of durations, in seconds, with buckets from 100 µs to 10 s.
// Observations are whole microseconds; sub-millisecond ones land in their own buckets.
// Thread-safety: observe() runs on actor threads while render() runs on HTTP threads: a render
// may miss an observation in progress, but its buckets, +Inf and _count always agree.
class LatencyHistogram {
  public:
    // Upper bounds ("le") in microseconds: integers, so that an observation right at a bound
    // counts in that bound's bucket whatever floating point would make of it.
    static constexpr std::array<int64_t, 16> kBoundsUs = {
        100,    250,     500,     1'000,   2'500,     5'000,     10'000,    25'000,
        50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000};

    // A negative duration (a wall clock stepped back) counts as 0.
    void observe(std::chrono::microseconds elapsed);
    // The family `name` (with _bucket, _sum in seconds, _count) into `out`.
    void render(ExpositionWriter& out, std::string_view name, std::string_view help) const;
    uint64_t count() const;

  private:
    // Per bucket, not cumulative; the last one holds what lies beyond the last bound.
    std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
    std::atomic<uint64_t> sum_us_{0};
};

// The configurable limits a client can run into; each hit is counted for
// journeyd_limit_hits_total{limit="NAME"}, NAME being the configuration key (admin_ in front
// of the one key both ports have, so the two stay apart).
enum class Limit : uint8_t {
    max_connections,        // [ingest]: a connection over it is closed right after accept
    max_frame,              // [ingest]: a frame length over it closes the connection
    max_pending_frames,     // [ingest]: the session stops reading until answers catch up
    max_unsent_bytes,       // [ingest]: the session stops reading until the client reads
    max_body,               // [admin]: the request is answered 413
    admin_max_connections,  // [admin] max_connections: answered 503 right after accept
    read_timeout,           // [admin]: a request begun but not complete in time; closed
    idle_timeout,           // [ingest]: a connection silent this long is closed
};
inline constexpr std::array<std::string_view, 8> kLimitNames = {
    "max_connections",       "max_frame",    "max_pending_frames", "max_unsent_bytes", "max_body",
    "admin_max_connections", "read_timeout", "idle_timeout"};

// Thread-safety: hit() and count() from any thread (atomics).
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
    std::atomic<int64_t> admin_connections_open{0};  // each holds a thread of the admin port
    std::atomic<uint64_t> ingest_auth_failures{0};   // first frames refused for [ingest] token
    std::atomic<uint64_t> ingest_tls_failures{0};  // TLS handshakes on the ingest port that failed
    std::atomic<int64_t> customers_live{0};
    std::atomic<uint64_t> passivations{0};
    LimitHits limit_hits;
    // Admin connections closed because their TLS handshake failed or did not finish within
    // [admin] read_timeout (plain HTTP on the HTTPS port, an untrusting client, a stalled one).
    std::atomic<uint64_t> admin_tls_handshake_failures{0};
    LatencyHistogram event_to_decision;
    // A wake-up that fired timers: how long after the due time it was scheduled for it ran
    // (for a passivated customer this includes waiting for the timer sweeper).
    LatencyHistogram timer_lateness;
};

}  // namespace journeyd
