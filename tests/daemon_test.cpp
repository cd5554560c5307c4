// Integration tests: the real journeyd on loopback ports, driven over msgpack and HTTP.
#include <netinet/in.h>
#include <sys/socket.h>

#include <httplib.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "config/config_version.hpp"
#include "runtime/client/ingest_client.hpp"
#include "state/codec/msgpack_json.hpp"
#include "tests/support/command.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;
using test::poll_until;

namespace {

// The marketplace journey with durations a test can wait for, arbitration off and no
// quiet hours (so results never depend on the time of day the test runs).
std::string test_config(const std::string& extra = "") {
    return R"(
[node]
name = "itest"

[delivery]
sink = "file:deliveries.ndjson"

[journey]
stages = ["new", "exploring", "active", "loyal", "dormant"]
initial_stage = "new"

[[journey.transition]]
from = ["new", "dormant"]
on = ["search", "view"]
to = "exploring"

[[journey.transition]]
from = ["new", "exploring", "dormant"]
on = ["ad_placed", "message_sent"]
to = "active"

[[journey.transition]]
from = ["active"]
on = ["ad_placed", "sale"]
count = 3
within = "30d"
to = "loyal"

[[journey.timer]]
name = "lapse"
in = ["exploring", "active", "loyal"]
after = "2s"
to = "dormant"

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "welcome-1"

[[program]]
name = "winback"
on_enter = "dormant"
channel = "push"
priority = "promotional"
template = "winback-1"

[pressure]
hierarchy = ["service", "lifecycle", "promotional"]
arbitration_window = "0s"
)" + extra;
}

json event(const std::string& id, const std::string& customer, const std::string& type) {
    return {{"id", id}, {"customer", customer}, {"type", type}};
}

json send_one(IngestClient& client, const json& e) {
    client.send_frame(encode_event(e));
    return client.read_response();
}

json get_json(const DaemonProcess& daemon, const std::string& path, int expected_status = 200) {
    auto answer = daemon.admin().Get(path.c_str());
    REQUIRE(answer);
    INFO(path << " -> " << answer->body);
    REQUIRE(answer->status == expected_status);
    return json::parse(answer->body);
}

// A raw TCP connection for what a well-behaved client never sends.
struct RawConnection {
    explicit RawConnection(const std::string& ingest) {
        const uint16_t port = static_cast<uint16_t>(std::stoi(ingest.substr(ingest.find(':') + 1)));
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        timeval timeout{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    ~RawConnection() { ::close(fd); }

    void write(const std::string& bytes) {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(bytes.size()));
    }

    // Everything the daemon sends until it closes the connection (or 10 s pass).
    std::string read_until_closed() {
        std::string all;
        char buffer[4096];
        for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) all.append(buffer, n);
        return all;
    }

    int fd;
};

json decode_frame(const std::string& bytes) {
    REQUIRE(bytes.size() >= 4);
    const uint32_t length = (uint32_t(uint8_t(bytes[0])) << 24) |
                            (uint32_t(uint8_t(bytes[1])) << 16) |
                            (uint32_t(uint8_t(bytes[2])) << 8) | uint32_t(uint8_t(bytes[3]));
    REQUIRE(bytes.size() == 4 + length);
    auto handle = msgpack::unpack(bytes.data() + 4, length);
    std::string error;
    return *msgpack_to_json(handle.get(), error);
}

}  // namespace

TEST_CASE("daemon: a customer moves through the stages over the ingest port") {
    DaemonProcess daemon(test_config());
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    auto stage = [&] { return get_json(daemon, "/customers/kim")["stage"]; };

    CHECK(send_one(client, event("k1", "kim", "signup")) ==
          json{{"ok", true}, {"accepted", 1}, {"duplicates", 0}, {"errors", json::array()}});
    CHECK(stage() == "new");
    send_one(client, event("k2", "kim", "search"));
    CHECK(stage() == "exploring");
    json placed = json::array({event("k3", "kim", "ad_placed"), event("k4", "kim", "sale"),
                               event("k5", "kim", "ad_placed")});
    client.send_frame(encode_batch({placed.begin(), placed.end()}));
    CHECK(client.read_response()["accepted"] == 3);
    json kim = get_json(daemon, "/customers/kim");
    CHECK(kim["stage"] == "loyal");
    CHECK(kim["events_seen"] == 5);
    CHECK(kim["timers"][0]["name"] == "lapse");
    // Two seconds without events: the inactivity timer moves her to dormant.
    CHECK(poll_until([&] { return stage() == "dormant"; }));
    // The move is committed, and winback decided, a moment after the actor made it.
    CHECK(poll_until([&] {
        return get_json(daemon, "/customers/kim/record")["stage"] == "dormant" &&
               get_json(daemon, "/customers/kim/decisions").size() == 2;
    }));
    json decisions = get_json(daemon, "/customers/kim/decisions");
    REQUIRE(decisions.size() == 2);
    CHECK(decisions[0]["program"] == "winback");  // newest first
    CHECK(decisions[1]["program"] == "welcome");
    CHECK(decisions[1]["outcome"] == "send");
    json stats = get_json(daemon, "/stats");
    CHECK(stats["events_total"] == 5);
    CHECK(stats["stages"]["dormant"] == 1);
    CHECK(stats["decisions"]["send"] == 2);
    get_json(daemon, "/customers/nobody", 404);
    // What the store holds, read without the actor: what a restart would bring back.
    json stored = get_json(daemon, "/customers/kim/record");
    CHECK(stored["stage"] == "dormant");
    CHECK(stored["events_seen"] == 5);
    CHECK(stored["record_format"] == 1);
    CHECK(stats["store"]["customers"] == 1);
    CHECK(stats["store"]["bytes"] > 0);
}

TEST_CASE("daemon: a segment entered by events and left by time alone, counted across a crash") {
    DaemonProcess daemon(test_config(R"(
[[segment]]
name = "browsing"
when = [ { event = "view", min = 2, within = "3s" } ]

[[program]]
name = "browse_hint"
on_segment_enter = "browsing"
channel = "push"
priority = "promotional"
template = "hint-1"

[[program]]
name = "browse_gone"
on_segment_exit = "browsing"
channel = "email"
priority = "promotional"
template = "gone-1"
)"));
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (int i = 0; i < 2; ++i) {
        json view = event("v" + std::to_string(i), "lia", "view");
        view["ts"] = now;
        CHECK(send_one(client, view)["accepted"] == 1);
    }
    CHECK(get_json(daemon, "/customers/lia")["segments"] == json::array({"browsing"}));
    auto programs = [&] {
        std::set<std::string> names;
        for (const json& d : get_json(daemon, "/customers/lia/decisions"))
            names.insert(d["program"].get<std::string>());
        return names;
    };
    CHECK(poll_until([&] { return programs().count("browse_hint") == 1; }));
    CHECK(get_json(daemon, "/segments") == json::array({{{"name", "browsing"}, {"members", 1}}}));
    CHECK(daemon.metric("journeyd_segment_members{segment=\"browsing\"}") == 1);
    const auto [listed_status, listed] =
        test::run_command(std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " +
                          daemon.admin_address() + " segments");
    CHECK(listed_status == 0);
    CHECK(listed.find("browsing") != std::string::npos);
    // Counted once across a crash: the count is committed with the record that entered it.
    daemon.kill_hard();
    daemon.restart();
    CHECK(get_json(daemon, "/segments")[0]["members"] == 1);
    // Three seconds after the views, with no event: the segments timer takes her out.
    CHECK(poll_until([&] { return get_json(daemon, "/customers/lia")["segments"].empty(); }));
    CHECK(poll_until([&] { return programs().count("browse_gone") == 1; }));
    CHECK(poll_until([&] { return get_json(daemon, "/segments")[0]["members"] == 0; }));
}

TEST_CASE("daemon: journey flow and drivers through the admin port, kept across a crash") {
    DaemonProcess daemon(test_config(R"(
[[journey.driver]]
from = "exploring"
to = "active"
window = "1s"
)"));
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    // ann advances after a favorite; bob searches and idles: the 1s window closes his episode,
    // the 2s lapse moves everyone to dormant; cal is active at once.
    for (const json& e : {event("a1", "ann", "view"), event("a2", "ann", "favorite"),
                          event("a3", "ann", "ad_placed"), event("b1", "bob", "view"),
                          event("b2", "bob", "search"), event("c1", "cal", "ad_placed")})
        CHECK(send_one(client, e)["accepted"] == 1);
    auto transitions = [&](const json& flow) {
        std::map<std::string, int64_t> counts;
        for (const json& t : flow["transitions"])
            counts[t["from"].get<std::string>() + ">" + t["to"].get<std::string>()] = t["count"];
        return counts;
    };
    const json early = get_json(daemon, "/journey");
    CHECK(transitions(early)["new>exploring"] == 2);
    CHECK(transitions(early)["exploring>active"] == 1);
    CHECK(transitions(early)["new>active"] == 1);

    auto drivers = [&] {
        return get_json(daemon, "/journey/drivers?from=exploring&to=active&window=1s");
    };
    REQUIRE(poll_until([&] { return drivers().size() == 2; }));
    const json ranked = drivers();
    CHECK(ranked[0]["event"] == "favorite");
    CHECK(ranked[0]["exposed"] == json::parse(R"({"episodes": 1, "advanced": 1})"));
    CHECK(ranked[0]["unexposed"] == json::parse(R"({"episodes": 1, "advanced": 0})"));
    CHECK(ranked[1]["event"] == "search");
    get_json(daemon, "/journey/drivers?from=exploring&to=loyal", 404);

    // The lapse is a timer-driven move, counted like any other.
    auto dormant = [&](const json& flow) { return flow["stages"][4]["customers"]; };
    REQUIRE(poll_until([&] { return dormant(get_json(daemon, "/journey")) == 3; }));
    const json flow = get_json(daemon, "/journey");
    CHECK(transitions(flow)["exploring>dormant"] == 1);
    CHECK(transitions(flow)["active>dormant"] == 2);
    for (const json& stage : flow["stages"])
        CHECK(stage["entered"].get<int64_t>() - stage["left"].get<int64_t>() == stage["customers"]);
    CHECK(flow["stages"][1]["median_time_in_stage_ms"].is_number());

    const std::string ctl =
        std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " + daemon.admin_address();
    const auto [journey_status, journey_table] = test::run_command(ctl + " journey");
    CHECK(journey_status == 0);
    CHECK(journey_table.find("dormant") != std::string::npos);
    const auto [drivers_status, drivers_table] =
        test::run_command(ctl + " drivers exploring active");
    CHECK(drivers_status == 0);
    CHECK(drivers_table.find("favorite") != std::string::npos);
    CHECK(test::run_command(ctl + " drivers exploring loyal").first != 0);

    // Counted once across a crash: the counters are committed with the records that moved.
    daemon.kill_hard();
    daemon.restart();
    const json after = get_json(daemon, "/journey");
    CHECK(after["stages"] == flow["stages"]);
    CHECK(after["transitions"] == flow["transitions"]);
    CHECK(drivers() == ranked);
}

TEST_CASE("daemon: next best actions: chosen under pressure, outcomes counted across a crash") {
    DaemonProcess daemon(test_config(R"(
[decisioning]
explore = "greedy"

[[action]]
name = "sell"
channel = "push"
priority = "promotional"
template = "sell-1"
value = 5
goal = { event = "ad_placed", within = "1h" }
cooldown = "1h"

[[action]]
name = "nudge"
channel = "email"
priority = "promotional"
template = "nudge-1"
goal = { event = "favorite", within = "2s" }

[[program]]
name = "nba"
on_event = "app_open"
action = "best"
)"));
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    auto nba_decisions = [&] {
        json found = json::array();
        for (const json& d : get_json(daemon, "/customers/max/decisions"))
            if (d["program"] == "nba") found.push_back(d);
        return found;
    };
    auto action_counts = [&](const std::string& name) {
        for (const json& a : get_json(daemon, "/actions"))
            if (a["action"] == name) return a;
        return json();
    };

    // The better score (5 x 0.5 against 1 x 0.5) goes first.
    CHECK(send_one(client, event("o1", "max", "app_open"))["accepted"] == 1);
    REQUIRE(poll_until([&] { return nba_decisions().size() == 1; }));
    json first = nba_decisions()[0];
    CHECK(first["outcome"] == "send");
    CHECK(first["action"] == "sell");
    CHECK(first["channel"] == "push");
    CHECK(first["candidates"].size() == 2);
    CHECK(first["candidates"][0]["action"] == "sell");
    CHECK(first["candidates"][0]["score"] == 2.5);
    REQUIRE(poll_until([&] { return action_counts("sell")["open"] == 1; }));
    CHECK(get_json(daemon, "/customers/max")["goal_windows"][0]["action"] == "sell");

    // "sell" is in its cooldown: skipped, and "nudge" goes instead.
    CHECK(send_one(client, event("o2", "max", "app_open"))["accepted"] == 1);
    REQUIRE(poll_until([&] { return nba_decisions().size() == 2; }));
    json second = nba_decisions()[0];
    CHECK(second["outcome"] == "send");
    CHECK(second["action"] == "nudge");
    CHECK(second["skipped"] == json::array({{{"action", "sell"}, {"reason", "cooldown"}}}));
    const json ranked = get_json(daemon, "/customers/max/actions");
    CHECK(ranked[0]["action"] == "nudge");
    CHECK(ranked[1]["action"] == "sell");
    CHECK(ranked[1]["eligible"] == false);
    CHECK(ranked[1]["reason"] == "cooldown");

    // Both deliveries name their action.
    REQUIRE(poll_until([&] {
        std::ifstream file(daemon.directory() + "/deliveries.ndjson");
        std::set<std::string> actions;
        for (std::string line; std::getline(file, line);) {
            const json d = json::parse(line);
            if (d.contains("action")) actions.insert(d["action"].get<std::string>());
        }
        return actions == std::set<std::string>{"sell", "nudge"};
    }));

    // "nudge" hears nothing of its goal for 2 s: a failure, by its timer alone.
    CHECK(poll_until([&] { return action_counts("nudge")["failures"] == 1; }));
    // A crash with "sell" still open; its goal event after the restart still counts, once.
    daemon.kill_hard();
    daemon.restart();
    IngestClient again = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(action_counts("sell")["open"] == 1);
    CHECK(send_one(again, event("a1", "max", "ad_placed"))["accepted"] == 1);
    CHECK(send_one(again, event("a2", "max", "ad_placed"))["accepted"] == 1);
    const json sell = action_counts("sell");
    CHECK(sell["sent"] == 1);
    CHECK(sell["successes"] == 1);
    CHECK(sell["open"] == 0);
    CHECK(sell["propensity"]["mean"] == Approx(2.0 / 3.0));
    const json nudge = action_counts("nudge");
    CHECK(nudge["sent"] == 1);
    CHECK(nudge["failures"] == 1);
    CHECK(nudge["successes"] == 0);

    const auto [status, listed] =
        test::run_command(std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " +
                          daemon.admin_address() + " actions");
    CHECK(status == 0);
    CHECK(listed.find("sell") != std::string::npos);
    const auto [for_max_status, for_max] =
        test::run_command(std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " +
                          daemon.admin_address() + " actions max");
    CHECK(for_max_status == 0);
    CHECK(for_max.find("cooldown") != std::string::npos);
}

TEST_CASE(
    "daemon: program goals: both arms counted exactly for scripted conversions, across a crash") {
    DaemonProcess daemon(test_config(R"(
[experiment]
global_holdout = 0.2
salt = "itest"

[[program]]
name = "tips"
on_event = "favorite"
channel = "push"
priority = "promotional"
template = "tips-1"
goal = { event = "sale", within = "4s" }
holdout = 0.3

[[action]]
name = "boost"
channel = "in_app"
priority = "promotional"
template = "boost-1"
goal = { event = "sale", within = "4s" }
holdout = 0.5

[[program]]
name = "nba"
on_event = "favorite"
action = "best"
)"));
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    auto tips = [&] {
        for (const json& p : get_json(daemon, "/programs"))
            if (p["program"] == "tips") return p;
        return json();
    };
    auto boost = [&] { return get_json(daemon, "/actions")[0]; };
    constexpr int kCustomers = 40;
    for (int i = 0; i < kCustomers; ++i)
        CHECK(send_one(client, event("f" + std::to_string(i), "u" + std::to_string(i),
                                     "favorite"))["accepted"] == 1);
    // Every request decided and its window open, in one arm or the other.
    REQUIRE(poll_until([&] {
        const json goal = tips()["goal"];
        return goal["treated"]["open"].get<int>() + goal["control"]["open"].get<int>() ==
               kCustomers;
    }));
    // The best action "boost" has its own control group: its windows, besides the program's,
    // for every customer outside the global holdout (which holds nba out as a whole).
    int global = 0;
    for (int i = 0; i < kCustomers; ++i)
        global +=
            get_json(daemon, "/customers/u" + std::to_string(i))["holdout"]["global"].get<bool>();
    REQUIRE(poll_until([&] {
        const json b = boost();
        return b["open"].get<int>() + b["control"]["open"].get<int>() == kCustomers - global;
    }));

    // Which arm each customer is in, by the assignment its view shows; a third convert.
    int treated = 0, control = 0, treated_converted = 0, control_converted = 0;
    int boosted = 0, boost_held = 0, boosted_converted = 0, boost_held_converted = 0;
    for (int i = 0; i < kCustomers; ++i) {
        const std::string id = "u" + std::to_string(i);
        const json view = get_json(daemon, "/customers/" + id);
        const json& programs = view["holdout"]["programs"];
        const bool held = view["holdout"]["global"].get<bool>() ||
                          std::find(programs.begin(), programs.end(), "tips") != programs.end();
        json tip;
        for (const json& d : get_json(daemon, "/customers/" + id + "/decisions"))
            if (d["program"] == "tips") tip = d;
        CHECK(tip["outcome"] == (held ? "suppress" : "send"));
        if (held) {
            CHECK(tip["reason"] == "holdout");
            CHECK(tip["would_have"] == "send");
        }
        const bool converts = i % 3 == 0;
        json tips_window, boost_window;
        for (const json& w : view["goal_windows"])
            (w.contains("program") ? tips_window : boost_window) = w;
        CHECK(tips_window["arm"] == (held ? "control" : "treated"));
        const json& actions_held = view["holdout"]["actions"];
        const bool held_from_boost =
            std::find(actions_held.begin(), actions_held.end(), "boost") != actions_held.end();
        if (view["holdout"]["global"].get<bool>()) {
            CHECK(boost_window.is_null());
        } else {
            CHECK(boost_window["action"] == "boost");
            CHECK(boost_window["arm"] == (held_from_boost ? "control" : "treated"));
            (held_from_boost ? boost_held : boosted) += 1;
            if (converts) (held_from_boost ? boost_held_converted : boosted_converted) += 1;
        }
        (held ? control : treated) += 1;
        if (converts) (held ? control_converted : treated_converted) += 1;
        if (converts) CHECK(send_one(client, event("s" + id, id, "sale"))["accepted"] == 1);
    }
    REQUIRE(treated > 0);
    REQUIRE(control > 0);
    REQUIRE(boosted > 0);
    REQUIRE(boost_held > 0);

    // A crash: open windows survive it, a converted one does not convert again, and the
    // windows still open close at their end by their timers.
    daemon.kill_hard();
    daemon.restart();
    IngestClient again = IngestClient::connect(daemon.ingest(), 10s);
    for (int i = 0; i < kCustomers; i += 3) {
        const std::string id = "u" + std::to_string(i);
        CHECK(send_one(again, event("s" + id, id, "sale"))["duplicates"] == 1);
        CHECK(send_one(again, event("t" + id, id, "sale"))["accepted"] == 1);
    }
    REQUIRE(poll_until([&] {
        const json goal = tips()["goal"];
        const json b = boost();
        return goal["treated"]["open"] == 0 && goal["control"]["open"] == 0 && b["open"] == 0 &&
               b["control"]["open"] == 0;
    }));
    const json b = boost();
    CHECK(b["sent"] == boosted);
    CHECK(b["successes"] == boosted_converted);
    CHECK(b["control"]["n"] == boost_held);
    CHECK(b["control"]["converted"] == boost_held_converted);
    const json program = tips();
    CHECK(program["goal"]["treated"]["n"] == treated);
    CHECK(program["goal"]["treated"]["converted"] == treated_converted);
    CHECK(program["goal"]["control"]["n"] == control);
    CHECK(program["goal"]["control"]["converted"] == control_converted);
    CHECK(program["sent"] == treated);
    CHECK(program["suppressed"]["holdout"] == control);
    CHECK(program["requests"] == kCustomers);
    CHECK(program["holdout"].get<double>() == Approx(1 - 0.8 * 0.7));
    CHECK(program["uplift"]["absolute"].get<double>() ==
          Approx(double(treated_converted) / treated - double(control_converted) / control));

    const auto [status, listed] =
        test::run_command(std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " +
                          daemon.admin_address() + " programs");
    CHECK(status == 0);
    CHECK(listed.find("tips") != std::string::npos);
    CHECK(listed.find("holdout:" + std::to_string(control)) != std::string::npos);
}

TEST_CASE("daemon: duplicates, invalid events in a batch, and pipelining") {
    DaemonProcess daemon(test_config());
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("d1", "dup", "view"))["accepted"] == 1);
    json again = send_one(client, event("d1", "dup", "view"));
    CHECK(again["accepted"] == 0);
    CHECK(again["duplicates"] == 1);
    CHECK(again["ok"] == true);

    json bad = event("b2", "mix", "view");
    bad.erase("type");
    std::vector<json> batch{event("b1", "mix", "view"), bad, event("b3", "mix", "search")};
    client.send_frame(encode_batch(batch));
    json answer = client.read_response();
    CHECK(answer["ok"] == false);
    CHECK(answer["accepted"] == 2);
    CHECK(answer["errors"] == json::array({{{"index", 1}, {"error", "missing \"type\""}}}));
    CHECK(get_json(daemon, "/customers/mix")["events_seen"] == 2);

    // 200 frames in flight on one connection: answered in order.
    for (int i = 0; i < 200; ++i)
        client.send_frame(
            encode_event(event("p" + std::to_string(i), "pipe" + std::to_string(i % 7),
                               i % 10 == 9 ? "view" : "search")));
    for (int i = 0; i < 200; ++i) REQUIRE(client.read_response()["accepted"] == 1);
    CHECK(get_json(daemon, "/stats")["events_total"] == 203);
}

TEST_CASE("daemon: garbage is answered and the connection kept; bad lengths close it") {
    DaemonProcess daemon(test_config());
    {
        IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
        client.send_frame(std::string("\xc1\xc1\xc1 not msgpack", 15));
        json answer = client.read_response();
        CHECK(answer["ok"] == false);
        CHECK(answer["error"].get<std::string>().rfind("body is not valid msgpack", 0) == 0);
        CHECK(send_one(client, event("after", "g", "view"))["accepted"] == 1);
    }
    for (const std::string& header : {std::string("\0\0\0\0", 4), std::string("\x7f\0\0\0", 4)}) {
        RawConnection raw(daemon.ingest());
        raw.write(header + "whatever follows is not read");
        json answer = decode_frame(raw.read_until_closed());  // one answer, then closed
        CHECK(answer["ok"] == false);
        CHECK(answer["error"].get<std::string>().find("is outside 1..1048576") !=
              std::string::npos);
    }
    // Other connections never noticed.
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("still", "g", "view"))["accepted"] == 1);
    json metrics_text = nullptr;
    auto metrics = daemon.admin().Get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->body.find("journeyd_frame_errors_total 3") != std::string::npos);
}

TEST_CASE("daemon: the admin API: token, methods, bad input, encoded ids, POST events") {
    DaemonProcess daemon(test_config("\n[admin]\ntoken = \"s3cret\"\n"));
    httplib::Client admin = daemon.admin();
    CHECK(admin.Get("/health")->status == 200);
    CHECK(admin.Get("/stats")->status == 401);
    CHECK(admin.Get("/stats", {{"Authorization", "Bearer wrong"}})->status == 401);
    const httplib::Headers auth{{"Authorization", "Bearer s3cret"}};
    CHECK(admin.Get("/stats", auth)->status == 200);
    CHECK(admin.Delete("/stats", auth)->status == 405);
    CHECK(admin.Get("/nowhere", auth)->status == 404);

    auto posted = admin.Post("/customers/a%2Fb/events", auth, R"({"id": "w1", "type": "search"})",
                             "application/json");
    REQUIRE(posted);
    CHECK(posted->status == 202);
    auto customer = admin.Get("/customers/a%2Fb", auth);
    REQUIRE(customer->status == 200);
    CHECK(json::parse(customer->body)["stage"] == "exploring");
    CHECK(json::parse(customer->body)["id"] == "a/b");
    auto again = admin.Post("/customers/a%2Fb/events", auth, R"({"id": "w1", "type": "search"})",
                            "application/json");
    CHECK(json::parse(again->body)["duplicate"] == true);
    CHECK(admin.Post("/customers/x/events", auth, "{not json", "application/json")->status == 400);
    auto invalid =
        admin.Post("/customers/x/events", auth, R"({"id": "", "type": "t"})", "application/json");
    CHECK(invalid->status == 400);
    CHECK(json::parse(invalid->body)["error"] == "\"id\" must be 1..128 bytes");
    // The welcome decision follows the acknowledgement by a moment: poll for it.
    const std::vector<std::string> series = {"journeyd_events_total 1",
                                             "journeyd_decisions_total{outcome=\"send\"} 1",
                                             "journeyd_customers_live 1",
                                             "journeyd_customers_in_stage{stage=\"exploring\"} 1",
                                             "journeyd_event_to_decision_seconds_count 1",
                                             "journeyd_timer_lateness_seconds_count 0"};
    std::string exposition;
    const bool complete = poll_until([&] {
        auto metrics = admin.Get("/metrics", auth);
        exposition = metrics && metrics->status == 200 ? metrics->body : "";
        for (const std::string& line : series)
            if (exposition.find(line) == std::string::npos) return false;
        return true;
    });
    INFO(exposition);
    CHECK(complete);
}

// 200,000 levels of JSON once overflowed the stack of the admin thread converting it and
// killed the daemon.
TEST_CASE("daemon: an event nested 200,000 levels deep is refused and the daemon lives on") {
    DaemonProcess daemon(test_config());
    httplib::Client admin = daemon.admin();
    const std::string deep = R"({"id": "deep", "type": "t", "attrs": {"a": )" +
                             std::string(200'000, '[') + std::string(200'000, ']') + "}}";
    auto refused = admin.Post("/customers/x/events", deep, "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 400);
    CHECK(json::parse(refused->body)["error"] ==
          "the body is not valid JSON: nested deeper than 32 levels");
    auto health = admin.Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
}

TEST_CASE("daemon: SIGTERM under load answers every frame it received, then exits 0") {
    DaemonProcess daemon(test_config());
    constexpr int kConnections = 4;
    std::atomic<bool> stop_sending{false};
    std::vector<int> answered(kConnections, 0), accepted(kConnections, 0);
    std::vector<std::thread> sources;
    for (int c = 0; c < kConnections; ++c)
        sources.emplace_back([&, c] {
            IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
            int sent = 0;
            try {
                for (; !stop_sending && sent < 100'000; ++sent) {
                    client.send_frame(
                        encode_event(event("s" + std::to_string(c) + "-" + std::to_string(sent),
                                           "load" + std::to_string(sent % 50), "view")));
                    if (sent - answered[c] > 64) {  // keep a window of frames in flight
                        json answer = client.read_response();
                        ++answered[c];
                        accepted[c] += answer.value("accepted", 0);
                    }
                }
            } catch (const IngestError&) {  // the daemon stopped reading and closed
            }
            try {
                for (;;) {
                    json answer = client.read_response();
                    ++answered[c];
                    accepted[c] += answer.value("accepted", 0);
                }
            } catch (const IngestError&) {  // closed after the last answer
            }
        });
    REQUIRE(poll_until([&] { return get_json(daemon, "/stats")["events_total"] > 2000; }));
    CHECK(daemon.stop() == 0);
    stop_sending = true;
    for (std::thread& t : sources) t.join();
    int total_answered = 0, total_accepted = 0;
    for (int c = 0; c < kConnections; ++c)
        total_answered += answered[c], total_accepted += accepted[c];
    // The daemon's own count of frames received, from its last log line.
    const std::string log = daemon.log();
    INFO(log);
    const auto at = log.find("journeyd stopped");
    REQUIRE(at != std::string::npos);
    const auto frames_at = log.find("frames=", at);
    REQUIRE(frames_at != std::string::npos);
    CHECK(std::stoi(log.substr(frames_at + 7)) == total_answered);
    CHECK(std::stoi(log.substr(log.find("events=", at) + 7)) == total_accepted);
    CHECK(total_answered > 2000);
}

// Such a customer was acknowledged, and two seconds later the sink writing its welcome send
// as JSON aborted journeyd.
TEST_CASE("daemon: a customer id that is not UTF-8 is refused at the door") {
    DaemonProcess daemon(test_config());
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    const json answer = send_one(client, event("u1", "\xff\xfe", "signup"));
    CHECK(answer["accepted"] == 0);
    CHECK(answer["errors"][0]["error"] == "\"customer\" must be UTF-8");
    CHECK(send_one(client, event("u2", "fine", "signup"))["accepted"] == 1);
    CHECK(get_json(daemon, "/stats")["events_rejected"] == 1);
}

TEST_CASE("daemon: an admin port another journeyd holds is refused, not shared") {
    DaemonProcess first(test_config());
    const std::string data = first.directory() + "/second-data";
    const std::string log = first.directory() + "/second.log";
    // Without the refusal the second journeyd would run, sharing the port: timeout ends it.
    const std::string command = std::string("timeout 10 ") + JOURNEYD_BINARY +
                                " --ingest 127.0.0.1:0 --admin " + first.admin_address() +
                                " --data-dir " + data + " > " + log + " 2>&1";
    const int status = std::system(command.c_str());
    std::ifstream in(log);
    const std::string output((std::istreambuf_iterator<char>(in)), {});
    INFO(output);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(output.find("admin: cannot bind") != std::string::npos);
    auto health = first.admin().Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);
}

// The endpoint answered 400 (and the like) for ever and the HTTP sink retried for ever.
TEST_CASE("daemon: a send the endpoint refuses for good is parked, listed and sent again once") {
    std::mutex mutex;
    std::vector<std::string> delivered;
    int refused = 0;
    bool refuse_bad = true;
    httplib::Server endpoint;
    endpoint.Post("/deliveries", [&](const httplib::Request& request, httplib::Response& response) {
        const json object = json::parse(request.body);
        std::lock_guard<std::mutex> lock(mutex);
        if (object["customer"] == "bad" && refuse_bad) {
            ++refused;
            response.status = 422;
            response.set_content("{\"error\":\n \"unknown template\"}", "application/json");
            return;
        }
        delivered.push_back(object["customer"].get<std::string>());
        response.status = 200;
    });
    const int port = endpoint.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread serving([&] { endpoint.listen_after_bind(); });
    std::string config = test_config();
    const std::string file_sink = "file:deliveries.ndjson";
    config.replace(config.find(file_sink), file_sink.size(),
                   "http://127.0.0.1:" + std::to_string(port) + "/deliveries");
    {
        DaemonProcess daemon(config);
        IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
        for (const std::string customer : {"ann", "bad", "bob"})
            CHECK(send_one(client, event(customer + "-1", customer, "signup"))["accepted"] == 1);
        CHECK(poll_until([&] {
            std::lock_guard<std::mutex> lock(mutex);
            return delivered.size() == 2;
        }));
        CHECK(poll_until([&] {
            const json store = get_json(daemon, "/stats")["store"];
            return store["dead_letters"] == 1 && store["outbox"] == 0;
        }));
        CHECK(daemon.metric("journeyd_delivery_dead_letters_total") == 1);
        CHECK(daemon.metric("journeyd_store_dead_letters") == 1);

        CHECK(daemon.stop() == 0);
        daemon.restart();  // parked, not in the outbox: not offered again
        const json store = get_json(daemon, "/stats")["store"];
        CHECK(store["dead_letters"] == 1);
        CHECK(store["outbox"] == 0);

        const json dead = get_json(daemon, "/deliveries/dead");
        REQUIRE(dead.size() == 1);
        CHECK(dead[0]["customer"] == "bad");
        CHECK(dead[0]["program"] == "welcome");
        CHECK(dead[0]["status"] == 422);
        CHECK(dead[0]["error"] == "{\"error\":\n \"unknown template\"}");
        const std::string id = dead[0]["decision_id"].get<std::string>();
        const std::string journeyctl =
            std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " + daemon.admin_address();
        const auto [listed_status, listed] = test::run_command(journeyctl + " dead");
        CHECK(listed_status == 0);
        CHECK(listed.find(id) != std::string::npos);
        CHECK(listed.find("422") != std::string::npos);
        CHECK(listed.find("{\"error\":  \"unknown template\"}") != std::string::npos);  // one line
        {
            std::lock_guard<std::mutex> lock(mutex);
            refuse_bad = false;  // the endpoint was fixed
        }
        const auto [sent_status, sent] = test::run_command(journeyctl + " redeliver --all");
        CHECK(sent_status == 0);
        CHECK(sent == "re-queued " + id + "\n");
        CHECK(poll_until([&] {
            std::lock_guard<std::mutex> lock(mutex);
            return delivered.size() == 3;
        }));
        const std::string retry = "/deliveries/dead/" + id + "/retry";
        auto again = daemon.admin().Post(retry.c_str(), "", "application/json");
        REQUIRE(again);
        CHECK(again->status == 404);
        const auto [missing_status, missing] = test::run_command(journeyctl + " redeliver " + id);
        CHECK(missing_status == 1);
        CHECK(missing == "no dead letter " + id + "\n");
        CHECK(test::run_command(journeyctl + " dead").second == "no dead letters\n");
        CHECK(get_json(daemon, "/deliveries/dead") == json::array());
        CHECK(poll_until([&] { return get_json(daemon, "/stats")["store"]["outbox"] == 0; }));
    }
    endpoint.stop();
    serving.join();
    std::lock_guard<std::mutex> lock(mutex);
    CHECK(refused == 1);
}

namespace {

std::string identity_config() {
    return test_config(R"(
[[program]]
name = "nudge"
on_event = "search"
channel = "email"
priority = "promotional"
template = "nudge-1"

[[pressure.cap]]
channel = "email"
max = 2
per = "1d"

[identity]
max_aliases = 3
)");
}

json identify(const std::string& id, const std::string& customer, const std::string& as) {
    json e = event(id, customer, "identify");
    e["attrs"] = {{"as", as}};
    return e;
}

json profile(const std::string& id, const std::string& customer, const json& attrs) {
    json e = event(id, customer, "profile");
    e["attrs"] = attrs;
    return e;
}

// The decisions of a customer, oldest first, as "program:outcome[:reason]".
std::vector<std::string> decision_trail(const DaemonProcess& daemon, const std::string& id) {
    std::vector<std::string> trail;
    for (const json& d : get_json(daemon, "/customers/" + id + "/decisions")) {
        std::string line = d["program"].get<std::string>() + ":" + d["outcome"].get<std::string>();
        if (d["outcome"] != "send") line += ":" + d["reason"].get<std::string>();
        trail.insert(trail.begin(), line);
    }
    return trail;
}

}  // namespace

TEST_CASE("daemon: identify merges an anonymous id into a known customer, exactly once") {
    DaemonProcess daemon(identity_config());
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    // The device browses anonymously: welcomed (an e-mail), exploring, with a profile.
    CHECK(send_one(client, profile("p1", "device-42",
                                   {{"color", "red"}, {"tz", "Europe/Paris"}}))["accepted"] == 1);
    CHECK(send_one(client, event("v1", "device-42", "view"))["accepted"] == 1);
    // Ann is known: welcomed too, still new.
    CHECK(send_one(client, profile("p2", "ann",
                                   {{"name", "Ann"}, {"tz", "Europe/Lisbon"}}))["accepted"] == 1);
    REQUIRE(poll_until([&] { return decision_trail(daemon, "ann").size() == 1; }));
    CHECK(get_json(daemon, "/stats")["stages"] ==
          json({{"new", 1}, {"exploring", 1}, {"active", 0}, {"loyal", 0}, {"dormant", 0}}));

    CHECK(send_one(client, identify("i1", "device-42", "ann"))["accepted"] == 1);
    // The device's id answers Ann, with both profiles (Ann's values win) and the device's stage,
    // since Ann was still new.
    const json ann = get_json(daemon, "/customers/device-42");
    CHECK(ann["id"] == "ann");
    CHECK(ann["requested_as"] == "device-42");
    CHECK(ann["aliases"] == json::array({"device-42"}));
    CHECK(ann["profile"] == json({{"name", "Ann"}, {"color", "red"}, {"tz", "Europe/Lisbon"}}));
    CHECK(ann["stage"] == "exploring");
    CHECK(ann["events_seen"] == 4);
    CHECK(get_json(daemon, "/customers/ann")["contacts"].size() == 2);
    // Counts per stage: the device left its stage, Ann moved from new to it.
    const json stats = get_json(daemon, "/stats");
    CHECK(stats["stages"]["new"] == 0);
    CHECK(stats["stages"]["exploring"] == 1);
    CHECK(stats["customers_stored"] == 1);
    CHECK(stats["store"]["aliases"] == 1);

    // Caps count both ids' e-mails: the nudge is the third e-mail of the day.
    CHECK(send_one(client, event("s1", "ann", "search"))["accepted"] == 1);
    REQUIRE(poll_until([&] { return decision_trail(daemon, "ann").size() == 3; }));
    CHECK(decision_trail(daemon, "ann") ==
          std::vector<std::string>{"welcome:send", "welcome:send", "nudge:suppress:cap"});

    // Retries are duplicates: an event sent as the device before the merge, and the identify.
    CHECK(send_one(client, event("v1", "device-42", "view"))["duplicates"] == 1);
    CHECK(send_one(client, identify("i1", "device-42", "ann"))["duplicates"] == 1);
    // A new event sent as the device is Ann's.
    CHECK(send_one(client, event("v2", "device-42", "view"))["accepted"] == 1);
    CHECK(get_json(daemon, "/customers/ann")["events_seen"] == 6);

    // Errors, per event: no `as`, `as` the customer itself, a cycle, and too many aliases.
    json no_as = event("e1", "tablet", "identify");
    std::vector<json> bad{no_as, identify("e2", "tablet", "tablet"),
                          identify("e3", "ann", "device-42")};
    client.send_frame(encode_batch(bad));
    const json refused = client.read_response();
    CHECK(refused["accepted"] == 0);
    REQUIRE(refused["errors"].size() == 3);
    CHECK(refused["errors"][0]["error"] ==
          "identify needs attrs.as: the id the customer is known as (a non-empty string)");
    CHECK(refused["errors"][1]["error"] == "identify: attrs.as names the customer itself (tablet)");
    CHECK(refused["errors"][2]["error"] ==
          "not applied: identify: device-42 is already an alias of ann: the merge would make a "
          "cycle");

    // A chain: the tablet becomes an alias of the phone, which becomes Ann's; the tablet then
    // resolves to Ann, and max_aliases = 3 refuses a fourth.
    CHECK(send_one(client, event("t1", "tablet", "view"))["accepted"] == 1);
    CHECK(send_one(client, identify("t2", "tablet", "phone"))["accepted"] == 1);
    CHECK(send_one(client, identify("t3", "phone", "ann"))["accepted"] == 1);
    CHECK(get_json(daemon, "/customers/tablet")["id"] == "ann");
    CHECK(get_json(daemon, "/customers/ann")["aliases"] ==
          json::array({"device-42", "phone", "tablet"}));
    CHECK(get_json(daemon, "/customers/tablet/record")["alias_of"] == "ann");
    const json fourth = send_one(client, identify("w1", "watch", "ann"));
    CHECK(fourth["accepted"] == 0);
    CHECK(fourth["errors"][0]["error"] ==
          "not applied: identify: ann would have 4 aliases, more than [identity] max_aliases = 3");
    CHECK(send_one(client, event("w2", "watch", "view"))["accepted"] == 1);
    CHECK(get_json(daemon, "/customers/watch")["id"] == "watch");

    // All of it is durable: after kill -9 the aliases still answer Ann, duplicates still are.
    const json before = get_json(daemon, "/customers/ann");
    daemon.kill_hard();
    daemon.restart();
    IngestClient again = IngestClient::connect(daemon.ingest(), 10s);
    const json restarted = get_json(daemon, "/customers/tablet");
    for (const char* field : {"id", "aliases", "profile", "events_seen"})
        CHECK(restarted[field] == before[field]);
    CHECK(send_one(again, event("t1", "tablet", "view"))["duplicates"] == 1);
    CHECK(send_one(again, event("v1", "device-42", "view"))["duplicates"] == 1);
    const json after = get_json(daemon, "/stats");
    CHECK(after["customers_stored"] == 2);  // ann and watch
    CHECK(after["store"]["aliases"] == 3);
}

TEST_CASE("daemon: events for both ids during a merge are all applied, in order per id") {
    DaemonProcess daemon(identity_config());
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("a0", "anon", "view"))["accepted"] == 1);
    CHECK(send_one(client, event("k0", "known", "view"))["accepted"] == 1);
    // Frames pipelined around the identify: each sets a counter attribute of its id, so the
    // profile ends with the last one applied; the merged profile keeps the known id's value
    // and the anonymous id's attribute applied after the merge lands on the known customer.
    constexpr int kFrames = 60;
    for (int i = 0; i < kFrames; ++i) {
        std::vector<json> batch{profile("a" + std::to_string(i + 1), "anon", {{"anon_seq", i}}),
                                profile("k" + std::to_string(i + 1), "known", {{"known_seq", i}})};
        if (i == kFrames / 2) batch.push_back(identify("merge", "anon", "known"));
        client.send_frame(encode_batch(batch));
    }
    int accepted = 0;
    for (int i = 0; i < kFrames; ++i) accepted += client.read_response()["accepted"].get<int>();
    CHECK(accepted == 2 * kFrames + 1);
    const json known = get_json(daemon, "/customers/anon");
    CHECK(known["id"] == "known");
    CHECK(known["events_seen"] == 2 * kFrames + 3);
    CHECK(known["profile"]["anon_seq"] == kFrames - 1);
    CHECK(known["profile"]["known_seq"] == kFrames - 1);
}

// A program the configuration changes below add.
constexpr const char* kThanksProgram = R"(
[[program]]
name = "thanks"
on_enter = "loyal"
channel = "email"
priority = "lifecycle"
template = "thanks-1"
)";

using Edits = std::vector<std::pair<std::string, std::string>>;

// "exploring" removed from test_config(), and everything that names it.
const Edits kWithoutExploring = {
    {R"(stages = ["new", "exploring", "active", "loyal", "dormant"])",
     R"(stages = ["new", "active", "loyal", "dormant"])"},
    {R"(to = "exploring")", R"(to = "active")"},
    {R"(from = ["new", "exploring", "dormant"])", R"(from = ["new", "dormant"])"},
    {R"(in = ["exploring", "active", "loyal"])", R"(in = ["active", "loyal"])"}};

std::string edited(std::string text, const Edits& edits) {
    for (const auto& [from, to] : edits) {
        const size_t at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.replace(at, from.size(), to);
    }
    return text;
}

TEST_CASE("daemon: GET /config, and a change checked over HTTP and with journeyctl") {
    const std::string config = test_config();
    DaemonProcess daemon(config);
    const json running = get_json(daemon, "/config");
    CHECK(running["text"] == config);
    const std::string version = running["version"];
    const std::string source = running["source"];
    CHECK(version.size() == 12);
    CHECK(source == daemon.directory() + "/journeyd.toml");
    CHECK(get_json(daemon, "/health")["version"] == version);
    CHECK(daemon.log().find("configuration source=" + source + " version=" + version) !=
          std::string::npos);
    CHECK(daemon.log().find(" config_version=" + version) != std::string::npos);

    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("e1", "ann", "search"))["accepted"] == 1);
    CHECK(poll_until([&] { return get_json(daemon, "/stats")["stages"]["exploring"] == 1; }));
    // Her welcome is decided, and delivered, under the version in force.
    REQUIRE(poll_until([&] { return get_json(daemon, "/customers/ann/decisions").size() == 1; }));
    CHECK(get_json(daemon, "/customers/ann/decisions")[0]["config_version"] == version);
    REQUIRE(poll_until([&] {
        std::ifstream file(daemon.directory() + "/deliveries.ndjson");
        std::string line;
        return std::getline(file, line) && json::parse(line)["config_version"] == version;
    }));

    // "exploring" removed while ann is in it, and everything that names it.
    const std::string without = edited(config, kWithoutExploring);
    auto checked = daemon.admin().Post("/config?dry_run=true", without, "application/toml");
    REQUIRE(checked);
    INFO(checked->body);
    CHECK(checked->status == 200);
    const json answer = json::parse(checked->body);
    CHECK(answer["applied"] == false);
    REQUIRE(answer["errors"].size() == 1);
    CHECK(answer["errors"][0]["message"].get<std::string>().find(
              "stage \"exploring\" is removed but holds 1 customer(s)") == 0);
    CHECK(answer["changes"]["stages_removed"] == json{"exploring"});
    CHECK(answer["customers_affected"]["exploring"] == 1);

    const std::string journeyctl =
        std::string(JOURNEYCTL_BINARY) + " --timeout 10 --admin " + daemon.admin_address();
    const std::string refused_file = daemon.directory() + "/without_exploring.toml";
    std::ofstream(refused_file) << without;
    const auto [refused_status, refused] =
        test::run_command(journeyctl + " reload " + refused_file + " --dry-run");
    INFO(refused);
    CHECK(refused_status == 1);
    CHECK(refused.find("version " + answer["version"].get<std::string>() + ": 1 error(s)\n") == 0);
    CHECK(refused.find("line 9: stage \"exploring\" is removed") != std::string::npos);
    CHECK(refused.find("  stages removed: exploring\n") != std::string::npos);
    // "new" and "dormant" are affected too: their transition to "exploring" now goes elsewhere.
    CHECK(refused.find("customers affected:\n  dormant: 0\n  exploring: 1\n  new: 0\n") !=
          std::string::npos);

    const std::string added_file = daemon.directory() + "/with_thanks.toml";
    std::ofstream(added_file) << test_config(kThanksProgram);
    const auto [added_status, added] =
        test::run_command(journeyctl + " reload " + added_file + " --dry-run");
    INFO(added);
    CHECK(added_status == 0);
    CHECK(added.find(": ok\n") != std::string::npos);
    CHECK(added.find("  programs added: thanks\n") != std::string::npos);
    // Without --dry-run it is applied: "thanks" greets whoever reaches "loyal" from now on.
    const auto [apply_status, applied] = test::run_command(journeyctl + " reload " + added_file);
    INFO(applied);
    CHECK(apply_status == 0);
    CHECK(applied.find("applied: in force from now on\n") != std::string::npos);
    const std::string thanks_version = config_version(test_config(kThanksProgram));
    const json now_running = get_json(daemon, "/config");
    CHECK(now_running["version"] == thanks_version);
    CHECK(now_running["source"] == "<posted>");
    CHECK(now_running["text"] == test_config(kThanksProgram));
    CHECK(get_json(daemon, "/health")["version"] == thanks_version);
    CHECK(daemon.log().find("configuration reload applied source=<posted> version=" +
                            thanks_version + " previous=" + version) != std::string::npos);
    // ann, in the journey since before the change, reaches "loyal" under the new one.
    int n = 0;
    for (const char* type : {"ad_placed", "sale", "sale", "sale"})
        CHECK(send_one(client, event("c" + std::to_string(++n), "ann", type))["accepted"] == 1);
    // (Idle for the 2 s of "lapse" meanwhile, she may have been won back first.)
    REQUIRE(poll_until(
        [&] { return get_json(daemon, "/customers/ann/decisions")[0]["program"] == "thanks"; }));
    CHECK(get_json(daemon, "/customers/ann/decisions")[0]["config_version"] == thanks_version);
    // Applying the text in force again changes nothing and says so.
    const auto [again_status, again] = test::run_command(journeyctl + " reload " + added_file);
    CHECK(again_status == 0);
    CHECK(daemon.log().find("configuration reload unchanged source=<posted> version=" +
                            thanks_version) != std::string::npos);
}

// Every delivery's template, by the version it was decided under: a change whose template
// differs shows which one decided it.
std::map<std::string, std::set<std::string>> templates_by_version(const DaemonProcess& daemon) {
    std::map<std::string, std::set<std::string>> seen;
    std::ifstream file(daemon.directory() + "/deliveries.ndjson");
    for (std::string line; std::getline(file, line);) {
        const json delivery = json::parse(line);
        seen[delivery["config_version"]].insert(delivery["template"].get<std::string>());
    }
    return seen;
}

TEST_CASE("daemon: a change applied under load; in force after kill -9, until the file changes") {
    const std::string first = test_config();
    DaemonProcess daemon(first);
    const std::string first_version = config_version(first);
    std::string second = first;
    second.replace(second.find("welcome-1"), 9, "welcome-2");
    const std::string second_version = config_version(second);

    // New customers keep arriving while the change is applied: each one's welcome is decided
    // wholly under one version, whose template it carries.
    std::atomic<bool> sending{true};
    std::atomic<int> acknowledged{0}, sent{0};
    std::thread source([&] {
        IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
        for (int i = 0; sending || i < 20; ++i) {
            ++sent;
            const json answer =
                send_one(client, event("w" + std::to_string(i), "new" + std::to_string(i), "view"));
            acknowledged += answer["accepted"].get<int>();
        }
    });
    REQUIRE(poll_until([&] { return sent > 20; }));
    auto posted = daemon.admin().Post("/config", second, "application/toml");
    REQUIRE(posted);
    INFO(posted->body);
    CHECK(posted->status == 200);
    CHECK(json::parse(posted->body)["applied"] == true);
    const int sent_before = sent;
    REQUIRE(poll_until([&] { return sent > sent_before + 20; }));
    sending = false;
    source.join();
    CHECK(acknowledged == sent);
    // One welcome per customer.
    REQUIRE(poll_until([&] {
        std::ifstream file(daemon.directory() + "/deliveries.ndjson");
        int lines = 0;
        for (std::string line; std::getline(file, line);) ++lines;
        return lines == sent;
    }));
    const auto seen = templates_by_version(daemon);
    CHECK(seen.at(first_version) == std::set<std::string>{"welcome-1"});
    CHECK(seen.at(second_version) == std::set<std::string>{"welcome-2"});
    CHECK(seen.size() == 2);

    // Acknowledged, so in force after a crash, though the file still holds the first text.
    daemon.kill_hard();
    daemon.restart();
    CHECK(get_json(daemon, "/health")["version"] == second_version);
    CHECK(get_json(daemon, "/config")["text"] == second);
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("x1", "zoe", "view"))["accepted"] == 1);
    REQUIRE(poll_until([&] { return get_json(daemon, "/customers/zoe/decisions").size() == 1; }));
    CHECK(get_json(daemon, "/customers/zoe/decisions")[0]["config_version"] == second_version);

    // An edited file is the operator's newer word: it wins at the next start.
    daemon.stop();
    const std::string third = test_config(kThanksProgram);
    std::ofstream(daemon.directory() + "/journeyd.toml") << third;
    daemon.restart();
    CHECK(get_json(daemon, "/health")["version"] == config_version(third));
}

TEST_CASE("daemon: a removed stage's customers move where [journey.migrate] says, counted") {
    // A lapse too long to happen during the test.
    const std::string config = edited(test_config(), {{R"(after = "2s")", R"(after = "1h")"}});
    DaemonProcess daemon(config);
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("a1", "ann", "search"))["accepted"] == 1);
    CHECK(send_one(client, event("b1", "bob", "search"))["accepted"] == 1);
    REQUIRE(poll_until([&] { return get_json(daemon, "/stats")["stages"]["exploring"] == 2; }));
    daemon.stop();  // bob and ann are only in the store now
    daemon.restart();

    const std::string migrated =
        edited(config, kWithoutExploring) + "\n[journey.migrate]\nexploring = \"active\"\n";
    auto posted = daemon.admin().Post("/config", migrated, "application/toml");
    REQUIRE(posted);
    INFO(posted->body);
    CHECK(posted->status == 200);
    CHECK(json::parse(posted->body)["customers_affected"]["exploring"] == 2);
    // Counted in their new stage at once, though neither has been read since.
    json stages = get_json(daemon, "/stats")["stages"];
    CHECK(stages["active"] == 2);
    CHECK_FALSE(stages.contains("exploring"));
    CHECK(daemon.metric(R"(journeyd_customers_in_stage{stage="active"})") == 2);
    // Read, each is moved; the counts stay exact.
    CHECK(get_json(daemon, "/customers/ann")["stage"] == "active");
    IngestClient after_restart = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(after_restart, event("b2", "bob", "view"))["accepted"] == 1);
    CHECK(get_json(daemon, "/customers/bob")["stage"] == "active");
    REQUIRE(poll_until([&] {
        return get_json(daemon, "/customers/bob/record")["stage"] == "active" &&
               get_json(daemon, "/customers/ann/record")["stage"] == "active";
    }));
    CHECK(get_json(daemon, "/stats")["stages"]["active"] == 2);
    // Moved, not arrived: no on_enter program of "active" (it has none to send here either),
    // and their welcome stays their only decision.
    CHECK(get_json(daemon, "/customers/ann/decisions").size() == 1);

    // Once no record names "exploring", the mapping may go.
    const std::string settled = edited(config, kWithoutExploring);
    auto dropped = daemon.admin().Post("/config", settled, "application/toml");
    REQUIRE(dropped);
    INFO(dropped->body);
    CHECK(dropped->status == 200);
    daemon.stop();
    daemon.restart();
    CHECK(get_json(daemon, "/stats")["stages"]["active"] == 2);
    CHECK(get_json(daemon, "/customers/bob")["stage"] == "active");
}

TEST_CASE("daemon: a customer's engagement hours, in their own time zone, on the admin port") {
    DaemonProcess daemon(test_config("\n[rhythm]\nengagement = [\"view\", \"search\"]\n"));
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    // Tokyo has no daylight saving time: 10:00 UTC is always 19:00 there.
    constexpr int64_t kDay = 86'400'000;
    const int64_t today = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count() /
                          kDay * kDay;
    json profile = event("p1", "rita", "profile");
    profile["attrs"] = {{"tz", "Asia/Tokyo"}};
    profile["ts"] = today - 5 * kDay;
    CHECK(send_one(client, profile)["accepted"] == 1);
    for (int day = 4; day >= 1; --day) {
        json view = event("v" + std::to_string(day), "rita", day % 2 ? "view" : "search");
        view["ts"] = today - day * kDay + 10 * 3'600'000;
        CHECK(send_one(client, view)["accepted"] == 1);
    }
    json other = event("v9", "rita", "sale");  // not an engagement type
    other["ts"] = today - kDay + 2 * 3'600'000;
    CHECK(send_one(client, other)["accepted"] == 1);
    const json rhythm = get_json(daemon, "/customers/rita")["rhythm"];
    INFO(rhythm.dump());
    CHECK(rhythm["best_hour"] == 19);
    CHECK(rhythm["hours"].size() == 24);
    // Four events 1-4 days old, decayed to the moment of the read: from 3.61 right after
    // midnight UTC to 3.44 right before the next (14 days' half-life).
    CHECK(rhythm["hours"][19].get<double>() > 3.4);
    CHECK(rhythm["hours"][19].get<double>() < 3.65);
    CHECK(rhythm["events"] == rhythm["hours"][19]);
    // Kept in the record: the same after a restart.
    daemon.stop();
    daemon.restart();
    CHECK(get_json(daemon, "/customers/rita")["rhythm"]["best_hour"] == 19);
    // A customer with too little history has no best hour of their own.
    IngestClient again = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(again, event("n1", "ned", "view"))["accepted"] == 1);
    CHECK(get_json(daemon, "/customers/ned")["rhythm"]["best_hour"].is_null());
}

namespace {

// JOURNEYD_TEST_CLOCK_SKEW_MS for the daemons started while it lives (they inherit it).
struct ClockSkew {
    explicit ClockSkew(int64_t ms) {
        ::setenv("JOURNEYD_TEST_CLOCK_SKEW_MS", std::to_string(ms).c_str(), 1);
    }
    ~ClockSkew() { ::unsetenv("JOURNEYD_TEST_CLOCK_SKEW_MS"); }
};

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 24 * kHourMs;

int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Views are engagement; a "digest" event asks for an e-mail at the customer's best hour.
std::string best_hour_config() {
    return test_config(R"(
[rhythm]
engagement = ["view"]

[[program]]
name = "digest"
on_event = "digest"
channel = "email"
priority = "lifecycle"
template = "digest-1"
send_at = "best_hour"
)");
}

}  // namespace

TEST_CASE("daemon: a best-hour send waits for the customer's hour, survives kill -9, sent once") {
    const int64_t real_now = wall_clock_ms();
    // The daemon's clock stands 12 s before the next full hour, the hour the customer engages in.
    const int64_t hour_starts = (real_now / kHourMs + 1) * kHourMs;
    const ClockSkew skew(hour_starts - 12'000 - real_now);
    DaemonProcess daemon(best_hour_config());
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    for (int day = 1; day <= 4; ++day) {
        json view = event("v" + std::to_string(day), "rita", "view");
        view["ts"] = hour_starts - day * kDayMs + 60'000;
        CHECK(send_one(client, view)["accepted"] == 1);
    }
    CHECK(send_one(client, event("d1", "rita", "digest"))["accepted"] == 1);
    auto digest_decisions = [&] {
        json found = json::array();
        for (const json& d : get_json(daemon, "/customers/rita/decisions"))
            if (d["program"] == "digest") found.push_back(d);
        return found;
    };
    REQUIRE(poll_until([&] { return !digest_decisions().empty(); }));
    const json deferred = digest_decisions()[0];
    INFO(deferred.dump());
    CHECK(deferred["outcome"] == "defer");
    CHECK(deferred["reason"] == "best_hour");
    CHECK(deferred["until"] == hour_starts);
    daemon.kill_hard();
    daemon.restart();
    auto digests_sent = [&] {
        int sent = 0;
        std::ifstream file(daemon.directory() + "/deliveries.ndjson");
        for (std::string line; std::getline(file, line);)
            if (json::parse(line)["program"] == "digest") ++sent;
        return sent;
    };
    CHECK(poll_until([&] { return digests_sent() == 1; }, 20s));
    std::this_thread::sleep_for(1s);
    CHECK(digests_sent() == 1);
    const json decisions = digest_decisions();
    INFO(decisions.dump());
    REQUIRE(decisions[0]["outcome"] == "send");  // newest first
    CHECK(decisions[0]["at"].get<int64_t>() >= hour_starts);
}

TEST_CASE("daemon: a customer with too little history is sent at the population's hour") {
    // Six hours from the daemon's clock is the hour everyone engages in.
    const int64_t busy_hour = (wall_clock_ms() / kHourMs + 6) * kHourMs;
    DaemonProcess daemon(best_hour_config());
    {
        IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
        for (int c = 0; c < 20; ++c) {
            json view = event("v" + std::to_string(c), "c" + std::to_string(c), "view");
            view["ts"] = busy_hour - kDayMs + c * 60'000;
            CHECK(send_one(client, view)["accepted"] == 1);
        }
    }
    // Kept across a restart: stored at shutdown.
    daemon.stop();
    daemon.restart();
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    CHECK(send_one(client, event("d1", "ned", "digest"))["accepted"] == 1);
    json found;
    REQUIRE(poll_until([&] {
        found = get_json(daemon, "/customers/ned/decisions");
        return !found.empty();
    }));
    INFO(found.dump());
    CHECK(found[0]["reason"] == "best_hour");
    CHECK(found[0]["until"] == busy_hour);
    CHECK(get_json(daemon, "/customers/ned")["rhythm"]["best_hour"].is_null());
}

TEST_CASE("daemon: SIGHUP applies the configuration file again, logs the result, runs on") {
    const std::string config = test_config();
    DaemonProcess daemon(config);
    const std::string path = daemon.directory() + "/journeyd.toml";
    auto logged = [&](const std::string& text) {
        return poll_until([&] { return daemon.log().find(text) != std::string::npos; });
    };

    std::ofstream(path) << test_config(kThanksProgram);
    daemon.hang_up();
    const std::string version = config_version(test_config(kThanksProgram));
    CHECK(logged("configuration reload applied source=" + path + " version=" + version));
    CHECK(logged("programs_added=thanks"));
    CHECK(get_json(daemon, "/health")["version"] == version);
    CHECK(get_json(daemon, "/config")["source"] == path);

    std::ofstream(path) << config << "\n[journey\n";
    daemon.hang_up();
    CHECK(logged(path + ":"));
    CHECK(logged("configuration reload not applied source=" + path + " version="));
    CHECK(get_json(daemon, "/health")["status"] == "ok");
    CHECK(get_json(daemon, "/health")["version"] == version);
    CHECK(daemon.stop() == 0);
}

TEST_CASE("daemon: the text of every version it ran under is kept, across restarts") {
    const std::string first = test_config();
    DaemonProcess daemon(first);
    const std::string first_version = get_json(daemon, "/health")["version"];
    daemon.stop();
    const std::string second = test_config(kThanksProgram);
    std::ofstream(daemon.directory() + "/journeyd.toml") << second;
    daemon.restart();
    const std::string second_version = get_json(daemon, "/health")["version"];
    CHECK(second_version != first_version);
    CHECK(get_json(daemon, "/config/" + first_version)["text"] == first);
    CHECK(get_json(daemon, "/config/" + second_version)["text"] == second);
    get_json(daemon, "/config/0123456789ab", 404);
}
