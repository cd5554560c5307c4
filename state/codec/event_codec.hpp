// Request and response frames of the ingest port (docs/protocol.md "Ingest port"), as pure
// functions over bytes so that the broker, the admin API and the fuzzers share one
// validation path.
//
// decode_request_body takes the N bytes of one frame body. A body that is not exactly one
// msgpack value, or whose value is neither an event map nor a batch array, is a frame
// error (the whole frame is answered {"ok": false, "error"}). Otherwise each event is
// checked on its own: valid ones come back as Events (ts defaulting to `receive_time`),
// invalid ones as {index, message}, so the valid events of a batch are still applied.
// `id`, `customer` and `type` must be UTF-8 (they end up in JSON: the admin API, every
// delivery); numbers in `attrs` must be finite (JSON has no NaN).
// Decoding is bounded by the body size: msgpack headers that claim more elements than the
// body could hold, or nesting deeper than kMaxDepth, are rejected before allocation.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/journey/event.hpp"

namespace journeyd {

inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxTypeBytes = 64;
inline constexpr size_t kMaxDepth = 32;
// pack_events puts events a client sent one to a frame into a batch array, one level deeper:
// the owner that decodes them must allow that level, or an event nested to the limit would
// be accepted by one member and refused by its owner.
inline constexpr size_t kMaxForwardedDepth = kMaxDepth + 1;

struct EventError {
    uint32_t index = 0;
    std::string error;
};

struct DecodedRequest {
    std::string frame_error;      // set: nothing else is meaningful
    std::vector<Event> events;    // valid events, in frame order
    std::vector<uint32_t> index;  // index[i]: position of events[i] in the frame
    std::vector<EventError> errors;
    uint32_t size = 0;  // events in the frame, valid or not
};

DecodedRequest decode_request_body(std::string_view body, TimeMs receive_time,
                                   size_t max_depth = kMaxDepth);

struct FrameAnswer {
    uint32_t accepted = 0;
    uint32_t duplicates = 0;
    std::vector<EventError> errors;  // sorted by index when encoded
};

std::string encode_answer(FrameAnswer answer);
std::string encode_frame_error(std::string_view message);

// The hello that opens a connection to an ingest port with [ingest] token:
// {"hello": {"token": "..."}}. `is_hello` is false for any body that is not a map whose only
// key is "hello"; a hello without a string token has `error` set.
struct Hello {
    bool is_hello = false;
    std::string token;
    std::string error;
};
Hello decode_hello(std::string_view body);
// {"ok": true}: the answer to an accepted hello.
std::string encode_hello_accepted();

// Valid events as a batch frame body that decode_request_body reads back to the same
// Events: how a node forwards events to the member that owns their customers.
std::string pack_events(const std::vector<Event>& events);

// What became of each event of a forwarded batch, in batch order, as the owner sends it
// back: a msgpack array holding, per event, 0 (applied), 1 (a duplicate) or the error text.
struct EventResult {
    bool duplicate = false;
    std::string error;  // set: not applied, and why
};
std::string encode_event_results(const std::vector<EventResult>& results);
std::optional<std::vector<EventResult>> decode_event_results(std::string_view bytes,
                                                             std::string& error);

// The 4-byte big-endian length that precedes every frame, both directions.
std::string frame_header(uint32_t length);
uint32_t read_frame_header(const char* four_bytes);

}  // namespace journeyd
