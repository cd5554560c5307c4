// Who may use the ingest port and for how long, through the real journeyd: the [ingest] token
// hello, TLS (checked with real TLS clients: openssl s_client and Python's ssl through
// examples/event_source.py), idle_timeout, and the error frame of a refused connection
// (docs/protocol.md "Authentication", "TLS" and "Limits").
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/client/ingest_client.hpp"
#include "tests/support/command.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/raw_ingest.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;
using test::framed;

namespace {

const std::string kTlsDir = JOURNEYD_SOURCE_DIR "/tests/data/tls";

std::string config_with(const std::string& ingest) {
    return test::kTwoStageJourney + std::string("\n[store]\nsync = false\n\n[ingest]\n") + ingest;
}

std::string tls_settings() {
    return "tls_cert = \"" + kTlsDir + "/cert.pem\"\ntls_key = \"" + kTlsDir + "/key.pem\"\n";
}

std::string event_body(const std::string& id) {
    return encode_event({{"id", id}, {"customer", "acc"}, {"type", "search"}});
}

// The answers the daemon sends on a new raw connection after `bytes`, until it closes the
// connection (`closed`) or 5 s pass.
std::vector<json> answers_after(const std::string& ingest, const std::string& bytes, bool& closed) {
    const int fd = test::connect_raw(ingest);
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
    const std::string received = test::read_until_closed(fd, 5s, closed);
    ::close(fd);
    test::AnswerReader reader;
    reader.append(received.data(), received.size());
    std::vector<json> answers;
    while (auto answer = reader.next()) answers.push_back(std::move(*answer));
    return answers;
}

}  // namespace

TEST_CASE("ingest token: a hello with it opens the connection; anything else ends it") {
    DaemonProcess daemon(config_with("token = \"s3cret\"\n"));

    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    client.hello("s3cret");
    client.send_frame(event_body("t1"));
    CHECK(client.read_response()["accepted"] == 1);

    // A hello and events written together, before any answer is read.
    bool closed = false;
    auto answers = answers_after(
        daemon.ingest(),
        framed(encode_hello("s3cret")) + framed(event_body("t2")) + framed(event_body("t3")),
        closed);
    REQUIRE(answers.size() == 3);
    CHECK(answers[0] == json{{"ok", true}});
    CHECK(answers[1]["accepted"] == 1);
    CHECK(answers[2]["accepted"] == 1);

    // A wrong token: one error, then the connection ends; what followed is not applied.
    answers = answers_after(daemon.ingest(),
                            framed(encode_hello("guess")) + framed(event_body("t4")), closed);
    CHECK(closed);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0] == json{{"ok", false}, {"error", "wrong token; closing the connection"}});

    // No hello at all.
    answers = answers_after(daemon.ingest(), framed(event_body("t5")), closed);
    CHECK(closed);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0]["error"] ==
          "this port needs a hello first: {\"hello\": {\"token\": \"...\"}}; closing the "
          "connection");

    // A hello without a token string.
    answers = answers_after(daemon.ingest(), framed(encode_event({{"hello", 1}})), closed);
    CHECK(closed);
    REQUIRE(answers.size() == 1);
    CHECK(answers[0]["error"].get<std::string>().rfind("a hello is {\"hello\"", 0) == 0);

    IngestClient wrong = IngestClient::connect(daemon.ingest(), 10s);
    CHECK_THROWS_WITH(wrong.hello("guess"), Catch::Contains("refused the hello: wrong token"));
    CHECK(daemon.metric("journeyd_ingest_auth_failures_total") == 4);
    CHECK(daemon.metric("journeyd_events_total") == 3);  // t1, t2, t3
}

TEST_CASE("ingest token: without one, a hello is accepted and not needed") {
    DaemonProcess daemon(config_with(""));
    bool closed = false;
    const auto answers = answers_after(
        daemon.ingest(), framed(encode_hello("anything")) + framed(event_body("n1")), closed);
    REQUIRE(answers.size() == 2);
    CHECK(answers[0] == json{{"ok", true}});
    CHECK(answers[1]["accepted"] == 1);
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    client.send_frame(event_body("n2"));
    CHECK(client.read_response()["accepted"] == 1);
    CHECK(daemon.metric("journeyd_ingest_auth_failures_total") == 0);
}

TEST_CASE("ingest idle_timeout: a silent connection is closed, a talking one is not") {
    DaemonProcess daemon(config_with("idle_timeout = \"1s\"\n"));
    const int silent = test::connect_raw(daemon.ingest());
    IngestClient talking = IngestClient::connect(daemon.ingest(), 10s);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) {  // 2.4 s, never 1 s without a frame
        talking.send_frame(event_body("i" + std::to_string(i)));
        CHECK(talking.read_response()["accepted"] == 1);
        std::this_thread::sleep_for(400ms);
    }
    bool closed = false;
    CHECK(test::read_until_closed(silent, 5s, closed).empty());
    CHECK(closed);
    ::close(silent);
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    talking.send_frame(event_body("i-last"));
    CHECK(talking.read_response()["accepted"] == 1);
    CHECK(daemon.metric("journeyd_limit_hits_total{limit=\"idle_timeout\"}") == 1);
    CHECK(daemon.log().find("nothing received for 1000 ms ([ingest] idle_timeout)") !=
          std::string::npos);
}

TEST_CASE("ingest idle_timeout = \"0s\" never closes a silent connection") {
    DaemonProcess daemon(config_with("idle_timeout = \"0s\"\n"));
    const int silent = test::connect_raw(daemon.ingest());
    bool closed = true;
    test::read_until_closed(silent, 1500ms, closed);
    CHECK_FALSE(closed);
    const std::string frame = framed(event_body("z1"));
    REQUIRE(::send(silent, frame.data(), frame.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(frame.size()));
    ::close(silent);
    CHECK(daemon.metric("journeyd_limit_hits_total{limit=\"idle_timeout\"}") == 0);
}

TEST_CASE("ingest TLS: openssl s_client verifies the certificate and gets every answer") {
    // The daemon ends the session (close_notify, then FIN) once idle, which ends s_client.
    // Few frames in flight, so that reading pauses and resumes under TLS too.
    DaemonProcess daemon(
        config_with(tls_settings() + "idle_timeout = \"1s\"\nmax_pending_frames = 8\n"));
    constexpr int kFrames = 5'000;
    std::string frames;
    for (int i = 0; i < kFrames; ++i)
        frames +=
            framed(i % 10 == 9 ? std::string("\xc1", 1) : event_body("s" + std::to_string(i)));
    const std::string input = daemon.directory() + "/frames.bin";
    std::ofstream(input, std::ios::binary) << frames;
    // Its stderr (the verification) must not mix with the answers' bytes.
    const std::string output =
        test::run_command("(openssl s_client -quiet -verify_return_error -CAfile " + kTlsDir +
                          "/cert.pem -servername localhost -connect " + daemon.ingest() + " < " +
                          input + " 2>/dev/null)")
            .second;
    test::AnswerReader reader;
    reader.append(output.data(), output.size());
    std::vector<json> answers;
    while (auto answer = reader.next()) answers.push_back(std::move(*answer));
    REQUIRE(answers.size() == kFrames);
    for (int i = 0; i < kFrames; ++i) {
        INFO("frame " << i);
        CHECK(answers[i].value("ok", false) == (i % 10 != 9));
    }
    CHECK(daemon.metric("journeyd_events_total") == kFrames / 10 * 9);
    CHECK(daemon.metric("journeyd_ingest_backpressure_pauses_total") > 0);
    CHECK(daemon.metric("journeyd_ingest_tls_failures_total") == 0);
}

TEST_CASE("ingest TLS: plain TCP to a TLS port is refused; the port keeps serving TLS") {
    DaemonProcess daemon(config_with(tls_settings() + "token = \"s3cret\"\n"));
    bool closed = false;
    const auto answers = answers_after(daemon.ingest(), framed(event_body("p1")), closed);
    CHECK(closed);
    CHECK(answers.empty());
    CHECK(
        test::poll_until([&] { return daemon.metric("journeyd_ingest_tls_failures_total") == 1; }));
    CHECK(daemon.metric("journeyd_events_total") == 0);

    // Python's ssl through the example event source: TLS, then the hello, then five events.
    const std::string output = test::run_command("/usr/bin/python3 " JOURNEYD_SOURCE_DIR
                                                 "/examples/event_source.py --ingest " +
                                                 daemon.ingest() + " --tls --cafile " + kTlsDir +
                                                 "/cert.pem --token s3cret --customer py")
                                   .second;
    INFO(output);
    CHECK(output.find("frame 3 (batch of 3): {'ok': True, 'accepted': 3") != std::string::npos);
    CHECK(daemon.metric("journeyd_events_total") == 5);
}
