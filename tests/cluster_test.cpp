// The cluster end to end: three real journeyd processes on loopback ports, clustered over
// CAF's middleman, against one journeyd alone. The same scripted stream, sent to whichever
// node (two thirds of it to a node that does not own the customer), must give the same final
// stages, the same decisions, the same deliveries and the same segment counts as on one node;
// each event is applied once, on its owner, and every member learns the others' counters. Then
// one node stops: its customers, and only they, get errors naming it, and segment counts name it
// as missing; it restarts on its store and its customers are back as they were.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "config/config_version.hpp"
#include "runtime/client/ingest_client.hpp"
#include "state/cluster/cluster_ownership.hpp"
#include "tests/support/command.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/ports.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;
using test::poll_until;

namespace {

constexpr int kCustomers = 90;
constexpr int kNodes = 3;
const std::vector<std::string> kNames = {"node-a", "node-b", "node-c"};

// Decisions depend on nothing but each customer's own events: no quiet hours, no
// arbitration delay, rates far above the load. The email cap (welcome and activated use it
// up) makes the loyal gift a suppression; push consent withdrawn for every fifth customer
// makes browse one too.
const char* const kJourney = R"(
[delivery]
sink = "file:deliveries.ndjson"

[journey]
stages = ["new", "exploring", "active", "loyal"]
initial_stage = "new"

[[journey.transition]]
from = ["new"]
on = "search"
to = "exploring"

[[journey.transition]]
from = ["exploring"]
on = "ad_placed"
to = "active"

[[journey.transition]]
from = ["active"]
on = "ad_placed"
count = 2
within = "30d"
to = "loyal"

[[journey.driver]]
from = "exploring"
to = "active"
window = "1h"

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "welcome-1"

[[program]]
name = "browse"
on_event = "view"
channel = "push"
priority = "promotional"
template = "browse-1"

[[program]]
name = "activated"
on_enter = "active"
channel = "email"
priority = "lifecycle"
template = "activated-1"

[[program]]
name = "loyal_gift"
on_enter = "loyal"
channel = "email"
priority = "promotional"
template = "gift-1"

[[segment]]
name = "basic_plan"
when = [ { attr = "plan", eq = "basic" } ]

[[segment]]
name = "high_score"
when = [ { attr = "score", gte = 30 } ]

[decisioning]
explore = "greedy"

[[action]]
name = "tip"
channel = "in_app"
priority = "promotional"
template = "tip-1"
goal = { event = "ad_placed", within = "1h" }

[[program]]
name = "tips"
on_event = "view"
action = "best"
goal = { event = "ad_placed", within = "1h" }
holdout = 0.3

[pressure]
hierarchy = ["service", "lifecycle", "promotional"]
arbitration_window = "0s"

[[pressure.cap]]
channel = "email"
max = 2
per = "7d"

[pressure.rate]
email = 100000
push = 100000
)";

std::string customer(int i) {
    return "cust-" + std::to_string(i);
}

// Event `round` of customer i's script.
json scripted_event(int i, int round, int64_t base_ts) {
    static const char* const kTypes[] = {"profile", "search",    "view",      "ad_placed",
                                         "view",    "ad_placed", "ad_placed", "view"};
    json event = {{"id", customer(i) + "-" + std::to_string(round)},
                  {"customer", customer(i)},
                  {"type", kTypes[round]},
                  {"ts", base_ts + round * 1000}};
    if (round == 0)
        event["attrs"] = {{"consent", {{"push", i % 5 != 0}}}, {"plan", "basic"}, {"score", i}};
    return event;
}
constexpr int kRounds = 8;

// The frames each entry node gets: customer i's events go to node i % kNodes, one batch per
// round, so a customer's events travel in order on one connection.
std::vector<std::vector<std::string>> scripted_frames(int64_t base_ts) {
    std::vector<std::vector<std::string>> frames(kNodes);
    for (int round = 0; round < kRounds; ++round)
        for (int node = 0; node < kNodes; ++node) {
            std::vector<json> batch;
            for (int i = node; i < kCustomers; i += kNodes)
                batch.push_back(scripted_event(i, round, base_ts));
            frames[node].push_back(encode_batch(batch));
        }
    return frames;
}

// Sends each list of frames pipelined on its own connection; returns the answers, in order.
std::vector<json> send_all(const std::vector<std::string>& addresses,
                           const std::vector<std::vector<std::string>>& frames) {
    std::vector<json> answers;
    for (size_t k = 0; k < frames.size(); ++k) {
        IngestClient client = IngestClient::connect(addresses[k], 20s);
        for (const std::string& frame : frames[k]) client.send_frame(frame);
        for (size_t f = 0; f < frames[k].size(); ++f) answers.push_back(client.read_response());
    }
    return answers;
}

json get_json(const DaemonProcess& node, const std::string& path, int expected_status = 200) {
    auto answer = node.admin().Get(path.c_str());
    REQUIRE(answer);
    INFO(path << " -> " << answer->status << " " << answer->body);
    REQUIRE(answer->status == expected_status);
    return json::parse(answer->body);
}

// GET /segments: the answer, and its X-Journeyd-Partial header ("" when absent).
std::pair<json, std::string> segments_of(const DaemonProcess& node) {
    auto answer = node.admin().Get("/segments");
    REQUIRE(answer);
    INFO(answer->status << " " << answer->body);
    REQUIRE(answer->status == 200);
    return {json::parse(answer->body), answer->get_header_value("X-Journeyd-Partial")};
}

// The node's own journeyd_segment_members sample for `segment`.
int64_t segment_metric(const DaemonProcess& node, const std::string& segment) {
    auto answer = node.admin().Get("/metrics");
    REQUIRE(answer);
    const std::string sample = "journeyd_segment_members{segment=\"" + segment + "\"} ";
    const size_t at = answer->body.find(sample);
    REQUIRE(at != std::string::npos);
    return std::stoll(answer->body.substr(at + sample.size()));
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int64_t stat(const DaemonProcess& node, const char* pointer) {
    return get_json(node, "/stats").at(json::json_pointer(pointer)).get<int64_t>();
}

bool settled(const DaemonProcess& node) {
    return stat(node, "/store/pending_requests") == 0 && stat(node, "/outbox") == 0;
}

// What the test compares between the cluster and the single node, for one customer.
json outcome_of(const DaemonProcess& node, const std::string& id) {
    json state = get_json(node, "/customers/" + id);
    json decisions = json::array();
    for (const json& d : get_json(node, "/customers/" + id + "/decisions"))
        decisions.push_back({d["program"], d["outcome"], d["reason"]});
    return {{"stage", state["stage"]},
            {"events_seen", state["events_seen"]},
            {"profile", state["profile"]},
            {"contacts", state["contacts"].size()},
            {"decisions", decisions}};
}

std::multiset<std::string> deliveries(const DaemonProcess& node) {
    std::multiset<std::string> sent;
    std::ifstream file(node.directory() + "/deliveries.ndjson");
    for (std::string line; std::getline(file, line);) {
        const json d = json::parse(line);
        sent.insert(d["customer"].get<std::string>() + "/" + d["program"].get<std::string>());
    }
    return sent;
}

// `journeyctl cluster` against the node's admin port: its exit status.
int journeyctl_cluster(const DaemonProcess& node) {
    const std::string command = std::string(JOURNEYCTL_BINARY) + " --admin " +
                                node.admin_address() + " cluster > /dev/null";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct TestCluster {
    std::vector<uint16_t> middleman_ports;
    std::vector<std::unique_ptr<DaemonProcess>> nodes;

    TestCluster() {
        std::string members;
        for (int k = 0; k < kNodes; ++k) {
            middleman_ports.push_back(test::reserve_port());
            members += (k ? ", " : "") + ("\"" + kNames[k] + "@127.0.0.1:") +
                       std::to_string(middleman_ports[k]) + "\"";
        }
        for (int k = 0; k < kNodes; ++k)
            nodes.push_back(std::make_unique<DaemonProcess>(
                "[node]\nname = \"" + kNames[k] + "\"\n[cluster]\nmembers = [" + members +
                "]\nconnect_timeout = \"1s\"\n" + kJourney));
    }

    std::vector<std::string> ingest_addresses() const {
        std::vector<std::string> addresses;
        for (const auto& node : nodes) addresses.push_back(node->ingest());
        return addresses;
    }

    // State of `member` as node `viewer` reports it on /cluster.
    std::string state_seen(int viewer, int member) const {
        return get_json(*nodes[viewer], "/cluster")["members"][member]["state"];
    }
    bool all_up() const {
        for (int k = 0; k < kNodes; ++k)
            if (get_json(*nodes[k], "/cluster")["members_up"] != kNodes) return false;
        return true;
    }
};

}  // namespace

TEST_CASE("cluster: three nodes decide as one node would, and survive one of them stopping",
          "[cluster][integration]") {
    TestCluster cluster;
    DaemonProcess single(std::string("[node]\nname = \"single\"\n") + kJourney);
    REQUIRE(poll_until([&] { return cluster.all_up(); }));
    const ClusterOwnership ownership(kNames, "node-a");

    const int64_t base_ts = now_ms() - 60'000;
    const auto frames = scripted_frames(base_ts);
    for (const json& answer : send_all(cluster.ingest_addresses(), frames)) {
        INFO(answer.dump());
        REQUIRE(answer["ok"] == true);
    }
    const std::vector<std::string> single_address(kNodes, single.ingest());
    for (const json& answer : send_all(single_address, frames)) REQUIRE(answer["ok"] == true);

    REQUIRE(poll_until([&] {
        for (const auto& node : cluster.nodes)
            if (!settled(*node)) return false;
        return settled(single);
    }));

    // Segment counts answer for the whole cluster from any node, as the single node's for
    // itself; each node's metric stays its own.
    constexpr int kHighScores = kCustomers - 30;
    const json single_segments = segments_of(single).first;
    CHECK(single_segments == json::array({{{"name", "basic_plan"}, {"members", kCustomers}},
                                          {{"name", "high_score"}, {"members", kHighScores}}}));
    int64_t own_high_scores = 0;
    for (const auto& node : cluster.nodes) {
        CHECK(segments_of(*node) == std::make_pair(single_segments, std::string()));
        own_high_scores += segment_metric(*node, "high_score");
    }
    CHECK(own_high_scores == kHighScores);
    // Journey flow and drivers: every member's flow counters summed, as the single node counts.
    const json single_journey = get_json(single, "/journey");
    CHECK(single_journey["transitions"] ==
          json::parse(R"([{"from": "active", "to": "loyal", "count": 90},
                          {"from": "exploring", "to": "active", "count": 90},
                          {"from": "new", "to": "exploring", "count": 90}])"));
    const std::string drivers_path = "/journey/drivers?from=exploring&to=active";
    const json single_drivers = get_json(single, drivers_path);
    REQUIRE(single_drivers.size() == 1);  // every episode saw a view and advanced
    CHECK(single_drivers[0]["event"] == "view");
    CHECK(single_drivers[0]["exposed"] == json::parse(R"({"episodes": 90, "advanced": 90})"));
    CHECK(single_drivers[0]["odds_ratio"] == Approx(181.0));  // (90.5 · 0.5) / (0.5 · 0.5)
    for (const auto& node : cluster.nodes) {
        CHECK(get_json(*node, "/journey") == single_journey);
        CHECK(get_json(*node, drivers_path) == single_drivers);
    }
    // Every member learns the others' counters as they are after the last commit.
    const int64_t committed = now_ms();
    REQUIRE(poll_until([&] {
        for (int k = 0; k < kNodes; ++k) {
            const json members = get_json(*cluster.nodes[k], "/cluster")["members"];
            for (int m = 0; m < kNodes; ++m)
                if (m != k && members[m]["counters_at"].get<int64_t>() < committed) return false;
        }
        return true;
    }));
    // Next best actions: every view of a customer outside the tips' control group sent a tip,
    // counted over the whole cluster from any node as on the single node, once each goal window
    // has opened; and a node ranks for its customers by every member's outcomes, as /actions
    // sums them. The control group is the same on every node: so are the program's counts.
    auto tips_sent = [&](const DaemonProcess& node) {
        return get_json(node, "/actions")[0]["sent"].get<int64_t>();
    };
    auto tips_program = [&](const DaemonProcess& node) {
        json counts;
        for (const json& p : get_json(node, "/programs"))
            if (p["program"] == "tips") counts = p;
        const json& goal = counts["goal"];
        auto opened = [](const json& arm) {
            return arm["n"].get<int64_t>() + arm["open"].get<int64_t>();
        };
        return json{{"requests", counts["requests"]},
                    {"sent", counts["sent"]},
                    {"suppressed", counts["suppressed"]},
                    {"treated", opened(goal["treated"])},
                    {"control", opened(goal["control"])}};
    };
    REQUIRE(poll_until([&] {
        const json tips = tips_program(single);
        return tips["requests"] == 3 * kCustomers && tips["treated"] == tips["sent"] &&
               tips["control"] == tips["suppressed"].value("holdout", 0) &&
               tips_sent(single) == tips["sent"];
    }));
    const json single_tips = tips_program(single);
    INFO(single_tips.dump());
    CHECK(single_tips["sent"].get<int64_t>() > 0);
    CHECK(single_tips["control"].get<int64_t>() > 0);
    for (const auto& node : cluster.nodes) {
        CHECK(poll_until([&] { return tips_sent(*node) == single_tips["sent"]; }));
        CHECK(poll_until([&] { return tips_program(*node) == single_tips; }));
    }
    for (int k = 0; k < kNodes; ++k) {
        int own = 0;
        while (ownership.owner_of(customer(own)) != static_cast<size_t>(k)) ++own;
        const DaemonProcess& node = *cluster.nodes[k];
        CHECK(poll_until([&] {
            const double ranked =
                get_json(node, "/customers/" + customer(own) + "/actions")[0]["propensity"];
            const double summed = get_json(node, "/actions")[0]["propensity"]["mean"];
            return std::abs(ranked - summed) < 1e-9;
        }));
    }

    {
        std::map<std::string, json> before_stop;
        for (int i = 0; i < kCustomers; ++i) {
            const std::string id = customer(i);
            // Asked of a node that did not take the customer's events, often not its owner.
            const json clustered = outcome_of(*cluster.nodes[(i + 1) % kNodes], id);
            INFO(id << " owned by " << kNames[ownership.owner_of(id)]);
            CHECK(get_json(*cluster.nodes[i % kNodes], "/customers/" + id)["owner"] ==
                  kNames[ownership.owner_of(id)]);
            CHECK(clustered == outcome_of(single, id));
            before_stop[id] = clustered;
        }
        // Not a vacuous comparison: all four outcomes of the script occurred.
        const json sample = outcome_of(single, customer(0));
        CHECK(sample["stage"] == "loyal");
        CHECK(sample["decisions"].dump().find("consent") != std::string::npos);
        CHECK(sample["decisions"].dump().find("cap") != std::string::npos);

        const auto all_delivered = [&] {
            std::multiset<std::string> sent;
            for (const auto& node : cluster.nodes) {
                auto mine = deliveries(*node);
                sent.insert(mine.begin(), mine.end());
            }
            return sent;
        };
        REQUIRE(poll_until([&] { return all_delivered() == deliveries(single); }));
        CHECK(deliveries(single).size() > static_cast<size_t>(kCustomers) * 2);

        // Each event was applied once, on its owner: stored there and nowhere else.
        int64_t events = 0;
        for (int k = 0; k < kNodes; ++k) {
            events += stat(*cluster.nodes[k], "/events_total");
            int owned = 0;
            for (int i = 0; i < kCustomers; ++i)
                owned += ownership.owner_of(customer(i)) == static_cast<size_t>(k);
            CHECK(stat(*cluster.nodes[k], "/customers_stored") == owned);
        }
        CHECK(events == kCustomers * kRounds);
        // The same stream through other entry nodes: every event known, none applied again.
        std::vector<std::string> rotated = cluster.ingest_addresses();
        std::rotate(rotated.begin(), rotated.begin() + 1, rotated.end());
        for (const json& answer : send_all(rotated, frames)) {
            CHECK(answer["ok"] == true);
            CHECK(answer["accepted"] == 0);
        }

        // The admin port forwards too: an event posted to a non-owner, the stored record
        // read through a third node.
        int a_customer = 0;
        while (ownership.owner_of(customer(a_customer)) != 0) ++a_customer;
        const std::string a_id = customer(a_customer);
        auto posted = cluster.nodes[1]->admin().Post(
            ("/customers/" + a_id + "/events").c_str(),
            json({{"id", a_id + "-posted"}, {"type", "view"}}).dump(), "application/json");
        REQUIRE(posted);
        CHECK(posted->status == 202);
        CHECK(get_json(*cluster.nodes[2], "/customers/" + a_id + "/record")["events_seen"] ==
              kRounds + 1);
        CHECK(get_json(*cluster.nodes[2], "/customers/nobody/record", 404).contains("error"));

        // node-c stops: its customers get errors naming it, the others are served.
        REQUIRE(cluster.nodes[2]->stop() == 0);
        REQUIRE(poll_until([&] {
            return cluster.state_seen(0, 2) == "down" && cluster.state_seen(1, 2) == "down";
        }));
        std::vector<json> late;
        for (int i = 0; i < kCustomers; ++i)
            late.push_back(
                {{"id", customer(i) + "-late"}, {"customer", customer(i)}, {"type", "view"}});
        const std::vector<std::vector<std::string>> late_frame = {{encode_batch(late)}};
        const json answer = send_all({cluster.nodes[0]->ingest()}, late_frame)[0];
        std::set<int64_t> refused;
        for (const json& error : answer["errors"]) {
            refused.insert(error["index"].get<int64_t>());
            CHECK_THAT(error["error"].get<std::string>(),
                       Catch::Contains("node-c") && Catch::Contains("down"));
        }
        std::set<int64_t> owned_by_c;
        for (int i = 0; i < kCustomers; ++i)
            if (ownership.owner_of(customer(i)) == 2) owned_by_c.insert(i);
        CHECK(!owned_by_c.empty());
        CHECK(refused == owned_by_c);
        CHECK(answer["accepted"] == kCustomers - static_cast<int64_t>(owned_by_c.size()));
        // Segment counts still answer, without node-c's customers, and say so.
        int64_t c_high_scores = 0;
        for (int i : owned_by_c) c_high_scores += i >= kCustomers - kHighScores;
        const json missing_c = {"node-c"};
        CHECK(segments_of(*cluster.nodes[0]) ==
              std::make_pair(
                  json::array({{{"name", "basic_plan"},
                                {"members", kCustomers - static_cast<int64_t>(owned_by_c.size())},
                                {"partial", missing_c}},
                               {{"name", "high_score"},
                                {"members", kHighScores - c_high_scores},
                                {"partial", missing_c}}}),
                  std::string("node-c")));
        const auto partial_journey = cluster.nodes[0]->admin().Get("/journey");
        REQUIRE(partial_journey);
        CHECK(json::parse(partial_journey->body)["partial"] == missing_c);
        CHECK(partial_journey->get_header_value("X-Journeyd-Partial") == "node-c");
        CHECK(get_json(*cluster.nodes[0], "/journey")["transitions"][0]["count"] ==
              90 - static_cast<int64_t>(owned_by_c.size()));
        CHECK(journeyctl_cluster(*cluster.nodes[0]) == 1);
        const auto [segments_status, segments_table] =
            test::run_command(std::string(JOURNEYCTL_BINARY) + " --admin " +
                              cluster.nodes[0]->admin_address() + " segments");
        CHECK(segments_status == 0);
        CHECK_THAT(segments_table, Catch::Contains("basic_plan") &&
                                       Catch::Contains("not counted are the customers of node-c"));
        const int c_customer = *owned_by_c.begin();
        const json unavailable =
            get_json(*cluster.nodes[1], "/customers/" + customer(c_customer), 503);
        CHECK_THAT(unavailable["error"].get<std::string>(), Catch::Contains("node-c"));

        // node-c restarts on its store: its customers are back as they were, and take the
        // events they refused.
        cluster.nodes[2]->restart();
        REQUIRE(poll_until([&] { return cluster.all_up(); }));
        for (int i : owned_by_c)
            CHECK(outcome_of(*cluster.nodes[0], customer(i)) == before_stop[customer(i)]);
        const json again = send_all({cluster.nodes[1]->ingest()}, late_frame)[0];
        CHECK(again["ok"] == true);
        CHECK(again["accepted"] == static_cast<int64_t>(owned_by_c.size()));
        CHECK(again["duplicates"] == kCustomers - static_cast<int64_t>(owned_by_c.size()));
        CHECK(journeyctl_cluster(*cluster.nodes[0]) == 0);

        // node-b hangs with its connections open: the others notice by its missing
        // heartbeats, refuse its customers meanwhile, and take it back when it resumes.
        int b_customer = 0;
        while (ownership.owner_of(customer(b_customer)) != 1) ++b_customer;
        const std::vector<std::vector<std::string>> b_frame = {
            {encode_batch({{{"id", customer(b_customer) + "-hung"},
                            {"customer", customer(b_customer)},
                            {"type", "view"}}})}};
        cluster.nodes[1]->pause();
        REQUIRE(poll_until([&] { return cluster.state_seen(0, 1) == "down"; }));
        const json while_hung = send_all({cluster.nodes[0]->ingest()}, b_frame)[0];
        CHECK(while_hung["accepted"] == 0);
        CHECK(segments_of(*cluster.nodes[0]).second == "node-b");
        CHECK_THAT(while_hung.dump(), Catch::Contains("node-b") && Catch::Contains("heartbeat"));
        cluster.nodes[1]->resume();
        REQUIRE(poll_until([&] { return cluster.all_up(); }));
        CHECK(send_all({cluster.nodes[0]->ingest()}, b_frame)[0]["accepted"] == 1);

        // Rate budgets: each node has its floor and a lease from node-a; together never more
        // than the budget.
        const double floor = 100000 * 0.5 / kNodes;
        REQUIRE(poll_until([&] {
            for (int k = 0; k < kNodes; ++k)
                if (get_json(*cluster.nodes[k], "/cluster")["rate_lease_until"] == 0) return false;
            return true;
        }));
        for (const char* channel : {"email", "push"}) {
            double total = 0;
            for (int k = 0; k < kNodes; ++k) {
                const double rate =
                    get_json(*cluster.nodes[k], "/cluster")["rate_budgets"][channel].get<double>();
                CHECK(rate >= floor);
                total += rate;
            }
            CHECK(total <= 100000 + 1e-6);
        }

        // node-b dies without a word and comes back on the same address: the others find the
        // new process (CAF 0.17 reconnects badly after a restart, upstream #546).
        cluster.nodes[1]->kill_hard();
        REQUIRE(poll_until([&] { return cluster.state_seen(0, 1) == "down"; }));
        cluster.nodes[1]->restart();
        REQUIRE(poll_until([&] { return cluster.all_up(); }));
        for (int i = 0; i < kCustomers; ++i)
            if (ownership.owner_of(customer(i)) == 1)
                CHECK(outcome_of(*cluster.nodes[2], customer(i))["events_seen"] ==
                      kRounds + 1 + (i == b_customer));

        // node-a, the lender, stops: once their leases run out the others are at the floor.
        REQUIRE(cluster.nodes[0]->stop() == 0);
        REQUIRE(poll_until([&] {
            for (int k = 1; k < kNodes; ++k) {
                const json view = get_json(*cluster.nodes[k], "/cluster");
                if (view["rate_lease_until"] != 0 || view["rate_budgets"]["email"] != floor)
                    return false;
            }
            return true;
        }));
    }
}

TEST_CASE("cluster: a member with another list is not used, an unreachable one blocks nothing",
          "[cluster][integration]") {
    const uint16_t a_port = test::reserve_port(), b_port = test::reserve_port();
    const std::string a = "\"node-a@127.0.0.1:" + std::to_string(a_port) + "\"";
    const std::string b = "\"node-b@127.0.0.1:" + std::to_string(b_port) + "\"";
    // TEST-NET-2 (RFC 5737): never assigned; connects there fail, hang until the deadline, or
    // (behind a transparent proxy) meet something that does not speak BASP.
    const std::string lost = "\"node-x@198.51.100.1:7410\"";
    DaemonProcess node_a("[node]\nname = \"node-a\"\n[cluster]\nmembers = [" + a + ", " + b +
                         "]\n" + kJourney);
    DaemonProcess node_b("[node]\nname = \"node-b\"\n[cluster]\nmembers = [" + a + ", " + b + ", " +
                         lost + "]\nconnect_timeout = \"3s\"\n" + kJourney);
    REQUIRE(poll_until([&] {
        const json member = get_json(node_a, "/cluster")["members"][1];
        return member["state"] == "down" &&
               member["reason"].get<std::string>().find("members differ") != std::string::npos;
    }));
    REQUIRE(
        poll_until([&] { return get_json(node_b, "/cluster")["members"][2]["state"] == "down"; }));
    // While node-b's connector waits out its attempts at node-x, node-b serves at once
    // whatever it owns itself.
    const ClusterOwnership ownership({"node-a", "node-b", "node-x"}, "node-b");
    int own = 0;
    while (!ownership.owns(customer(own))) ++own;
    const auto started = std::chrono::steady_clock::now();
    const std::vector<std::vector<std::string>> frame = {
        {encode_batch({{{"id", "e1"}, {"customer", customer(own)}, {"type", "search"}}})}};
    CHECK(send_all({node_b.ingest()}, frame)[0]["accepted"] == 1);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
}

namespace {

// The first id PREFIX0, PREFIX1, ... that `member` owns.
std::string owned_by(size_t member, const std::string& prefix) {
    const ClusterOwnership ownership(kNames, "node-a");
    int i = 0;
    while (ownership.owner_of(prefix + std::to_string(i)) != member) ++i;
    return prefix + std::to_string(i);
}

// One event, on a connection of its own to `node`; its answer.
json send_to(const DaemonProcess& node, const json& event) {
    IngestClient client = IngestClient::connect(node.ingest(), 10s);
    client.send_frame(encode_event(event));
    return client.read_response();
}

json identify_event(const std::string& id, const std::string& who, const std::string& as) {
    return {{"id", id}, {"customer", who}, {"type", "identify"}, {"attrs", {{"as", as}}}};
}

}  // namespace

TEST_CASE("cluster: identify merges an alias of one member into a customer of another",
          "[cluster][integration]") {
    TestCluster cluster;
    REQUIRE(poll_until([&] { return cluster.all_up(); }));
    // The alias is node-a's, the customer it names node-b's, and the identify enters at node-c.
    const std::string device = owned_by(0, "device-");
    const std::string ann = owned_by(1, "ann-");
    auto send = [&](int node, const json& event) { return send_to(*cluster.nodes[node], event); };
    const auto identify = identify_event;
    // The device searched (welcomed, exploring); Ann is new (welcomed).
    CHECK(send(2, {{"id", "d1"}, {"customer", device}, {"type", "search"}})["accepted"] == 1);
    CHECK(send(2, {{"id", "a1"},
                   {"customer", ann},
                   {"type", "profile"},
                   {"attrs", {{"name", "Ann"}}}})["accepted"] == 1);
    REQUIRE(poll_until([&] {
        return get_json(*cluster.nodes[0], "/customers/" + device)["contacts"].size() == 1 &&
               get_json(*cluster.nodes[1], "/customers/" + ann)["contacts"].size() == 1;
    }));

    const json merged = send(2, identify("i1", device, ann));
    INFO(merged.dump());
    CHECK(merged["accepted"] == 1);
    for (const auto& node : cluster.nodes) {
        const json view = get_json(*node, "/customers/" + device);
        CHECK(view["id"] == ann);
        CHECK(view["aliases"] == json::array({device}));
        CHECK(view["stage"] == "exploring");  // Ann was new: the device's stage
        CHECK(view["events_seen"] == 3);
        CHECK(view["contacts"].size() == 2);  // both welcomes
        CHECK(view["profile"]["name"] == "Ann");
    }
    CHECK(get_json(*cluster.nodes[2], "/customers/" + device + "/record")["alias_of"] == ann);
    CHECK(stat(*cluster.nodes[0], "/store/aliases") == 1);
    CHECK(stat(*cluster.nodes[1], "/store/aliases") == 0);
    const json journey = get_json(*cluster.nodes[2], "/journey");
    for (const json& stage : journey["stages"]) {
        if (stage["name"] == "exploring") CHECK(stage["customers"] == 1);
        if (stage["name"] == "new") CHECK(stage["customers"] == 0);
    }

    // Retries are duplicates across the members; the device's events are Ann's; the caps count
    // the device's e-mail: her activation e-mail is the third.
    CHECK(send(1, {{"id", "d1"}, {"customer", device}, {"type", "search"}})["duplicates"] == 1);
    CHECK(send(0, identify("i1", device, ann))["duplicates"] == 1);
    CHECK(send(2, {{"id", "d2"}, {"customer", device}, {"type", "ad_placed"}})["accepted"] == 1);
    REQUIRE(poll_until([&] {
        const json decisions = get_json(*cluster.nodes[1], "/customers/" + ann + "/decisions");
        return !decisions.empty() && decisions[0]["program"] == "activated";
    }));
    const json activated = get_json(*cluster.nodes[1], "/customers/" + ann + "/decisions")[0];
    CHECK(activated["outcome"] == "suppress");
    CHECK(activated["reason"] == "cap");
    CHECK(get_json(*cluster.nodes[0], "/customers/" + ann)["stage"] == "active");

    // The member of the customer named is down: the identify fails naming it, nothing changes,
    // and the alias goes on; once the member is back, the same identify merges.
    const std::string phone = owned_by(0, "phone-");
    const std::string bob = owned_by(1, "bob-");
    CHECK(send(0, {{"id", "p1"}, {"customer", phone}, {"type", "search"}})["accepted"] == 1);
    REQUIRE(cluster.nodes[1]->stop() == 0);
    REQUIRE(poll_until([&] { return cluster.state_seen(0, 1) == "down"; }));
    const json refused = send(0, identify("i2", phone, bob));
    INFO(refused.dump());
    CHECK(refused["accepted"] == 0);
    REQUIRE(refused["errors"].size() == 1);
    const std::string error = refused["errors"][0]["error"];
    CHECK(error.find("node-b, which is down") != std::string::npos);
    const json apart = get_json(*cluster.nodes[0], "/customers/" + phone);
    CHECK(apart["id"] == phone);
    CHECK(apart["aliases"].empty());
    CHECK(apart["events_seen"] == 1);
    CHECK(send(0, {{"id", "p2"}, {"customer", phone}, {"type", "view"}})["accepted"] == 1);
    CHECK(stat(*cluster.nodes[0], "/store/aliases") == 1);
    cluster.nodes[1]->restart();
    REQUIRE(poll_until([&] { return cluster.all_up(); }));
    CHECK(send(0, identify("i2", phone, bob))["accepted"] == 1);
    const json bobs = get_json(*cluster.nodes[2], "/customers/" + phone);
    CHECK(bobs["id"] == bob);
    CHECK(bobs["events_seen"] == 3);
    CHECK(bobs["stage"] == "exploring");
}

namespace {

// An alias of node-a, a customer of node-b, each with one event, and the identify sent to
// node-a; `point` kills one of them on the way (JOURNEYD_TEST_KILL_POINT, set for every node:
// only the member that reaches it dies). After that member restarts, the merge completes by
// itself, exactly once.
void identify_across_a_crash(const char* point, int dies) {
    INFO("JOURNEYD_TEST_KILL_POINT=" << point);
    ::setenv("JOURNEYD_TEST_KILL_POINT", point, 1);
    TestCluster cluster;
    ::unsetenv("JOURNEYD_TEST_KILL_POINT");
    REQUIRE(poll_until([&] { return cluster.all_up(); }));
    const std::string device = owned_by(0, "device-");
    const std::string ann = owned_by(1, "ann-");
    auto send = [&](int node, const json& event) { return send_to(*cluster.nodes[node], event); };
    CHECK(send(2, {{"id", "d1"}, {"customer", device}, {"type", "search"}})["accepted"] == 1);
    CHECK(send(2, {{"id", "a1"}, {"customer", ann}, {"type", "search"}})["accepted"] == 1);
    const json identify = identify_event("i1", device, ann);
    try {
        send(0, identify);
    } catch (const std::exception&) {
        // node-a died with the frame unanswered.
    }
    REQUIRE(cluster.nodes[dies]->wait_for_exit(60s));
    CHECK(cluster.nodes[dies]->stop() == 128 + SIGKILL);
    cluster.nodes[dies]->restart();
    REQUIRE(poll_until([&] { return cluster.all_up(); }));
    REQUIRE(poll_until(
        [&] { return get_json(*cluster.nodes[2], "/customers/" + device)["id"] == ann; }, 30s));
    const json view = get_json(*cluster.nodes[2], "/customers/" + device);
    CHECK(view["aliases"] == json::array({device}));
    CHECK(view["events_seen"] == 3);
    CHECK(view["contacts"].size() == 2);
    CHECK(stat(*cluster.nodes[0], "/store/aliases") == 1);
    CHECK(send(1, identify)["duplicates"] == 1);
    CHECK(send(2, {{"id", "d1"}, {"customer", device}, {"type", "search"}})["duplicates"] == 1);
    // The merged history holds: Ann's activation e-mail is her third, capped.
    CHECK(send(2, {{"id", "a2"}, {"customer", ann}, {"type", "ad_placed"}})["accepted"] == 1);
    REQUIRE(poll_until([&] {
        const json decisions = get_json(*cluster.nodes[1], "/customers/" + ann + "/decisions");
        return !decisions.empty() && decisions[0]["program"] == "activated";
    }));
    CHECK(get_json(*cluster.nodes[1], "/customers/" + ann + "/decisions")[0]["reason"] == "cap");
}

}  // namespace

TEST_CASE("cluster: an identify whose alias's member dies after its intent completes at restart",
          "[cluster][integration]") {
    identify_across_a_crash("identify_intent:1", 0);
}

TEST_CASE("cluster: an identify whose canonical member dies after committing completes",
          "[cluster][integration]") {
    identify_across_a_crash("identify_committed:1", 1);
}

namespace {

std::string with_template(std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// POST /config with `text` to `node`: the status and whether it was applied; the answer in
// `answer`, when given.
std::pair<int, bool> post_config(const DaemonProcess& node, const std::string& text,
                                 json* answer = nullptr) {
    auto posted = node.admin().Post("/config", text, "application/toml");
    REQUIRE(posted);
    INFO(posted->body);
    const json body = json::parse(posted->body);
    if (answer) *answer = body;
    return {posted->status, body["applied"].get<bool>()};
}

}  // namespace

TEST_CASE("cluster: a configuration change posted to one member applies on every member or none",
          "[cluster][integration]") {
    TestCluster cluster;
    REQUIRE(poll_until([&] { return cluster.all_up(); }));
    const DaemonProcess& a = *cluster.nodes[0];
    const std::string first = get_json(a, "/config")["text"];
    // Posted to node-a, so with node-a's [node]: the others keep their own.
    const std::string second = with_template(first, "welcome-1", "welcome-2");
    CHECK(post_config(a, second) == std::pair<int, bool>{200, true});
    const std::string version = config_version(second);
    for (const auto& node : cluster.nodes) CHECK(get_json(*node, "/health")["version"] == version);
    CHECK(get_json(*cluster.nodes[1], "/health")["node"] == "node-b");
    // A new customer of each member is welcomed with the new template, there.
    for (size_t k = 0; k < cluster.nodes.size(); ++k) {
        const std::string id = owned_by(k, "fresh");
        CHECK(send_to(a, {{"id", "f-" + id}, {"customer", id}, {"type", "view"}})["accepted"] == 1);
        REQUIRE(poll_until([&] {
            std::ifstream file(cluster.nodes[k]->directory() + "/deliveries.ndjson");
            for (std::string line; std::getline(file, line);) {
                const json d = json::parse(line);
                if (d["customer"] == id && d["program"] == "welcome")
                    return d["template"] == "welcome-2" && d["config_version"] == version;
            }
            return false;
        }));
    }

    // node-c down: the next change is refused, naming it, and changes nothing anywhere.
    cluster.nodes[2]->stop();
    json answer;
    CHECK(post_config(a, with_template(second, "welcome-2", "welcome-3"), &answer) ==
          std::pair<int, bool>{422, false});
    CHECK(answer.dump().find("node-c") != std::string::npos);
    for (int k = 0; k < 2; ++k) CHECK(get_json(*cluster.nodes[k], "/health")["version"] == version);
    // Committed before it stopped, node-c comes back under the change.
    cluster.nodes[2]->restart();
    CHECK(get_json(*cluster.nodes[2], "/health")["version"] == version);
}
