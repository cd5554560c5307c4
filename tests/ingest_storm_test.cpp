// The ingest port under flow control, through the real journeyd: whatever the client does
// with its socket (writes everything before reading, reads slowly through a tiny window,
// writes a byte at a time, leaves with frames in flight), every frame is answered once, in
// order, and reading never stops for good while frames wait (docs/architecture.md "Ingest").
//
// "the storm" is the reproduction of the stall of the CAF-broker ingest (a session paused by
// max_pending_frames that never resumed); scripts/stress runs it many times and sums the
// "storm:" lines it prints.
#include <netinet/tcp.h>
#include <poll.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/client/ingest_client.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/raw_ingest.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::AnswerReader;
using test::DaemonProcess;
using test::framed;

namespace {

// Small limits so that pauses happen all the time; no fsync, since the commits are not what
// is tested and the tests must stay quick on a shared 2-core machine.
std::string storm_config(const std::string& ingest) {
    return test::kTwoStageJourney + std::string("\n[store]\nsync = false\n\n[ingest]\n") + ingest;
}

// What a frame is, and so what its answer must say.
enum class Kind { event, integer, garbage, invalid_event };

std::string body_of(Kind kind, const std::string& id, const std::string& customer) {
    switch (kind) {
        case Kind::event:
            return encode_event({{"id", id}, {"customer", customer}, {"type", "search"}});
        case Kind::integer:
            return std::string(1, '\x2a');  // the msgpack integer 42: neither map nor array
        case Kind::garbage:
            return std::string("\xc1\xc1\xc1", 3);  // 0xc1 is no msgpack type at all
        case Kind::invalid_event:
            return encode_event({{"id", id}, {"customer", customer}});  // no type
    }
    return {};
}

// Whether `answer` is the one a frame of `kind` must get.
bool answers(const json& answer, Kind kind) {
    switch (kind) {
        case Kind::event:
            return answer.value("ok", false) && answer.value("accepted", 0) == 1;
        case Kind::integer:
        case Kind::garbage:
            return answer.is_object() && answer.value("ok", true) == false &&
                   answer.contains("error");
        case Kind::invalid_event:
            // A frame whose events all fail is not ok, but it is no frame error either.
            return answer.value("ok", true) == false && answer.value("accepted", 1) == 0 &&
                   answer.contains("errors") && answer["errors"].size() == 1;
    }
    return false;
}

// Kinds in an irregular order, so that an answer out of place shows.
Kind kind_of(size_t i) {
    static constexpr Kind kPattern[] = {Kind::event,   Kind::event,         Kind::integer,
                                        Kind::event,   Kind::garbage,       Kind::event,
                                        Kind::integer, Kind::invalid_event, Kind::event};
    return kPattern[(i * 7 + i / 9) % std::size(kPattern)];
}

struct Received {
    size_t answers = 0;
    size_t wrong = 0;  // answers that do not fit their frame (out of order, or wrong)
};

// Reads answers until `count` have come, the peer closes, `idle` passes without a byte, or
// `deadline` passes; `pause_every` > 0 sleeps a millisecond after that many reads.
Received read_answers(int fd, const std::vector<Kind>& kinds, std::chrono::milliseconds idle,
                      std::chrono::milliseconds deadline, size_t chunk = 4096,
                      size_t pause_every = 0) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    Received received;
    AnswerReader reader;
    std::vector<char> buffer(chunk);
    for (size_t reads = 1; received.answers < kinds.size(); ++reads) {
        pollfd readable{fd, POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0 ||
            ::poll(&readable, 1, static_cast<int>(std::min(idle, left).count())) <= 0)
            break;
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0) break;
        reader.append(buffer.data(), static_cast<size_t>(n));
        while (auto answer = reader.next()) {
            if (received.answers < kinds.size() && !answers(*answer, kinds[received.answers]))
                ++received.wrong;
            ++received.answers;
        }
        if (pause_every > 0 && reads % pause_every == 0) std::this_thread::sleep_for(1ms);
    }
    return received;
}

void send_all(int fd, const std::string& bytes) {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
}

json get_json(const DaemonProcess& daemon, const std::string& path) {
    auto answer = daemon.admin().Get(path);
    REQUIRE(answer);
    REQUIRE(answer->status == 200);
    return json::parse(answer->body);
}

}  // namespace

TEST_CASE("limits: the storm: 3,000 frames written before the first read are all answered") {
    constexpr size_t kFrames = 3000;
    constexpr int kRuns = 20;
    DaemonProcess daemon(storm_config("max_pending_frames = 16\n"));
    std::vector<Kind> kinds;
    for (size_t i = 0; i < kFrames; ++i) kinds.push_back(kind_of(i));
    int stalls = 0;
    for (int run = 0; run < kRuns; ++run) {
        const int fd = test::connect_raw(daemon.ingest());
        timeval timeout{30, 0};  // a daemon that stops reading fills the buffers: fail, not hang
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        bool sent = true;  // false: the daemon stopped reading before everything was written
        for (size_t i = 0; i < kFrames && sent; ++i) {
            const std::string id = "r" + std::to_string(run) + "-" + std::to_string(i);
            const std::string frame = framed(body_of(kinds[i], id, "s" + std::to_string(i % 50)));
            sent = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) ==
                   static_cast<ssize_t>(frame.size());
        }
        const Received received = sent ? read_answers(fd, kinds, 10s, 30s) : Received{};
        ::close(fd);
        CAPTURE(run, sent, received.answers, received.wrong);
        stalls += received.answers != kFrames;
        CHECK(received.answers == kFrames);
        CHECK(received.wrong == 0);
    }
    std::printf("storm: runs=%d frames=%zu stalls=%d\n", kRuns, kRuns * kFrames, stalls);
    std::fflush(stdout);
}

TEST_CASE("limits: a slow reader behind a 4 KiB window gets every answer, in order") {
    constexpr size_t kFrames = 100'000;
    DaemonProcess daemon(storm_config("max_pending_frames = 64\nmax_unsent_bytes = 4096\n"));
    std::vector<Kind> kinds;
    std::string bytes;
    for (size_t i = 0; i < kFrames; ++i) {
        kinds.push_back(kind_of(i));
        bytes += framed(body_of(kinds[i], "w" + std::to_string(i), "s" + std::to_string(i % 200)));
    }
    const uint64_t rss_before = daemon.status_kib("VmRSS");
    const int fd = test::connect_raw(daemon.ingest(), 4096);
    timeval timeout{20, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    // The writer pipelines everything in small writes while the reader lags behind.
    std::thread writer([&] {
        for (size_t at = 0; at < bytes.size(); at += 1024) {
            const size_t n = std::min<size_t>(1024, bytes.size() - at);
            if (::send(fd, bytes.data() + at, n, MSG_NOSIGNAL) != static_cast<ssize_t>(n)) return;
        }
    });
    const Received received = read_answers(fd, kinds, 10s, 20s, 512, 64);
    ::shutdown(fd, SHUT_RDWR);  // frees a writer still blocked if the daemon stalled
    writer.join();
    ::close(fd);
    CHECK(received.answers == kFrames);
    CHECK(received.wrong == 0);
    // The connection holds at most its limits' worth, whatever the client pushes at it; what
    // grows is the customers' state (each applied event id is remembered for the retention).
    // The figures are in docs/performance.md.
    const uint64_t rss_after = daemon.status_kib("VmRSS");
    std::printf("slow reader: frames=%zu rss_before_kib=%llu rss_after_kib=%llu\n", kFrames,
                static_cast<unsigned long long>(rss_before),
                static_cast<unsigned long long>(rss_after));
    CHECK(rss_after < rss_before + 64 * 1024);
}

TEST_CASE("limits: frames written one byte at a time are answered") {
    DaemonProcess daemon(storm_config("max_pending_frames = 2\n"));
    const std::vector<Kind> kinds = {Kind::event, Kind::garbage, Kind::invalid_event, Kind::event,
                                     Kind::integer};
    const int fd = test::connect_raw(daemon.ingest());
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t i = 0; i < kinds.size(); ++i) {
        const std::string frame = framed(body_of(kinds[i], "b" + std::to_string(i), "bytes"));
        for (char byte : frame) send_all(fd, std::string(1, byte));
    }
    const Received received = read_answers(fd, kinds, 10s, 20s);
    ::close(fd);
    CHECK(received.answers == kinds.size());
    CHECK(received.wrong == 0);
}

TEST_CASE("limits: a client gone with frames in flight leaves the daemon healthy") {
    constexpr size_t kFrames = 500;
    constexpr size_t kRead = 100;
    DaemonProcess daemon(storm_config("max_pending_frames = 16\n"));
    const std::vector<Kind> kinds(kFrames, Kind::event);
    const int fd = test::connect_raw(daemon.ingest());
    for (size_t i = 0; i < kFrames; ++i)
        send_all(fd, framed(body_of(Kind::event, "f" + std::to_string(i), "inflight")));
    const std::vector<Kind> first(kinds.begin(), kinds.begin() + kRead);
    // The last read may bring a few answers more than asked for: all count as acknowledged.
    const Received received = read_answers(fd, first, 10s, 20s);
    REQUIRE(received.answers >= kRead);
    REQUIRE(received.wrong == 0);
    ::close(fd);  // hundreds of frames unanswered, some perhaps not even read yet
    // Everything acknowledged is applied; what came after may or may not be.
    const auto seen = [&] { return get_json(daemon, "/customers/inflight")["events_seen"]; };
    CHECK(seen().get<size_t>() >= received.answers);
    CHECK(seen().get<size_t>() <= kFrames);
    CHECK(test::poll_until([&] { return get_json(daemon, "/stats")["ingest_connections"] == 0; }));
    IngestClient again = IngestClient::connect(daemon.ingest(), 10s);
    again.send_frame(body_of(Kind::event, "after", "inflight"));
    CHECK(again.read_response()["accepted"] == 1);
}
