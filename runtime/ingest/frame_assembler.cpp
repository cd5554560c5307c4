#include "runtime/ingest/frame_assembler.hpp"

#include "state/codec/event_codec.hpp"

namespace journeyd {

void FrameAssembler::append(const char* data, size_t size) {
    if (broken_) return;
    received_.erase(0, taken_);  // bodies handed out are no longer referenced
    taken_ = 0;
    received_.append(data, size);
}

std::optional<FrameAssembler::Frame> FrameAssembler::next() {
    if (broken_ || received_.size() - taken_ < 4) return std::nullopt;
    const uint32_t length = read_frame_header(received_.data() + taken_);
    if (length == 0 || length > max_frame_) {
        broken_ = true;
        received_.clear();
        taken_ = 0;
        return Frame{{}, length, true};
    }
    if (received_.size() - taken_ - 4 < length) return std::nullopt;
    const std::string_view body(received_.data() + taken_ + 4, length);
    taken_ += 4 + size_t{length};
    return Frame{body, length, false};
}

}  // namespace journeyd
