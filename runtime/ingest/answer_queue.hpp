// The frames of one ingest connection that are not answered yet, oldest first, and the
// answers they get: each frame is answered exactly once, in request order, when the results
// of all its events are in.
//
// Contract: push() a frame as it is taken from the stream, with the number of events whose
// results it waits for; record() those results (from any frame still queued, in any order);
// take_ready() appends the answers of the complete frames at the front, framed for the wire.
// A frame pushed with close_after ends the stream: take_ready() says so once it is written
// out, and nothing after it is answered.
// Thread-safety: none; one connection's strand owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "state/codec/event_codec.hpp"

namespace journeyd {

class AnswerQueue {
  public:
    // Returns the frame's sequence number, which record() takes.
    uint64_t push(FrameAnswer answer, uint32_t outstanding);
    void push_error(std::string error, bool close_after);
    // A frame answered with `body` (an encoded msgpack value), e.g. an accepted hello.
    void push_answered(std::string body);
    // Results of a frame no longer queued, or more than it still waits for, are ignored.
    void record(uint64_t seq, const uint32_t* index, const EventResult* results, size_t n);
    // True if an answer appended ends the stream.
    bool take_ready(std::string& out);
    size_t size() const { return frames_.size(); }
    bool empty() const { return frames_.empty(); }

  private:
    struct Pending {
        FrameAnswer answer;
        uint32_t outstanding = 0;  // events whose results have not come yet
        std::string frame_error;   // set: answered with {"ok": false, "error"}
        std::string answered;      // set: answered with these bytes
        bool close_after = false;
    };
    std::deque<Pending> frames_;
    uint64_t first_seq_ = 0;  // sequence number of frames_.front()
    bool ended_ = false;      // a closing answer was taken: nothing after it is answered
};

}  // namespace journeyd
