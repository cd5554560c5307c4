// Integration tests of the admin port with [admin] tls_cert / tls_key: the real journeyd,
// reached by real TLS clients (openssl s_client, journeyctl) and by clients that do not speak
// TLS or never finish the handshake. The certificate is tests/data/tls/cert.pem (self-signed,
// CN and SAN localhost, 127.0.0.1, ::1), so it is also the CA the clients trust.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/support/command.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/raw_ingest.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using test::DaemonProcess;
using test::read_until_closed;
using test::run_command;

namespace {

const std::string kTlsData = std::string(JOURNEYD_SOURCE_DIR) + "/tests/data/tls/";
const std::string kCert = kTlsData + "cert.pem";

std::string tls_config(const std::string& cert, const std::string& key,
                       const std::string& extra = "") {
    return std::string(test::kTwoStageJourney) + "[admin]\ntls_cert = \"" + cert +
           "\"\ntls_key = \"" + key + "\"\n" + extra;
}

std::string admin_https(const DaemonProcess& daemon) {
    return "https://" + daemon.admin_address();
}

uint64_t handshake_failures(const DaemonProcess& daemon) {
    auto answer = daemon.admin().Get("/metrics");
    REQUIRE(answer);
    const std::string series = "\njourneyd_admin_tls_failures_total ";  // not the # HELP line
    const size_t at = answer->body.find(series);
    REQUIRE(at != std::string::npos);
    return std::stoull(answer->body.substr(at + series.size()));
}

// openssl s_client sending one request; -quiet keeps it reading until the server closes.
std::pair<int, std::string> s_client_get(const DaemonProcess& daemon, const std::string& options) {
    return run_command(
        "printf 'GET /health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | "
        "timeout 20 openssl s_client -quiet -connect " +
        daemon.admin_address() + " " + options);
}

}  // namespace

TEST_CASE("admin TLS: openssl s_client verifies the certificate and gets /health") {
    DaemonProcess daemon(tls_config(kCert, kTlsData + "key.pem"), kCert);
    const auto [status, output] =
        s_client_get(daemon, "-CAfile " + kCert + " -verify_return_error -verify_ip 127.0.0.1");
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("verify return:1") != std::string::npos);
    CHECK(output.find("HTTP/1.1 200 OK") != std::string::npos);
    CHECK(output.find("\"status\":\"ok\"") != std::string::npos);
    // Not trusting the certificate, the same client refuses: the check above was real.
    const auto [untrusting, refused] = s_client_get(daemon, "-verify_return_error");
    INFO(refused);
    CHECK(untrusting != 0);
    CHECK(refused.find("HTTP/1.1") == std::string::npos);
    CHECK(daemon.log().find("admin: TLS on, certificate CN=localhost, expires 2126-") !=
          std::string::npos);
}

TEST_CASE("admin TLS: plain HTTP on the HTTPS port gets no answer; the daemon serves on") {
    DaemonProcess daemon(tls_config(kCert, kTlsData + "key.pem"), kCert);
    const int fd = test::connect_raw(daemon.admin_address());
    const std::string request = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    bool closed = false;
    const std::string received = read_until_closed(fd, 5s, closed);
    ::close(fd);
    CHECK(closed);
    CHECK(received.find("HTTP/1.1") == std::string::npos);
    CHECK(handshake_failures(daemon) == 1);
    CHECK(daemon.log().find("admin: TLS handshake with 127.0.0.1:") != std::string::npos);
    auto health = daemon.admin().Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
}

// A client that connects and never sends its ClientHello holds one connection thread, for
// read_timeout at most; the others keep serving.
TEST_CASE("admin TLS: silent connections are closed after read_timeout; /health answers") {
    DaemonProcess daemon(tls_config(kCert, kTlsData + "key.pem", "read_timeout = \"1s\"\n"), kCert);
    std::vector<int> silent;
    for (int i = 0; i < 100; ++i) silent.push_back(test::connect_raw(daemon.admin_address()));
    const auto start = std::chrono::steady_clock::now();
    httplib::Client admin = daemon.admin();
    auto health = admin.Get("/health");
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(took < 1s);
    for (const int fd : silent) {
        bool closed = false;
        read_until_closed(fd, 5s, closed);
        CHECK(closed);
        ::close(fd);
    }
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(handshake_failures(daemon) == 100);
    CHECK(daemon.log().find("no handshake within [admin] read_timeout = 1000 ms") !=
          std::string::npos);
}

TEST_CASE("admin TLS: a certificate or key that cannot be used stops journeyd at start") {
    char directory[] = "/tmp/journeyd-tls-XXXXXX";
    REQUIRE(::mkdtemp(directory));
    const std::string config = std::string(directory) + "/journeyd.toml";
    const auto start_with = [&](const std::string& cert, const std::string& key) {
        std::ofstream(config) << tls_config(cert, key);
        return run_command("timeout 20 " + std::string(JOURNEYD_BINARY) + " --config " + config +
                           " --data-dir " + directory + "/data --ingest 127.0.0.1:0" +
                           " --admin 127.0.0.1:0");
    };
    const std::string missing = kTlsData + "missing.pem";
    const auto [no_cert, no_cert_output] = start_with(missing, kTlsData + "key.pem");
    INFO(no_cert_output);
    CHECK(no_cert == 1);
    CHECK(no_cert_output.find("journeyd not started: [admin] tls_cert \"" + missing +
                              "\": cannot use it: No such file or directory") != std::string::npos);
    const std::string other_key = kTlsData + "other_key.pem";
    const auto [mismatched, mismatched_output] = start_with(kCert, other_key);
    INFO(mismatched_output);
    CHECK(mismatched == 1);
    CHECK(mismatched_output.find("journeyd not started: [admin] tls_key \"" + other_key +
                                 "\" cannot be used with tls_cert \"" + kCert +
                                 "\": key values mismatch") != std::string::npos);
    std::system(("rm -rf " + std::string(directory)).c_str());
}

TEST_CASE("admin TLS: journeyctl reaches https://HOST:PORT trusting --tls-ca") {
    DaemonProcess daemon(tls_config(kCert, kTlsData + "key.pem"), kCert);
    const std::string journeyctl = std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin ";
    const auto [status, output] =
        run_command(journeyctl + admin_https(daemon) + " --tls-ca " + kCert + " stats");
    INFO(output);
    CHECK(status == 0);
    CHECK(output.find("\"events_total\"") != std::string::npos);
    // The system's store does not hold the test's self-signed certificate.
    const auto [untrusting, untrusted_output] =
        run_command(journeyctl + admin_https(daemon) + " stats");
    INFO(untrusted_output);
    CHECK(untrusting == 2);
    CHECK(untrusted_output.find("not trusted") != std::string::npos);
    // HOST:PORT alone is plain HTTP, which the port does not answer.
    const auto [plain, plain_output] = run_command(journeyctl + daemon.admin_address() + " stats");
    INFO(plain_output);
    CHECK(plain == 2);
    CHECK(plain_output.find("if the port speaks HTTPS: --admin https://HOST:PORT") !=
          std::string::npos);
}

// A TLS 503 would need the handshake on the accepting thread; the connection is closed instead.
TEST_CASE("admin TLS: a connection over [admin] max_connections is closed unanswered") {
    DaemonProcess daemon(
        tls_config(kCert, kTlsData + "key.pem", "max_connections = 2\nread_timeout = \"2s\"\n"),
        kCert);
    const int first = test::connect_raw(daemon.admin_address());
    const int second = test::connect_raw(daemon.admin_address());
    const int over = test::connect_raw(daemon.admin_address());
    bool closed = false;
    const std::string received = read_until_closed(over, 1s, closed);
    CHECK(closed);
    CHECK(received.empty());
    for (const int fd : {first, second, over}) ::close(fd);
    CHECK(test::poll_until([&] {
        return daemon.log().find(
                   "admin: connection refused (closed before the TLS handshake): "
                   "2 open, [admin] max_connections = 2") != std::string::npos;
    }));
}
