// The ingest port (docs/protocol.md "Ingest port") on CAF's io brokers: one acceptor broker,
// one session broker per connection.
//
// A session reads length-prefixed frames, decodes them (state/event_codec), sends each
// valid event to its customer's shard (or to the member that owns it) and answers every frame
// exactly once, in request order, when all its events are acknowledged by the store writer, i.e.
// committed. Pipelining is natural: frames keep arriving while earlier ones wait for their commits.
//
// Limits (IngestLimits), each hit counted in Metrics::limit_hits: a connection beyond
// `max_connections` is closed right after accept, with a log line.
//
// Flow control, per connection: when `max_pending_frames` frames are unanswered, or the
// client leaves more than `max_unsent_bytes` of answers unread, the session stops reading
// from the socket (the kernel's buffers then push back on the client) and resumes at half.
// A malformed body is answered with an error and the connection stays open; a length of 0
// or over `max_frame` is answered and the connection closed, since the stream can no
// longer be trusted to be framed.
//
// Shutdown: (drain_atom) to the acceptor closes the listening socket, asks every session
// to stop reading, answer what it has received and close; the acceptor answers once all
// sessions have ended.
#pragma once

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "actors/customer_router.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"

namespace journeyd {

struct IngestLimits {
    size_t max_connections = 1024;  // sessions open at once; more are closed after accept
    uint32_t max_frame = 1u << 20;
    size_t max_pending_frames = 256;
    size_t max_unsent_bytes = 4u << 20;
    std::chrono::milliseconds event_timeout{60'000};
};

struct IngestContext {
    CustomerRouter router;
    std::shared_ptr<Metrics> metrics;
    std::function<TimeMs()> now;
    IngestLimits limits;
};

// Messages:
//   (bind_atom, std::string host, uint16_t port) -> uint16_t, the port bound (0: any free)
//   (drain_atom)                                 -> caf::unit_t once every session ended
caf::behavior ingest_acceptor(caf::io::broker* self, std::shared_ptr<const IngestContext> context);

}  // namespace journeyd
