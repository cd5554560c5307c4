#include "runtime/ingest/answer_queue.hpp"

namespace journeyd {

uint64_t AnswerQueue::push(FrameAnswer answer, uint32_t outstanding) {
    Pending frame;
    frame.answer = std::move(answer);
    frame.outstanding = outstanding;
    frames_.push_back(std::move(frame));
    return first_seq_ + frames_.size() - 1;
}

void AnswerQueue::push_error(std::string error, bool close_after) {
    Pending frame;
    frame.frame_error = std::move(error);
    frame.close_after = close_after;
    frames_.push_back(std::move(frame));
}

void AnswerQueue::push_answered(std::string body) {
    Pending frame;
    frame.answered = std::move(body);
    frames_.push_back(std::move(frame));
}

void AnswerQueue::record(uint64_t seq, const uint32_t* index, const EventResult* results,
                         size_t n) {
    if (seq < first_seq_ || seq - first_seq_ >= frames_.size()) return;
    Pending& frame = frames_[seq - first_seq_];
    // More results than the frame waits for (a frame error waits for none) are not its own:
    // counting them would wrap `outstanding` and hold every later answer back for good.
    if (n > frame.outstanding) return;
    for (size_t k = 0; k < n; ++k) {
        if (results[k].error.empty())
            ++(results[k].duplicate ? frame.answer.duplicates : frame.answer.accepted);
        else
            frame.answer.errors.push_back({index[k], "not applied: " + results[k].error});
    }
    frame.outstanding -= static_cast<uint32_t>(n);
}

bool AnswerQueue::take_ready(std::string& out) {
    while (!ended_ && !frames_.empty() && frames_.front().outstanding == 0) {
        Pending& frame = frames_.front();
        const std::string body = !frame.answered.empty() ? std::move(frame.answered)
                                 : frame.frame_error.empty()
                                     ? encode_answer(std::move(frame.answer))
                                     : encode_frame_error(frame.frame_error);
        out += frame_header(static_cast<uint32_t>(body.size()));
        out += body;
        const bool close_after = frame.close_after;
        frames_.pop_front();
        ++first_seq_;
        if (close_after) {
            ended_ = true;
            return true;
        }
    }
    return false;
}

}  // namespace journeyd
