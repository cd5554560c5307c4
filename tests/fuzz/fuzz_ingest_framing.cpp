// libFuzzer harness: the ingest port's stream handling without a socket, as
// runtime/ingest/ingest_connection.cpp does it: bytes through a FrameAssembler, each body
// through decode_request_body, each frame into an AnswerQueue, the events' results recorded
// later and out of order, answers taken as they are ready.
//
// Input: the byte stream a client sends (the seeds in corpus/ingest_framing/ are frames:
// a 4-byte big-endian length, then a msgpack body). Everything else is drawn from a generator
// seeded by a hash of the input: where the stream is cut into reads, which results come in
// between reads and in which order (some applied, some duplicates, some failed), and stale
// results for frames already answered, never pushed or answered with a frame error.
// max_frame is 1024.
//
// Checks beyond "no crash": nothing is framed after an out-of-bounds length; every frame is
// answered exactly once, in order, once all its results are in and not before; each answer
// decodes as docs/protocol.md documents it, with the counts and errors (sorted by index,
// failed events prefixed "not applied: ") its decode and results make; the closing answer is
// the last one and take_ready() says so.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "runtime/ingest/answer_queue.hpp"
#include "runtime/ingest/frame_assembler.hpp"
#include "state/codec/event_codec.hpp"
#include "tests/support/ingest_answers.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kNow = 1'700'000'000'000;
constexpr uint32_t kMaxFrame = 1024;

// What a frame's answer must be once its results are in.
struct Expected {
    uint64_t seq = 0;
    std::string frame_error;  // set: answered {"ok": false, "error"}
    bool close_after = false;
    uint32_t outstanding = 0;
    uint32_t accepted = 0;
    uint32_t duplicates = 0;
    std::vector<EventError> errors;
};

// A result not recorded yet: frame `seq`, event at `index` of the frame.
struct Awaited {
    uint64_t seq;
    uint32_t index;
};

uint64_t fnv1a(const uint8_t* data, size_t size) {
    uint64_t hash = 14695981039346656037ull;
    for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ull;
    return hash;
}

class Harness {
  public:
    explicit Harness(uint64_t seed) : random_(seed) {}

    void read(const char* data, size_t size) {
        assembler_.append(data, size);
        take_frames();
        deliver(pick(awaited_.size()));
    }

    // The stream is over: every result comes in, then nothing may stay unanswered.
    void finish() {
        take_frames();
        deliver(awaited_.size());
        FUZZ_CHECK(answered_ == expected_.size());
        FUZZ_CHECK(queue_.empty());
    }

  private:
    size_t pick(size_t n) { return n == 0 ? 0 : random_() % (n + 1); }

    void take_frames() {
        while (!ended_) {
            const std::optional<FrameAssembler::Frame> frame = assembler_.next();
            if (!frame) break;
            FUZZ_CHECK(!broken_);  // nothing is framed after an out-of-bounds length
            if (frame->out_of_bounds) {
                FUZZ_CHECK(frame->length == 0 || frame->length > kMaxFrame);
                FUZZ_CHECK(frame->body.empty());
                broken_ = true;
                push_error("frame length " + std::to_string(frame->length) + " is outside 1.." +
                               std::to_string(kMaxFrame) + "; closing the connection",
                           true);
            } else {
                FUZZ_CHECK(frame->length >= 1 && frame->length <= kMaxFrame);
                FUZZ_CHECK(frame->body.size() == frame->length);
                accept_body(frame->body);
            }
            take_answers();
        }
    }

    void accept_body(std::string_view body) {
        DecodedRequest request = decode_request_body(body, kNow);
        if (!request.frame_error.empty()) return push_error(request.frame_error, false);
        FUZZ_CHECK(request.events.size() == request.index.size());
        FUZZ_CHECK(request.events.size() + request.errors.size() == request.size);
        Expected frame;
        frame.errors = request.errors;
        frame.outstanding = static_cast<uint32_t>(request.events.size());
        FrameAnswer answer;
        answer.errors = std::move(request.errors);
        frame.seq = queue_.push(std::move(answer), frame.outstanding);
        FUZZ_CHECK(frame.seq == expected_.size());
        for (uint32_t index : request.index) awaited_.push_back({frame.seq, index});
        expected_.push_back(std::move(frame));
    }

    void push_error(std::string error, bool close_after) {
        Expected frame;
        frame.seq = expected_.size();
        frame.frame_error = error;
        frame.close_after = close_after;
        queue_.push_error(std::move(error), close_after);
        last_error_ = frame.seq;
        expected_.push_back(std::move(frame));
    }

    // `n` awaited results, drawn in any order, some recorded together when they belong to one
    // frame (as a forwarded batch's are), each followed by the answers that became ready.
    void deliver(size_t n) {
        for (size_t left = n; left > 0;) {
            std::swap(awaited_[random_() % awaited_.size()], awaited_.back());
            const uint64_t seq = awaited_.back().seq;
            std::vector<uint32_t> index;
            std::vector<EventResult> results;
            while (left > 0 && !awaited_.empty() && awaited_.back().seq == seq &&
                   (index.empty() || random_() % 2 == 0)) {
                index.push_back(awaited_.back().index);
                results.push_back(result_for(expected_[seq], index.back()));
                awaited_.pop_back();
                --left;
            }
            queue_.record(seq, index.data(), results.data(), index.size());
            expected_[seq].outstanding -= static_cast<uint32_t>(index.size());
            stale_result();
            take_answers();
        }
    }

    EventResult result_for(Expected& frame, uint32_t index) {
        EventResult result;
        switch (random_() % 4) {
            case 0:
                result.error = "disk full " + std::to_string(index);
                frame.errors.push_back({index, "not applied: " + result.error});
                break;
            case 1:
                result.duplicate = true;
                ++frame.duplicates;
                break;
            default:
                ++frame.accepted;
        }
        return result;
    }

    // Results for a frame already answered, not pushed yet, or a frame error (which waits for
    // none) must change nothing.
    void stale_result() {
        if (random_() % 4 != 0) return;
        const uint32_t index = 0;
        EventResult result;
        result.error = "stale";
        uint64_t seq = expected_.size() + random_() % 3;
        if (random_() % 2 == 0 && answered_ > 0) seq = random_() % answered_;
        if (random_() % 2 == 0 && last_error_ >= answered_ && last_error_ < expected_.size())
            seq = last_error_;
        queue_.record(seq, &index, &result, 1);
    }

    void take_answers() {
        std::string bytes;
        const bool ended = queue_.take_ready(bytes);
        FUZZ_CHECK(!ended_ || bytes.empty());  // nothing after the closing answer
        std::string error;
        const std::optional<std::vector<test::WireAnswer>> answers =
            test::read_answers(bytes, error);
        FUZZ_CHECK(answers);
        for (const test::WireAnswer& answer : *answers) {
            FUZZ_CHECK(answered_ < expected_.size());
            check_answer(answer, expected_[answered_]);
            FUZZ_CHECK(!expected_[answered_].close_after || &answer == &answers->back());
            ++answered_;
        }
        if (ended) {
            FUZZ_CHECK(answered_ > 0 && expected_[answered_ - 1].close_after);
            ended_ = true;
        }
    }

    static void check_answer(const test::WireAnswer& answer, Expected& frame) {
        FUZZ_CHECK(frame.outstanding == 0);  // answered only once all its results are in
        if (!frame.frame_error.empty()) {
            FUZZ_CHECK(!answer.ok && answer.frame_error == frame.frame_error);
            return;
        }
        std::stable_sort(
            frame.errors.begin(), frame.errors.end(),
            [](const EventError& a, const EventError& b) { return a.index < b.index; });
        FUZZ_CHECK(answer.frame_error.empty());
        FUZZ_CHECK(answer.ok == frame.errors.empty());
        FUZZ_CHECK(answer.accepted == frame.accepted);
        FUZZ_CHECK(answer.duplicates == frame.duplicates);
        FUZZ_CHECK(answer.errors.size() == frame.errors.size());
        for (size_t i = 0; i < frame.errors.size(); ++i) {
            FUZZ_CHECK(answer.errors[i].index == frame.errors[i].index);
            FUZZ_CHECK(answer.errors[i].error == frame.errors[i].error);
        }
    }

    std::mt19937_64 random_;
    FrameAssembler assembler_{kMaxFrame};
    AnswerQueue queue_;
    std::vector<Expected> expected_;  // every frame pushed, by seq
    std::vector<Awaited> awaited_;
    size_t answered_ = 0;
    uint64_t last_error_ = UINT64_MAX;  // seq of the latest frame error pushed
    bool broken_ = false;               // an out-of-bounds length was framed
    bool ended_ = false;                // take_ready() said the stream ends
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const uint64_t seed = fnv1a(data, size);
    Harness harness(seed);
    std::mt19937_64 cuts(seed ^ 0x9e3779b97f4a7c15ull);
    for (size_t at = 0; at < size;) {
        // Reads of 1 byte up to 1 KiB, small ones most often, as a busy socket gives them.
        const size_t n = std::min<size_t>(size - at, 1 + cuts() % (size_t{1} << (cuts() % 11)));
        harness.read(reinterpret_cast<const char*>(data) + at, n);
        at += n;
    }
    harness.finish();
    return 0;
}
