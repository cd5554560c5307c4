// Dead letters across SIGKILL: the HTTP endpoint refuses the welcome of every fourth customer
// for good (422) until it is fixed. The daemon is killed while it delivers and parks, and
// again while an operator sends the dead letters again. Afterwards no acknowledged send is
// lost: every customer's welcome reached the endpoint, none while it was refused, and neither
// a dead letter nor an outbox entry is left. The HTTP sink delivers at least once: a send
// answered 2xx just before a kill may arrive twice, and the count is printed.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runtime/client/ingest_client.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;

namespace {

constexpr int kCustomers = 400;

std::string customer_name(int i) {
    return (i % 4 == 0 ? "bad-" : "good-") + std::to_string(i);
}

// The test journey (a welcome e-mail for every new customer), decided at once, sent to the
// test's endpoint.
std::string dead_letter_config(int endpoint_port) {
    return "[node]\nname = \"deadletters\"\n\n[delivery]\nsink = \"http://127.0.0.1:" +
           std::to_string(endpoint_port) + "/deliveries\"\n" + test::kTestJourney +
           "arbitration_window = \"0s\"\n";
}

// The endpoint: refuses "bad-" customers' sends while `refusing`, takes everything else.
struct Endpoint {
    Endpoint() {
        server.Post(
            "/deliveries", [this](const httplib::Request& request, httplib::Response& response) {
                const json object = json::parse(request.body);
                const std::string customer = object.at("customer").get<std::string>();
                std::lock_guard<std::mutex> lock(mutex);
                if (refusing && customer.rfind("bad-", 0) == 0) {
                    response.status = 422;
                    response.set_content(R"({"error": "unknown template"})", "application/json");
                    return;
                }
                ++received[customer];
                if (!refusing && customer.rfind("bad-", 0) != 0) ++late_good;
                response.status = 200;
            });
        port = server.bind_to_any_port("127.0.0.1");
        REQUIRE(port > 0);
        serving = std::thread([this] { server.listen_after_bind(); });
        REQUIRE(test::poll_until([this] { return server.is_running(); }));
    }
    ~Endpoint() {
        server.stop();
        serving.join();
    }

    std::mutex mutex;
    bool refusing = true;
    std::map<std::string, int> received;  // customer -> sends accepted
    int late_good = 0;                    // good customers' sends after the fix: repeats
    httplib::Server server;
    int port = -1;
    std::thread serving;
};

json admin_json(const DaemonProcess& daemon, const std::string& path) {
    auto answer = daemon.admin().Get(path.c_str());
    REQUIRE(answer);
    REQUIRE(answer->status == 200);
    return json::parse(answer->body);
}

bool settled(const DaemonProcess& daemon, uint64_t dead_letters) {
    const json store = admin_json(daemon, "/stats")["store"];
    return store["outbox"] == 0 && store["dead_letters"] == dead_letters;
}

// Asks for every dead letter to be sent again; after a kill the rest of the requests fail.
void redeliver_all(const DaemonProcess& daemon) {
    auto admin = daemon.admin();
    auto listed = admin.Get("/deliveries/dead");
    if (!listed || listed->status != 200) return;
    for (const json& dead : json::parse(listed->body)) {
        const std::string path =
            "/deliveries/dead/" + dead["decision_id"].get<std::string>() + "/retry";
        if (!admin.Post(path.c_str(), "", "application/json")) return;
    }
}

}  // namespace

TEST_CASE("crash: SIGKILL while sends are parked and while they are re-queued loses none") {
    const uint32_t seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 random(seed);
    Endpoint endpoint;
    DaemonProcess daemon(dead_letter_config(endpoint.port));

    // Every event acknowledged, then killed while the sink delivers and parks.
    {
        IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
        for (int i = 0; i < kCustomers; ++i) {
            client.send_frame(encode_event({{"id", "signup-" + std::to_string(i)},
                                            {"customer", customer_name(i)},
                                            {"type", "signup"}}));
            REQUIRE(client.read_response()["accepted"] == 1);
        }
    }
    const auto first_kill = std::chrono::milliseconds(random() % 150);
    std::this_thread::sleep_for(first_kill);
    daemon.kill_hard();
    daemon.restart();
    REQUIRE(test::poll_until([&] { return settled(daemon, kCustomers / 4); }));
    {
        std::lock_guard<std::mutex> lock(endpoint.mutex);
        for (int i = 0; i < kCustomers; ++i) {
            const bool bad = i % 4 == 0;
            INFO(customer_name(i));
            CHECK(endpoint.received.count(customer_name(i)) == (bad ? 0u : 1u));
        }
        endpoint.refusing = false;  // the endpoint is fixed
    }

    // Killed while the dead letters are being re-queued; then the operator asks again.
    std::thread operator_thread([&] { redeliver_all(daemon); });
    const auto second_kill = std::chrono::milliseconds(random() % 60);
    std::this_thread::sleep_for(second_kill);
    daemon.kill_hard();
    operator_thread.join();
    daemon.restart();
    REQUIRE(test::poll_until([&] {
        redeliver_all(daemon);
        return settled(daemon, 0);
    }));

    std::lock_guard<std::mutex> lock(endpoint.mutex);
    int repeats = 0;
    for (int i = 0; i < kCustomers; ++i) {
        INFO(customer_name(i));
        const int times = endpoint.received[customer_name(i)];
        CHECK(times >= 1);
        repeats += times - 1;
    }
    CHECK(endpoint.late_good == 0);  // a delivered send is not sent again after its commit
    std::cout << "dead letter crash test seed " << seed << ": killed after " << first_kill.count()
              << " ms and " << second_kill.count() << " ms; repeated deliveries " << repeats
              << std::endl;
}
