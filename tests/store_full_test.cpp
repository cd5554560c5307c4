// A full store, through the ports of the real daemon. Filled up (a small [store] max_size, or a
// really full filesystem), journeyd answers events with the store's error and acknowledges
// none of them, keeps answering reads, and says "store": "full" on /health. It takes events
// again once a commit succeeds: after space was freed, or after a restart with a larger
// max_size, also one that follows a SIGKILL while the store was full. Stopped while full, it
// stops, and starts again full. Then every acknowledged
// event is there once, the refused ones are new when sent again, and every customer's welcome
// was delivered once.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "runtime/client/ingest_client.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/small_tmpfs.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;

namespace {

// The test journey (a welcome e-mail for every new customer), decided at once, into the file
// sink's deliveries.ndjson beside the data directory.
std::string store_config(const std::string& max_size) {
    return "[node]\nname = \"full\"\n\n[store]\nmax_size = \"" + max_size + "\"\n" +
           test::kTestJourney + "arbitration_window = \"0s\"\n";
}

void reconfigure(const DaemonProcess& daemon, const std::string& max_size) {
    std::ofstream(daemon.directory() + "/journeyd.toml") << store_config(max_size);
}

json admin_json(const DaemonProcess& daemon, const std::string& path) {
    auto answer = daemon.admin().Get(path.c_str());
    REQUIRE(answer);
    REQUIRE(answer->status == 200);
    return json::parse(answer->body);
}

std::string customer_name(int i) {
    return "c-" + std::to_string(i);
}

json signup(int i) {
    return {
        {"id", "signup-" + std::to_string(i)}, {"customer", customer_name(i)}, {"type", "view"}};
}

// What sending the signups of customers [first, first + count) in frames of kFrame came to.
struct Sent {
    std::set<int> acknowledged;  // customers whose event was accepted (or a duplicate)
    std::set<int> refused;       // customers whose event was answered with an error
    std::string error;           // the first refusal's
};

constexpr int kFrame = 50;

Sent send_signups(const DaemonProcess& daemon, int first, int count) {
    Sent sent;
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    for (int begin = first; begin < first + count; begin += kFrame) {
        std::vector<json> events;
        for (int i = begin; i < std::min(first + count, begin + kFrame); ++i)
            events.push_back(signup(i));
        client.send_frame(encode_batch(events));
        const json answer = client.read_response();
        REQUIRE(answer.contains("errors"));
        std::set<int> failed;
        for (const json& error : answer["errors"]) {
            failed.insert(begin + error["index"].get<int>());
            if (sent.error.empty()) sent.error = error["error"].get<std::string>();
        }
        for (int i = begin; i < begin + static_cast<int>(events.size()); ++i)
            (failed.count(i) ? sent.refused : sent.acknowledged).insert(i);
    }
    return sent;
}

// Sends frames of new customers until the store refuses one: the customers sent so far.
Sent fill(const DaemonProcess& daemon, int max_customers) {
    Sent all;
    for (int first = 0; first < max_customers && all.refused.empty(); first += 10 * kFrame) {
        Sent sent = send_signups(daemon, first, 10 * kFrame);
        all.acknowledged.insert(sent.acknowledged.begin(), sent.acknowledged.end());
        all.refused.insert(sent.refused.begin(), sent.refused.end());
        if (all.error.empty()) all.error = sent.error;
    }
    return all;
}

std::map<std::string, int> welcomes_delivered(const DaemonProcess& daemon) {
    std::map<std::string, int> welcomes;
    std::ifstream file(daemon.directory() + "/deliveries.ndjson");
    for (std::string line; std::getline(file, line);) {
        const json delivery = json::parse(line);
        if (delivery["program"] == "welcome") ++welcomes[delivery["customer"].get<std::string>()];
    }
    return welcomes;
}

// Once the outbox is empty, each of the first `customers` got exactly one welcome.
void check_welcomed_once(const DaemonProcess& daemon, int customers) {
    REQUIRE(test::poll_until([&] { return admin_json(daemon, "/stats")["outbox"] == 0; }));
    const std::map<std::string, int> welcomes = welcomes_delivered(daemon);
    for (int i = 0; i < customers; ++i) {
        INFO(customer_name(i));
        auto found = welcomes.find(customer_name(i));
        CHECK((found == welcomes.end() ? 0 : found->second) == 1);
    }
}

// After a refusal: /health says full, reads are answered, and events are still refused.
void check_full(const DaemonProcess& daemon, const Sent& sent) {
    INFO(sent.error);
    REQUIRE_FALSE(sent.refused.empty());
    CHECK(sent.error.rfind("not applied: ", 0) == 0);
    const json health = admin_json(daemon, "/health");
    CHECK(health["status"] == "ok");
    CHECK(health["store"] == "full");
    CHECK_FALSE(health["store_error"].get<std::string>().empty());
    CHECK(daemon.metric("journeyd_store_full") == 1);
    const int stored = *sent.acknowledged.begin();
    CHECK(admin_json(daemon, "/customers/" + customer_name(stored))["id"] == customer_name(stored));
    CHECK(send_signups(daemon, *sent.refused.begin(), 1).refused.size() == 1);
}

// Every acknowledged customer is stored once; the refused ones are new when sent again.
void check_after_recovery(const DaemonProcess& daemon, const Sent& sent) {
    REQUIRE(test::poll_until([&] { return admin_json(daemon, "/health")["store"] == "ok"; }));
    const json stats = admin_json(daemon, "/stats");
    CHECK(stats["customers_stored"] == sent.acknowledged.size());
    const int last = std::max(*sent.acknowledged.rbegin(), *sent.refused.rbegin());
    const Sent again = send_signups(daemon, 0, last + 1);
    CHECK(again.refused.empty());
    CHECK(admin_json(daemon, "/stats")["customers_stored"] == last + 1);
    CHECK(admin_json(daemon, "/stats")["events_duplicate"] == sent.acknowledged.size());
    check_welcomed_once(daemon, last + 1);
}

}  // namespace

TEST_CASE(
    "store full: max_size reached refuses events, and after SIGKILL a larger one takes "
    "them") {
    DaemonProcess daemon(store_config("1MiB"));
    const Sent sent = fill(daemon, 50'000);
    check_full(daemon, sent);
    std::cout << "store full test: " << sent.acknowledged.size() << " customers fit in 1 MiB"
              << std::endl;

    // Stopped while full, it stops (nothing waits for a commit); it starts again full, from
    // what the log holds that LMDB could not take.
    CHECK(daemon.stop() == 0);
    daemon.restart();
    check_full(daemon, sent);

    daemon.kill_hard();
    reconfigure(daemon, "64MiB");
    daemon.restart();
    check_after_recovery(daemon, sent);
}

TEST_CASE("store full: a full filesystem refuses events until space is freed") {
    DaemonProcess daemon(store_config("64MiB"));
    daemon.stop();
    // The store begins again on a filesystem of 3 MiB, half a MiB of it taken by a filler.
    REQUIRE(std::rename((daemon.directory() + "/data").c_str(),
                        (daemon.directory() + "/data-before").c_str()) == 0);
    test::SmallTmpfs disk(daemon.directory() + "/data", 3 << 20);
    if (!disk.mounted()) {
        WARN(disk.skip_message());
        return;
    }
    disk.write_filler("filler", 512 << 10);
    daemon.restart();

    const Sent sent = fill(daemon, 50'000);
    check_full(daemon, sent);
    CHECK(sent.error.find("No space left on device") != std::string::npos);

    std::remove(disk.sub("filler").c_str());
    const auto freed = std::chrono::steady_clock::now();
    REQUIRE(test::poll_until([&] { return admin_json(daemon, "/health")["store"] == "ok"; }));
    std::cout << "store full test: " << sent.acknowledged.size()
              << " customers fit; events taken again "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - freed)
                     .count()
              << " ms after space was freed" << std::endl;
    check_after_recovery(daemon, sent);
    daemon.stop();  // before the filesystem goes
}
