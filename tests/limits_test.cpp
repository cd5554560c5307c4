// Security defaults and limits of the real journeyd: it refuses an open admin port without
// a token, and each configurable limit holds and is counted in
// journeyd_limit_hits_total{limit="..."} when a client runs into it.
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/client/ingest_client.hpp"
#include "state/codec/event_codec.hpp"
#include "tests/support/command.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/raw_ingest.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;
using test::poll_until;

namespace {

std::string config_with(const std::string& limits) {
    return test::kTwoStageJourney + limits;
}

json event(const std::string& id, const std::string& customer = "lim") {
    return {{"id", id}, {"customer", customer}, {"type", "search"}};
}

uint64_t limit_hits(const DaemonProcess& daemon, const std::string& limit) {
    return daemon.metric("journeyd_limit_hits_total{limit=\"" + limit + "\"}");
}

bool accepted(IngestClient& client, const std::string& id) {
    client.send_frame(encode_event(event(id)));
    return client.read_response()["accepted"] == 1;
}

// Writes `frames` (each a header and body) in one write(), or one write() a frame, and reads
// `count` answers.
std::vector<json> exchange(const std::string& ingest, const std::vector<std::string>& frames,
                           bool one_write, size_t count) {
    const int fd = test::connect_raw(ingest);
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string all;
    for (const std::string& frame : frames) {
        if (!one_write) {
            REQUIRE(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) ==
                    static_cast<ssize_t>(frame.size()));
            continue;
        }
        all += frame;
    }
    if (one_write)
        REQUIRE(::send(fd, all.data(), all.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(all.size()));
    std::vector<json> answers;
    test::AnswerReader reader;
    char buffer[4096];
    while (answers.size() < count) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;  // closed, or 10 s without an answer
        reader.append(buffer, static_cast<size_t>(n));
        while (auto answer = reader.next()) answers.push_back(std::move(*answer));
    }
    ::close(fd);
    return answers;
}

// A connection to `address` (127.0.0.1:PORT) that has sent `request` and nothing more.
int stalled_connection(const std::string& address, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(address.find(':') + 1))));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0);
    REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    return fd;
}

// 1,000 sockets here and as many in the daemon, which inherits the limit.
void allow_open_files(rlim_t wanted) {
    rlimit files{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &files) == 0);
    if (files.rlim_cur >= wanted) return;
    files.rlim_cur = std::min(wanted, files.rlim_max);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &files) == 0);
    REQUIRE(files.rlim_cur == wanted);
}

// Runs journeyd with `arguments` to its end (it must not start, so it ends at once; the
// timeout guards against one that does start) and returns its exit status and output.
std::pair<int, std::string> run_journeyd(const std::string& arguments) {
    return test::run_command("timeout 20 " + std::string(JOURNEYD_BINARY) + " " + arguments);
}

}  // namespace

TEST_CASE("limits: journeyd refuses an admin port other machines reach without a token") {
    char directory[] = "/tmp/journeyd-limits-XXXXXX";
    REQUIRE(::mkdtemp(directory));
    const std::string data = std::string(directory) + "/data";
    const auto [status, output] =
        run_journeyd("--data-dir " + data + " --ingest 127.0.0.1:0 --admin 0.0.0.0:0");
    INFO(output);
    CHECK(status == 2);
    CHECK(output.find("journeyd not started: admin address \"0.0.0.0:0\" is reachable from "
                      "other machines but [admin] token is empty") != std::string::npos);
    std::system(("rm -rf " + std::string(directory)).c_str());
}

TEST_CASE(
    "limits: a connection over [ingest] max_connections gets an error naming it, then closes") {
    DaemonProcess daemon(config_with("[ingest]\nmax_connections = 2\n"));
    auto first = std::make_unique<IngestClient>(IngestClient::connect(daemon.ingest(), 10s));
    IngestClient second = IngestClient::connect(daemon.ingest(), 10s);
    REQUIRE(accepted(*first, "c1"));  // both sessions exist once they have answered
    REQUIRE(accepted(second, "c2"));
    IngestClient third = IngestClient::connect(daemon.ingest(), 10s);
    const json refused = third.read_response();  // unasked: the answer to any first frame
    CHECK(refused["ok"] == false);
    CHECK(refused["error"] ==
          "too many connections: 2 open, [ingest] max_connections = 2; closing the connection");
    CHECK_THROWS_AS(third.read_response(), IngestError);  // closed
    CHECK(limit_hits(daemon, "max_connections") == 1);
    CHECK(daemon.log().find("ingest: connection refused: 2 open, [ingest] max_connections = 2") !=
          std::string::npos);
    CHECK(accepted(second, "c4"));  // the others never noticed
    first.reset();                  // a slot frees up once that session has ended
    CHECK(poll_until([&] {
        try {
            IngestClient again = IngestClient::connect(daemon.ingest(), 10s);
            return accepted(again, "c5");
        } catch (const IngestError&) {
            return false;
        }
    }));
}

TEST_CASE("limits: a frame over [ingest] max_frame is answered and the connection closed") {
    DaemonProcess daemon(config_with("[ingest]\nmax_frame = 1000\n"));
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    json big = event("big");
    big["attrs"] = {{"note", std::string(1500, 'x')}};
    client.send_frame(encode_event(big));
    const json answer = client.read_response();
    CHECK(answer["ok"] == false);
    CHECK(answer["error"].get<std::string>().find("is outside 1..1000") != std::string::npos);
    CHECK_THROWS_AS(client.read_response(), IngestError);  // closed
    CHECK(limit_hits(daemon, "max_frame") == 1);
    IngestClient other = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(accepted(other, "small"));
}

// Both stop reading until an answer or a write makes room again; every frame is still
// answered, whether the connection got them from one read and takes them from its own
// buffer, or from many reads with frames waiting in the kernel's buffer while it is paused.
TEST_CASE("limits: [ingest] max_pending_frames and max_unsent_bytes pause reading, lose nothing") {
    const std::string limit = GENERATE("max_pending_frames", "max_unsent_bytes");
    const bool one_write = GENERATE(true, false);
    const std::string value = limit == "max_pending_frames" ? "4" : "1";
    CAPTURE(limit, one_write);
    DaemonProcess daemon(config_with("[ingest]\n" + limit + " = " + value + "\n"));
    constexpr int kFrames = 60;
    std::vector<std::string> frames;
    for (int i = 0; i < kFrames; ++i) {
        const std::string body =
            encode_event(event("p" + std::to_string(i), "c" + std::to_string(i)));
        frames.push_back(test::framed(body));
    }
    const std::vector<json> answers = exchange(daemon.ingest(), frames, one_write, kFrames);
    REQUIRE(answers.size() == kFrames);
    for (const json& answer : answers) CHECK(answer["accepted"] == 1);
    CHECK(limit_hits(daemon, limit) >= 1);
    auto stats = daemon.admin().Get("/stats");
    REQUIRE(stats);
    CHECK(json::parse(stats->body)["limit_hits"][limit] >= 1);
    CHECK(json::parse(stats->body)["events_total"] == kFrames);
}

TEST_CASE("limits: a request body over [admin] max_body is answered 413") {
    DaemonProcess daemon(config_with("[admin]\nmax_body = 100\n"));
    httplib::Client admin = daemon.admin();
    const std::string small = event("s1").dump();
    REQUIRE(small.size() < 100);
    CHECK(admin.Post("/customers/lim/events", small, "application/json")->status == 202);
    json large = event("s2");
    large["attrs"] = {{"note", std::string(200, 'x')}};
    auto refused = admin.Post("/customers/lim/events", large.dump(), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 413);
    CHECK(json::parse(refused->body)["error"] == "request body over 100 bytes");
    CHECK(limit_hits(daemon, "max_body") == 1);
    CHECK(daemon.log().find("body over [admin] max_body = 100 bytes") != std::string::npos);
}

// cpp-httplib's default pool had a few threads, each blocked reading a slow client: 64
// half-sent requests made GET /health time out after 5 s. Default [admin] limits here.
TEST_CASE("limits: the admin port answers /health within 1 s while 1,000 clients stall") {
    allow_open_files(4096);
    DaemonProcess daemon(config_with(""));
    std::vector<int> stalled;
    for (int i = 0; i < 1000; ++i)
        stalled.push_back(stalled_connection(
            daemon.admin_address(), i % 2 == 0 ? "" : "GET /health HTTP/1.1\r\nHost: x\r\n"));
    httplib::Client admin = daemon.admin();
    const auto start = std::chrono::steady_clock::now();
    auto health = admin.Get("/health");
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(took < 1s);
    for (const int fd : stalled) ::close(fd);
}

TEST_CASE("limits: [admin] max_connections answers 503; read_timeout closes stalled requests") {
    allow_open_files(4096);
    DaemonProcess daemon(config_with("[admin]\nmax_connections = 20\nread_timeout = \"1s\"\n"));
    // A connection the daemon has not yet seen end (the start's health checks, a /metrics
    // just read) may still hold a slot, so one of the 20 below may be the one refused; it is
    // told so at once, and counted below, instead of timing out.
    std::vector<int> stalled;
    std::vector<bool> half_sent;
    for (int i = 0; i < 20; ++i) {
        half_sent.push_back(i % 2 == 1);
        stalled.push_back(stalled_connection(
            daemon.admin_address(), half_sent.back() ? "GET /health HTTP/1.1\r\nHost: x\r\n" : ""));
    }
    const int over = stalled_connection(daemon.admin_address(), "");
    bool closed = false;
    const std::string refused = test::read_until_closed(over, 5s, closed);
    ::close(over);
    CHECK(closed);
    CHECK(refused.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
    CHECK(refused.find(
              R"({"error":"admin port busy: 20 connections open, [admin] max_connections"})") !=
          std::string::npos);
    // Idle and half-sent alike are closed once the read timeout has passed.
    const auto start = std::chrono::steady_clock::now();
    uint64_t refusals = 1;  // `over`
    uint64_t timed_out = 0;
    for (size_t i = 0; i < stalled.size(); ++i) {
        const std::string answer = test::read_until_closed(stalled[i], 5s, closed);
        CHECK(closed);
        ::close(stalled[i]);
        if (answer.rfind("HTTP/1.1 503", 0) == 0)
            ++refusals;
        else
            timed_out += half_sent[i];  // an idle one is not counted: nothing of it had come
    }
    CHECK(refusals <= 2);  // one connection at most can linger from before
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(limit_hits(daemon, "admin_max_connections") == refusals);
    CHECK(limit_hits(daemon, "read_timeout") == timed_out);
    auto stats = daemon.admin().Get("/stats");
    REQUIRE(stats);
    CHECK(json::parse(stats->body)["limit_hits"]["read_timeout"] == timed_out);
    CHECK(daemon.log().find("admin: connection refused: 20 open, [admin] max_connections = 20") !=
          std::string::npos);
}

// cpp-httplib's own timeout was per read: a client sending a byte now and then kept its
// thread for as long as it liked.
TEST_CASE("limits: [admin] read_timeout bounds a whole request, however it trickles in") {
    DaemonProcess daemon(config_with("[admin]\nread_timeout = \"1s\"\n"));
    const int fd = stalled_connection(daemon.admin_address(), "GET /health HTTP/1.1\r\n");
    std::atomic<bool> done{false};
    std::thread trickle([&] {
        while (!done && ::send(fd, "X", 1, MSG_NOSIGNAL) == 1) std::this_thread::sleep_for(200ms);
    });
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    test::read_until_closed(fd, 5s, closed);
    const auto took = std::chrono::steady_clock::now() - start;
    done = true;
    trickle.join();
    ::close(fd);
    CHECK(closed);
    CHECK(took < 2s);
    CHECK(limit_hits(daemon, "read_timeout") == 1);
}
