// GET /metrics of the real journeyd, with samples in every histogram and stage names that need
// escaping, as Prometheus reads it: `promtool check metrics` (Debian's prometheus package,
// scripts/deps.sh) must accept it without a single complaint, lint warnings included.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/client/ingest_client.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using test::DaemonProcess;
using test::poll_until;

namespace {

// Stages named with a double quote, a backslash, a newline and non-ASCII letters; every
// customer moves through two of them, its timer fires and the welcome program decides.
const char* const kConfig = R"(
[delivery]
sink = "file:deliveries.ndjson"

[journey]
stages = ["new", "say \"hi\"", "back\\slash", "two\nlines", "größe"]
initial_stage = "new"

[[journey.transition]]
on = "search"
to = "say \"hi\""

[[journey.timer]]
name = "lapse"
in = ["say \"hi\""]
after = "1s"
to = "back\\slash"

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "welcome-1"

[pressure]
hierarchy = ["lifecycle"]
arbitration_window = "0s"
)";

struct CommandResult {
    int exit_status = -1;
    std::string output;  // stdout and stderr
};

CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe);
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
        result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

}  // namespace

TEST_CASE("metrics: promtool accepts journeyd's /metrics without a problem") {
    if (run("command -v promtool").exit_status != 0)
        FAIL(
            "promtool is not installed: scripts/deps.sh installs it (Debian's prometheus package)");

    DaemonProcess daemon(kConfig);
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    for (const char* customer : {"c1", "c2", "c3"}) {
        client.send_frame(encode_event(
            {{"id", std::string("e-") + customer}, {"customer", customer}, {"type", "search"}}));
        REQUIRE(client.read_response()["accepted"] == 1);
    }
    const std::vector<std::string> expected = {
        "journeyd_event_to_decision_seconds_count 3",
        "journeyd_timer_lateness_seconds_count 3",
        R"(journeyd_customers_in_stage{stage="back\\slash"} 3)",
        R"(journeyd_customers_in_stage{stage="say \"hi\""} 0)",
        R"(journeyd_customers_in_stage{stage="two\nlines"} 0)",
        R"(journeyd_customers_in_stage{stage="größe"} 0)"};
    std::string exposition;
    const bool complete = poll_until([&] {
        auto answer = daemon.admin().Get("/metrics");
        exposition = answer && answer->status == 200 ? answer->body : "";
        for (const std::string& line : expected)
            if (exposition.find(line + "\n") == std::string::npos) return false;
        return true;
    });
    INFO(exposition);
    REQUIRE(complete);

    char path[] = "/tmp/journeyd-metrics-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    std::ofstream(path, std::ios::binary) << exposition;
    const CommandResult checked = run(std::string("promtool check metrics < ") + path);
    std::remove(path);
    INFO("promtool said:\n" << checked.output);
    CHECK(checked.exit_status == 0);
    CHECK(checked.output.empty());
}
