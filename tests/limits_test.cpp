// Security defaults and limits of the real journeyd: it refuses an open admin port without
// a token, and each configurable limit holds and is counted in
// journeyd_limit_hits_total{limit="..."} when a client runs into it.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/client/ingest_client.hpp"
#include "state/codec/event_codec.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/raw_ingest.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;
using test::poll_until;

namespace {

std::string config_with(const std::string& limits) {
    return R"(
[journey]
stages = ["new", "exploring"]
initial_stage = "new"

[[journey.transition]]
on = "search"
to = "exploring"

[pressure]
hierarchy = ["lifecycle"]
arbitration_window = "0s"
)" + limits;
}

json event(const std::string& id, const std::string& customer = "lim") {
    return {{"id", id}, {"customer", customer}, {"type", "search"}};
}

uint64_t limit_hits(const DaemonProcess& daemon, const std::string& limit) {
    auto answer = daemon.admin().Get("/metrics");
    REQUIRE(answer);
    const std::string series = "journeyd_limit_hits_total{limit=\"" + limit + "\"} ";
    const size_t at = answer->body.find(series);
    REQUIRE(at != std::string::npos);
    return std::stoull(answer->body.substr(at + series.size()));
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

// Runs journeyd with `arguments` to its end (it must not start, so it ends at once; the
// timeout guards against one that does start) and returns its exit status and output.
std::pair<int, std::string> run_journeyd(const std::string& arguments) {
    const std::string command =
        "timeout 20 " + std::string(JOURNEYD_BINARY) + " " + arguments + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    std::string output;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
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

TEST_CASE("limits: a connection over [ingest] max_connections is closed right after accept") {
    DaemonProcess daemon(config_with("[ingest]\nmax_connections = 2\n"));
    auto first = std::make_unique<IngestClient>(IngestClient::connect(daemon.ingest(), 10s));
    IngestClient second = IngestClient::connect(daemon.ingest(), 10s);
    REQUIRE(accepted(*first, "c1"));  // both sessions exist once they have answered
    REQUIRE(accepted(second, "c2"));
    IngestClient third = IngestClient::connect(daemon.ingest(), 10s);
    CHECK_THROWS_AS(accepted(third, "c3"), IngestError);
    CHECK(limit_hits(daemon, "max_connections") == 1);
    CHECK(daemon.log().find("ingest: connection closed: 2 open, [ingest] max_connections = 2") !=
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
