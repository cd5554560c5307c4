// Hands the events of ingest frames to CAF (runtime/ingest/ runs the sockets on threads of its
// own): one relay actor per ingest connection sends a frame's valid events in one batch per
// destination: each shard of this node, or the peer of each other member that owns some,
// and reports every result back through `report`, which the connection posts to its strand.
//
// Contract: (IngestFrame) asks for the frame's events; `report` is called once per frame,
// when every event's result is in, with the frame's sequence number, the events' positions
// in the frame and their results (a failure or timeout after limits.event_timeout becomes a
// result with an error). Results with an error are counted in Metrics::events_rejected.
// Thread-safety: `report` is called on CAF scheduler threads and must not block.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "actors/customer_router.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"

namespace journeyd {

struct IngestLimits {
    size_t max_connections = 1024;  // connections open at once; more are closed after accept
    uint32_t max_frame = 1u << 20;
    size_t max_pending_frames = 256;
    size_t max_unsent_bytes = 4u << 20;
    std::chrono::milliseconds event_timeout{60'000};
    std::chrono::milliseconds idle_timeout{300'000};  // 0: never
};

struct IngestContext {
    CustomerRouter router;
    std::shared_ptr<Metrics> metrics;
    std::function<TimeMs()> now;
    IngestLimits limits;
};

// The valid events of one frame, in frame order; index[i] is the position of events[i].
struct IngestFrame {
    uint64_t seq = 0;
    std::vector<Event> events;
    std::vector<uint32_t> index;
};

using IngestReport =
    std::function<void(uint64_t seq, const uint32_t* index, const EventResult* results, size_t n)>;

caf::behavior ingest_relay(caf::event_based_actor* self,
                           std::shared_ptr<const IngestContext> context, IngestReport report);

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::IngestFrame)
