// The load generator: drives journeyd's ingest port over loopback TCP.
//
// run_load opens `connections` connections (connection c to ingests[c % ingests.size()], so
// several daemons share them evenly), each driven by a thread of its own with a
// FrameSource of its own, and keeps up to `pipeline` frames in flight on each. It sends
// until the sources are exhausted or `duration` has passed, then collects the answer of
// every frame still in flight, so every event sent is counted as acknowledged or rejected.
//
// Pacing: with `events_per_second` > 0 each connection sends its share on a fixed schedule
// (frame k leaves when the events before it are due) and collects answers while it waits;
// with 0 it sends whenever the pipeline has room, which measures the peak.
//
// A frame's latency runs from writing it to reading its answer; journeyd answers a frame
// only once its events are committed. Any connection failure or malformed answer throws
// std::runtime_error after every thread has stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace journeyd::bench {

struct Frame {
    std::string body;     // one msgpack batch
    uint32_t events = 0;  // in the batch
};

// The frames one connection sends, produced on that connection's thread.
class FrameSource {
  public:
    virtual ~FrameSource() = default;
    // Fills `frame`; false when the source is exhausted.
    virtual bool next(Frame& frame) = 0;
};

// Makes the source of connection `index` (0-based).
using FrameSources = std::function<std::unique_ptr<FrameSource>(size_t index)>;

struct LoadPlan {
    std::vector<std::string> ingests;  // HOST:PORT of each daemon, at least one
    size_t connections = 4;
    size_t pipeline = 32;
    double events_per_second = 0;           // 0: as fast as journeyd acknowledges
    std::chrono::milliseconds duration{0};  // 0: until every source is exhausted
};

struct LoadResult {
    uint64_t frames = 0;
    uint64_t events_sent = 0;
    uint64_t accepted = 0;
    uint64_t duplicates = 0;
    uint64_t rejected = 0;  // rejected events, and the events of frames rejected whole
    double seconds = 0;     // from the first send to the last answer
    std::vector<double> frame_latency_ms;  // one per frame, ascending

    uint64_t acknowledged() const { return accepted + duplicates; }
    double acknowledged_per_second() const { return seconds > 0 ? acknowledged() / seconds : 0; }
    // Nearest rank; nullopt when no frame was answered.
    std::optional<double> latency_percentile(double q) const;
};

LoadResult run_load(const LoadPlan& plan, const FrameSources& sources);

}  // namespace journeyd::bench
