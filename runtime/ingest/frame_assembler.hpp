// Cuts the ingest byte stream into frames (docs/protocol.md "Ingest port"), whatever way the
// socket delivered the bytes: a 4-byte big-endian length N, then N bytes of body.
//
// Contract: append() the bytes read, then next() until it returns nothing: each call yields the
// next complete frame body, or a length outside 1..max_frame, after which the stream is no
// longer framed and next() yields nothing more. A body's view is valid until the next call
// to append() or next(). Nothing is decoded here (state/codec/event_codec.hpp does that).
// Thread-safety: none; one connection's strand owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace journeyd {

class FrameAssembler {
  public:
    explicit FrameAssembler(uint32_t max_frame) : max_frame_(max_frame) {}

    struct Frame {
        std::string_view body;  // empty when the length is out of bounds
        uint32_t length = 0;
        bool out_of_bounds = false;
    };

    void append(const char* data, size_t size);
    std::optional<Frame> next();

  private:
    uint32_t max_frame_;
    std::string received_;  // from `taken_` on: bytes not yet yielded as frames
    size_t taken_ = 0;
    bool broken_ = false;
};

}  // namespace journeyd
