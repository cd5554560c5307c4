// AnswerQueue (runtime/ingest/answer_queue.hpp): one answer a frame, in request order whatever
// order the results come in, each decoding as docs/protocol.md "Answers" says, and nothing
// after a frame that closes the stream.
#include "runtime/ingest/answer_queue.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/ingest_answers.hpp"

using namespace journeyd;
using journeyd::test::WireAnswer;

namespace {

EventResult applied() {
    return {};
}
EventResult duplicate() {
    EventResult result;
    result.duplicate = true;
    return result;
}
EventResult failed(std::string why) {
    EventResult result;
    result.error = std::move(why);
    return result;
}

void record_one(AnswerQueue& queue, uint64_t seq, uint32_t index, const EventResult& result) {
    queue.record(seq, &index, &result, 1);
}

// take_ready() read back; `ended` is what it returned.
std::vector<WireAnswer> take(AnswerQueue& queue, bool* ended = nullptr) {
    std::string bytes;
    const bool end = queue.take_ready(bytes);
    if (ended) *ended = end;
    std::string error;
    const std::optional<std::vector<WireAnswer>> answers = test::read_answers(bytes, error);
    INFO(error);
    REQUIRE(answers);
    return *answers;
}

}  // namespace

TEST_CASE("answers: in request order whatever order the results come in") {
    // Frames of 2, 1 and 3 events; every order of the six results.
    struct Result {
        uint64_t seq;
        uint32_t index;
    };
    std::vector<Result> results = {{0, 0}, {0, 1}, {1, 0}, {2, 0}, {2, 1}, {2, 2}};
    const std::vector<uint32_t> sizes = {2, 1, 3};
    std::vector<size_t> order = {0, 1, 2, 3, 4, 5};
    do {
        AnswerQueue queue;
        for (uint32_t n : sizes) queue.push(FrameAnswer{}, n);
        std::vector<uint32_t> remaining = sizes;
        std::vector<uint64_t> answered;  // the frame each answer belongs to, by its event count
        for (size_t k : order) {
            record_one(queue, results[k].seq, results[k].index, applied());
            --remaining[results[k].seq];
            for (const WireAnswer& answer : take(queue)) {
                REQUIRE(answered.size() < sizes.size());
                CHECK(answer.accepted == sizes[answered.size()]);
                answered.push_back(answered.size());
            }
            // Answered: exactly the complete frames at the front.
            size_t complete = 0;
            while (complete < sizes.size() && remaining[complete] == 0) ++complete;
            CHECK(answered.size() == complete);
        }
        CHECK(queue.empty());
    } while (std::next_permutation(order.begin(), order.end()));
}

TEST_CASE("answers: a frame without events is answered at once, unless one before it waits") {
    AnswerQueue queue;
    FrameAnswer rejected;
    rejected.errors = {{1, "missing \"type\""}, {0, "an event must be a map"}};
    queue.push(rejected, 0);
    std::vector<WireAnswer> answers = take(queue);
    REQUIRE(answers.size() == 1);
    CHECK_FALSE(answers[0].ok);
    CHECK(answers[0].accepted == 0);
    REQUIRE(answers[0].errors.size() == 2);
    CHECK(answers[0].errors[0].index == 0);  // sorted by index
    CHECK(answers[0].errors[1].error == "missing \"type\"");

    const uint64_t waiting = queue.push(FrameAnswer{}, 1);
    queue.push(FrameAnswer{}, 0);  // an empty batch
    CHECK(take(queue).empty());
    record_one(queue, waiting, 0, applied());
    answers = take(queue);
    REQUIRE(answers.size() == 2);
    CHECK((answers[0].ok && answers[0].accepted == 1));
    CHECK((answers[1].ok && answers[1].accepted == 0 && answers[1].errors.empty()));
}

TEST_CASE("answers: results decode as accepted, duplicates and not-applied errors by index") {
    AnswerQueue queue;
    FrameAnswer answer;
    answer.errors = {{2, "\"id\" must be a string"}};
    const uint64_t seq = queue.push(answer, 4);
    const std::vector<uint32_t> index = {4, 0, 3, 1};
    const std::vector<EventResult> results = {applied(), failed("disk full"), duplicate(),
                                              applied()};
    queue.record(seq, index.data(), results.data(), 2);
    CHECK(take(queue).empty());
    queue.record(seq, index.data() + 2, results.data() + 2, 2);
    const std::vector<WireAnswer> answers = take(queue);
    REQUIRE(answers.size() == 1);
    CHECK_FALSE(answers[0].ok);
    CHECK(answers[0].accepted == 2);
    CHECK(answers[0].duplicates == 1);
    REQUIRE(answers[0].errors.size() == 2);
    CHECK(answers[0].errors[0].index == 0);
    CHECK(answers[0].errors[0].error == "not applied: disk full");
    CHECK(answers[0].errors[1].index == 2);
    CHECK(answers[0].errors[1].error == "\"id\" must be a string");
}

TEST_CASE("answers: a frame error is answered in its place, ok false with the error") {
    AnswerQueue queue;
    const uint64_t first = queue.push(FrameAnswer{}, 1);
    queue.push_error("body holds more than one msgpack value", false);
    queue.push(FrameAnswer{}, 0);
    CHECK(take(queue).empty());
    record_one(queue, first, 0, applied());
    bool ended = true;
    const std::vector<WireAnswer> answers = take(queue, &ended);
    CHECK_FALSE(ended);
    REQUIRE(answers.size() == 3);
    CHECK(answers[0].ok);
    CHECK_FALSE(answers[1].ok);
    CHECK(answers[1].frame_error == "body holds more than one msgpack value");
    CHECK(answers[2].ok);
}

TEST_CASE("answers: a frame error that closes ends the stream, and nothing after is answered") {
    AnswerQueue queue;
    const uint64_t first = queue.push(FrameAnswer{}, 1);
    queue.push_error("frame length 0 is outside 1..64; closing the connection", true);
    // Pushed after the close only by a caller that ignores it: never answered.
    queue.push(FrameAnswer{}, 0);
    queue.push_error("later", false);
    bool ended = true;
    CHECK(take(queue, &ended).empty());
    CHECK_FALSE(ended);
    record_one(queue, first, 0, applied());
    std::vector<WireAnswer> answers = take(queue, &ended);
    CHECK(ended);
    REQUIRE(answers.size() == 2);
    CHECK(answers[1].frame_error == "frame length 0 is outside 1..64; closing the connection");
    answers = take(queue, &ended);
    CHECK(answers.empty());
    CHECK_FALSE(ended);
}

TEST_CASE("answers: results for a frame answered, never pushed or not waiting are ignored") {
    AnswerQueue queue;
    const uint64_t done = queue.push(FrameAnswer{}, 1);
    record_one(queue, done, 0, applied());
    REQUIRE(take(queue).size() == 1);

    queue.push_error("a frame must hold an event map or a batch array", false);  // seq done + 1
    const uint64_t waiting = queue.push(FrameAnswer{}, 2);
    record_one(queue, done, 0, failed("late"));         // already answered
    record_one(queue, waiting + 1, 0, failed("none"));  // never pushed
    record_one(queue, done + 1, 0, failed("error"));    // a frame error waits for nothing
    record_one(queue, waiting, 0, applied());
    record_one(queue, waiting, 1, duplicate());
    const std::vector<WireAnswer> answers = take(queue);
    REQUIRE(answers.size() == 2);
    CHECK(answers[0].frame_error == "a frame must hold an event map or a batch array");
    CHECK(answers[1].ok);
    CHECK(answers[1].accepted == 1);
    CHECK(answers[1].duplicates == 1);
    CHECK(queue.empty());
}

TEST_CASE("answers: a frame answered at push (an accepted hello) keeps its place and bytes") {
    AnswerQueue queue;
    const uint64_t first = queue.push(FrameAnswer{}, 1);
    queue.push_answered(encode_hello_accepted());
    std::string bytes;
    CHECK_FALSE(queue.take_ready(bytes));
    CHECK(bytes.empty());  // behind a frame that waits
    record_one(queue, first, 0, applied());
    CHECK_FALSE(queue.take_ready(bytes));
    const std::string hello = frame_header(static_cast<uint32_t>(encode_hello_accepted().size())) +
                              encode_hello_accepted();
    REQUIRE(bytes.size() > hello.size());
    CHECK(bytes.substr(bytes.size() - hello.size()) == hello);
    CHECK(queue.empty());
}
