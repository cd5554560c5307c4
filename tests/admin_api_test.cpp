// The admin API's HTTP semantics, without a socket or actors (MemoryAdminBackend).
#include "runtime/admin/admin_api.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "config/config_version.hpp"
#include "state/journey/flow_counters.hpp"
#include "state/journey/stay_sketch.hpp"
#include "tests/support/memory_admin_backend.hpp"

using namespace journeyd;
using nlohmann::json;

namespace {

constexpr TimeMs kNow = 1'700'000'000'000;

struct ApiFixture {
    // `extra`: TOML appended to the default configuration.
    explicit ApiFixture(
        std::string token = "t0k", const std::string& extra = "",
        std::function<ConfigCheck(const std::string&, const StageCounts&)> apply = nullptr) {
        const std::string text = std::string(default_config_text()) + extra;
        ConfigResult loaded = load_config_text(text, "t.toml");
        REQUIRE(loaded.config);
        auto engine = std::make_shared<const JourneyEngine>(loaded.config->journey);
        auto memory = std::make_unique<test::MemoryAdminBackend>(engine, kNow);
        backend = memory.get();
        AdminApiSetup setup;
        setup.node_name = "unit";
        setup.token = std::move(token);
        setup.metrics = metrics;
        setup.configs = starting_configs(
            RunningConfig{"t.toml", text, config_version(text), kNow - 60'000, *loaded.config},
            engine, nullptr);
        setup.now = [] { return kNow; };
        setup.apply_config = std::move(apply);
        api = std::make_unique<AdminApi>(std::move(setup), std::move(memory));
    }

    AdminResponse call(const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& token = "t0k") {
        AdminRequest request;
        request.method = method;
        request.target = target;
        request.authorization = token.empty() ? "" : "Bearer " + token;
        request.body = body;
        return api->handle(request);
    }

    std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
    test::MemoryAdminBackend* backend = nullptr;
    std::unique_ptr<AdminApi> api;
};

}  // namespace

TEST_CASE("admin api: the console and /health are open, everything else needs the token") {
    ApiFixture f;
    const AdminResponse page = f.call("GET", "/", "", "");
    CHECK(page.status == 200);
    CHECK(page.content_type == "text/html; charset=utf-8");
    CHECK(page.body.find("<html") != std::string::npos);
    CHECK(f.call("GET", "/health", "", "").status == 200);
    const AdminResponse refused = f.call("GET", "/stats", "", "");
    CHECK(refused.status == 401);
    CHECK(refused.headers ==
          std::vector<std::pair<std::string, std::string>>{{"WWW-Authenticate", "Bearer"}});
    CHECK(f.call("GET", "/stats", "", "wrong").status == 401);
    CHECK(f.call("GET", "/customers/x", "", "t0").status == 401);
    CHECK(f.call("GET", "/stats").status == 200);
}

TEST_CASE("admin api: /health, /stats and /metrics say when the store refuses commits") {
    ApiFixture f;
    auto health = nlohmann::json::parse(f.call("GET", "/health", "", "").body);
    CHECK(health["store"] == "ok");
    CHECK_FALSE(health.contains("store_error"));
    CHECK(nlohmann::json::parse(f.call("GET", "/stats").body)["store"]["writable"] == true);
    CHECK(f.call("GET", "/metrics").body.find("journeyd_store_full 0\n") != std::string::npos);

    f.backend->write_error = "store full: MDB_MAP_FULL";
    const AdminResponse answer = f.call("GET", "/health", "", "");
    CHECK(answer.status == 200);  // alive: reads are answered
    health = nlohmann::json::parse(answer.body);
    CHECK(health["status"] == "ok");
    CHECK(health["store"] == "full");
    CHECK(health["store_error"] == "store full: MDB_MAP_FULL");
    CHECK(nlohmann::json::parse(f.call("GET", "/stats").body)["store"]["writable"] == false);
    CHECK(f.call("GET", "/metrics").body.find("journeyd_store_full 1\n") != std::string::npos);
}

TEST_CASE("admin api: methods, unknown paths and a runtime that does not answer") {
    ApiFixture f;
    CHECK(f.call("POST", "/").status == 405);
    CHECK(f.call("DELETE", "/stats").status == 405);
    CHECK(f.call("GET", "/customers/x/events").status == 405);
    CHECK(f.call("GET", "/nowhere").status == 404);
    CHECK(f.call("GET", "/customers/x/elsewhere").status == 404);
    CHECK(f.call("GET", "/customers/x/decisions/more").status == 404);
    CHECK(f.call("GET", "/customers/never-seen").status == 404);
    f.backend->unavailable = true;
    const AdminResponse busy = f.call("GET", "/stats");
    CHECK(busy.status == 503);
    CHECK(json::parse(busy.body)["error"].get<std::string>().find("no answer") == 0);
}

TEST_CASE("admin api: an event posted for an encoded id moves that customer") {
    ApiFixture f;
    const AdminResponse posted =
        f.call("POST", "/customers/a%2Fb/events", R"({"id": "e1", "type": "search"})");
    CHECK(posted.status == 202);
    CHECK(json::parse(posted.body) == json{{"ok", true}, {"duplicate", false}});
    CHECK(json::parse(f.call("POST", "/customers/a%2Fb/events", R"({"id": "e1", "type": "search"})")
                          .body)["duplicate"] == true);
    const json customer = json::parse(f.call("GET", "/customers/a%2Fb?fields=all").body);
    CHECK(customer["id"] == "a/b");
    CHECK(customer["stage"] == "exploring");
    CHECK(customer["contacts"].size() == 1);
    const json decisions = json::parse(f.call("GET", "/customers/a%2Fb/decisions").body);
    REQUIRE(decisions.size() == 1);
    CHECK(decisions[0]["program"] == "welcome");
    CHECK(decisions[0]["reason"] == "ok");
    const json stored = json::parse(f.call("GET", "/customers/a%2Fb/record").body);
    CHECK(stored["stage"] == "exploring");
    CHECK_FALSE(stored.contains("contacts"));
    const json stats = json::parse(f.call("GET", "/stats").body);
    CHECK(stats["stages"]["exploring"] == 1);
    CHECK(stats["decisions"]["send"] == 1);
    CHECK(stats["coordinator_customers"] == 1);
    CHECK(f.call("GET", "/metrics").body.find("\njourneyd_coordinator_customers 1\n") !=
          std::string::npos);
}

TEST_CASE("admin api: invalid events are refused with the ingest port's message") {
    ApiFixture f;
    CHECK(f.call("POST", "/customers/x/events", "{not json").status == 400);
    CHECK(f.call("POST", "/customers/x/events", "[1, 2]").status == 400);
    const AdminResponse other =
        f.call("POST", "/customers/x/events", R"({"id": "e", "type": "t", "customer": "y"})");
    CHECK(other.status == 400);
    const AdminResponse empty_id =
        f.call("POST", "/customers/x/events", R"({"id": "", "type": "t"})");
    CHECK(empty_id.status == 400);
    CHECK(json::parse(empty_id.body)["error"] == "\"id\" must be 1..128 bytes");
}

// An event body nested `levels` deep: the event object, attrs, then arrays.
std::string nested_event(size_t levels) {
    return R"({"id": "deep", "type": "t", "attrs": {"a": )" + std::string(levels - 2, '[') +
           std::string(levels - 2, ']') + "}}";
}

// 200,000 levels overflowed the stack of the thread converting JSON to msgpack, and 10,000
// were refused with the msgpack decoder's message, which says nothing to a JSON client.
TEST_CASE("admin api: JSON nested deeper than the ingest port allows is refused before parsing") {
    ApiFixture f;
    for (const size_t levels : {33, 10'000, 200'000}) {
        INFO(levels << " levels");
        const AdminResponse deep = f.call("POST", "/customers/x/events", nested_event(levels));
        CHECK(deep.status == 400);
        CHECK(json::parse(deep.body)["error"] ==
              "the body is not valid JSON: nested deeper than 32 levels");
    }
    CHECK(f.call("POST", "/customers/x/events", nested_event(32)).status == 202);
    // Brackets inside strings, escaped quotes included, are not nesting.
    const std::string brackets(100, '[');
    const AdminResponse quoted =
        f.call("POST", "/customers/x/events",
               R"({"id": "q", "type": "t", "attrs": {"s": "\")" + brackets + R"("}})");
    CHECK(quoted.status == 202);
    const AdminResponse syntax = f.call("POST", "/customers/x/events", "{not json");
    CHECK(json::parse(syntax.body)["error"] ==
          "the body is not valid JSON: syntax error at byte 3");
}

// Found by fuzz_admin_api: a number too large for a double is not a parse_error but an
// out_of_range from nlohmann's parser; uncaught, it ended the process.
TEST_CASE("admin api: a JSON number out of range is a 400, not an exception") {
    ApiFixture f;
    const AdminResponse huge =
        f.call("POST", "/customers/x/events", R"({"id": "n", "type": "t", "attrs": {"a": 1e999}})");
    CHECK(huge.status == 400);
    CHECK(json::parse(huge.body)["error"].get<std::string>().find("not valid JSON") !=
          std::string::npos);
}

// Found by fuzz_admin_api (minimized): a path byte that is not UTF-8 made the 404 message
// unprintable as JSON, and dump() threw out of handle(). Profiles can hold such bytes too
// (msgpack bin and str values of attrs are kept as they came).
TEST_CASE("admin api: bytes that are not UTF-8 in a path or a profile still answer JSON") {
    ApiFixture f;
    const AdminResponse missing = f.call("GET", "customers/\x91");
    CHECK(missing.status == 404);
    CHECK(json::parse(missing.body)["error"] == "customer \"\xef\xbf\xbd\" not found");
    Event odd;
    odd.id = "e1";
    odd.customer = "odd";
    odd.type = "profile";
    odd.attrs = {{"nick", "\xff\xfe"}};
    f.backend->apply(odd);
    const AdminResponse shown = f.call("GET", "/customers/odd");
    CHECK(shown.status == 200);
    CHECK(json::parse(shown.body)["profile"]["nick"] == "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST_CASE("admin api: dead letters are listed newest first and sent again once each") {
    ApiFixture f;
    CHECK(json::parse(f.call("GET", "/deliveries/dead").body) == json::array());
    const Delivery welcome{"0a0a", "ann", "welcome", "email", "welcome-1", "lifecycle", kNow};
    const Delivery reminder{"0b0b", "bob", "reminder", "push", "reminder-1", "promotional", kNow};
    f.backend->park({welcome, 422, "{\"error\": \"unknown template\"}", kNow + 1});
    f.backend->park({reminder, 404, "\xff not UTF-8", kNow + 2});

    const json listed = json::parse(f.call("GET", "/deliveries/dead").body);
    REQUIRE(listed.size() == 2);
    CHECK(listed[0]["decision_id"] == "0b0b");
    CHECK(listed[0]["error"] == "\xef\xbf\xbd not UTF-8");
    CHECK(listed[1] == json{{"decision_id", "0a0a"},
                            {"customer", "ann"},
                            {"program", "welcome"},
                            {"channel", "email"},
                            {"status", 422},
                            {"error", "{\"error\": \"unknown template\"}"},
                            {"at", kNow + 1}});

    CHECK(f.call("POST", "/deliveries/dead/0a0a/retry").status == 202);
    CHECK(f.call("POST", "/deliveries/dead/0a0a/retry").status == 404);
    CHECK(f.call("GET", "/deliveries/dead/0a0a/retry").status == 405);
    CHECK(f.call("POST", "/deliveries/dead").status == 405);
    CHECK(f.call("GET", "/deliveries/dead/0b0b").status == 404);
    CHECK(json::parse(f.call("GET", "/deliveries/dead").body).size() == 1);
    CHECK(f.call("GET", "/deliveries/dead", "", "wrong").status == 401);
}

TEST_CASE("admin api: /segments and /actions sum the cluster's counters, naming members missing") {
    ApiFixture f("t0k", R"(
[[segment]]
name = "engaged"
when = [ { event = "view", min = 1, within = "7d" } ]

[[segment]]
name = "idle"
when = [ { not_segment = "engaged" } ]
)");
    // The default journey's own segments come first; these two after them.
    auto added = [](const AdminResponse& answer) {
        const json all = json::parse(answer.body);
        return json(std::vector<json>(all.end() - 2, all.end()));
    };
    // As summed by the backend: every member's segment counters, stages and actions beside.
    f.backend->counters.summed = {
        {kSegmentCount + "engaged", 7},
        {"new", 9},
        {action_counter_key("sell_first_item", ActionOutcome::sent), 10},
        {action_counter_key("sell_first_item", ActionOutcome::success), 3},
        {action_counter_key("sell_first_item", ActionOutcome::failure), 5},
        {action_counter_key("feature_your_listing", ActionOutcome::sent), 70},
        {action_counter_key("feature_your_listing", ActionOutcome::success), 56},
        {action_counter_key("feature_your_listing", ActionOutcome::failure), 14},
        {action_counter_key("feature_your_listing", ActionOutcome::sent, true), 81},
        {action_counter_key("feature_your_listing", ActionOutcome::success, true), 48},
        {action_counter_key("feature_your_listing", ActionOutcome::failure, true), 32}};
    AdminResponse answer = f.call("GET", "/segments");
    CHECK(answer.status == 200);
    CHECK(answer.headers.empty());
    CHECK(added(answer) == json::parse(R"([{"name": "engaged", "members": 7},
                                           {"name": "idle", "members": 0}])"));
    answer = f.call("GET", "/actions");
    CHECK(answer.status == 200);
    json sell = json::parse(answer.body).at(0);
    CHECK(sell["action"] == "sell_first_item");
    CHECK(sell["sent"] == 10);
    CHECK(sell["successes"] == 3);
    CHECK(sell["failures"] == 5);
    CHECK(sell["open"] == 2);
    CHECK(sell["propensity"]["mean"] == Approx(0.4));  // Beta(4, 6)
    CHECK(sell["propensity"]["ci95"][0] == Approx(0.1370).margin(0.001));
    CHECK(sell["propensity"]["ci95"][1] == Approx(0.7007).margin(0.001));
    CHECK(json::parse(answer.body).at(1)["sent"] == 0);
    CHECK_FALSE(sell.contains("control"));  // no holdout of its own
    // The default journey holds 10% out of feature_your_listing: its control group's windows
    // (the control_ counters) against its sends, as Newcombe's example (a), 56/70 vs 48/80.
    const json featured = json::parse(answer.body).at(3);
    CHECK(featured["action"] == "feature_your_listing");
    CHECK(featured["holdout"] == 0.1);
    CHECK(featured["control"] == json::parse(R"({"n": 80, "converted": 48, "open": 1})"));
    CHECK(featured["uplift"]["absolute"].get<double>() == Approx(0.2));
    CHECK(featured["uplift"]["ci95"][0].get<double>() == Approx(0.0524).margin(0.00005));
    CHECK(featured["uplift"]["ci95"][1].get<double>() == Approx(0.3339).margin(0.00005));
    CHECK(featured["propensity"]["mean"] == Approx(57.0 / 72.0));  // from its sends alone

    f.backend->counters.partial = {"node-b", "node-c"};
    const std::vector<std::pair<std::string, std::string>> partial_header = {
        {"X-Journeyd-Partial", "node-b,node-c"}};
    answer = f.call("GET", "/segments");
    CHECK(answer.status == 200);
    CHECK(answer.headers == partial_header);
    CHECK(added(answer) ==
          json::parse(R"([{"name": "engaged", "members": 7, "partial": ["node-b", "node-c"]},
                          {"name": "idle", "members": 0, "partial": ["node-b", "node-c"]}])"));
    answer = f.call("GET", "/actions");
    CHECK(answer.headers == partial_header);
    CHECK(json::parse(answer.body).at(0)["partial"] == json::array({"node-b", "node-c"}));
    CHECK(f.call("POST", "/actions").status == 405);
}

TEST_CASE("admin api: /journey and /journey/drivers read the cluster's flow counters") {
    ApiFixture f;
    const std::string nul(1, '\0');
    const std::string pair = kDriverCount + "exploring>active@604800000" + nul;
    constexpr TimeMs kDay = kDayMs;
    f.backend->counters.summed = {{"exploring", 2},
                                  {"active", 1},
                                  {kFlowCount + nul + "new", 3},  // three created
                                  {kFlowCount + "new" + nul + "exploring", 3},
                                  {kFlowCount + "exploring" + nul + "active", 1},
                                  {kFlowDayCount + "100" + nul + "new" + nul + "exploring", 2},
                                  {kFlowDayCount + "101" + nul + "exploring" + nul + "active", 1},
                                  {kStayCount + "exploring" + nul + "70", 1},
                                  {pair + "N", 40},
                                  {pair + "A", 10},
                                  {pair + "nfavorite", 20},
                                  {pair + "afavorite", 8},
                                  {pair + "nsearch", 10},
                                  {pair + "asearch", 2}};
    AdminResponse answer = f.call("GET", "/journey");
    REQUIRE(answer.status == 200);
    json flow = json::parse(answer.body);
    CHECK(flow["since"].is_null());
    CHECK(flow["stages"][0] == json::parse(R"({"name": "new", "customers": 0, "entered": 3,
        "left": 3, "median_time_in_stage_ms": null})"));
    CHECK(flow["stages"][1]["customers"] == 2);
    CHECK(flow["stages"][1]["entered"] == 3);
    CHECK(flow["stages"][1]["left"] == 1);
    CHECK(flow["stages"][1]["median_time_in_stage_ms"] == std::llround(stay_bucket_value(70)));
    CHECK(flow["transitions"] == json::parse(R"([{"from": "new", "to": "exploring", "count": 3},
        {"from": "exploring", "to": "active", "count": 1}])"));
    CHECK(flow["drivers"][1] == json::parse(R"({"from": "exploring", "to": "active",
        "window": "7d"})"));

    // Since an instant of day 101: its midnight, and only that day's moves.
    answer = f.call("GET", "/journey?since=" + std::to_string(101 * kDay + 5));
    flow = json::parse(answer.body);
    CHECK(flow["since"] == 101 * kDay);
    CHECK(flow["transitions"] == json::parse(R"([{"from": "exploring", "to": "active",
        "count": 1}])"));
    CHECK(f.call("GET", "/journey?since=yesterday").status == 400);

    answer = f.call("GET", "/journey/drivers?from=exploring&to=active&window=7d");
    REQUIRE(answer.status == 200);
    json drivers = json::parse(answer.body);
    REQUIRE(drivers.size() == 2);
    CHECK(drivers[0]["event"] == "favorite");
    CHECK(drivers[0]["exposed"] == json::parse(R"({"episodes": 20, "advanced": 8})"));
    CHECK(drivers[0]["unexposed"] == json::parse(R"({"episodes": 20, "advanced": 2})"));
    // (8·18) / (12·2) = 6, Woolf: exp(ln 6 ∓ 1.96·sqrt(1/8 + 1/12 + 1/2 + 1/18)).
    CHECK(drivers[0]["odds_ratio"] == Approx(6.0));
    CHECK(drivers[0]["ci95"][0] == Approx(1.0819).margin(0.001));
    CHECK(drivers[0]["ci95"][1] == Approx(33.274).margin(0.01));
    CHECK(drivers[1]["event"] == "search");
    // The window may be left out when one pair has this from and to.
    CHECK(json::parse(f.call("GET", "/journey/drivers?from=exploring&to=active").body) == drivers);

    CHECK(f.call("GET", "/journey/drivers").status == 400);
    CHECK(f.call("GET", "/journey/drivers?from=exploring").status == 400);
    CHECK(f.call("GET", "/journey/drivers?from=exploring&to=active&window=soon").status == 400);
    CHECK(f.call("GET", "/journey/drivers?from=exploring&to=active&window=8d").status == 404);
    CHECK(f.call("GET", "/journey/drivers?from=limbo&to=active").status == 404);
    CHECK(f.call("GET", "/journey/drivers?from=loyal&to=new").status == 404);
    CHECK(f.call("POST", "/journey").status == 405);

    f.backend->counters.partial = {"node-b"};
    answer = f.call("GET", "/journey");
    CHECK(json::parse(answer.body)["partial"] == json::array({"node-b"}));
    CHECK(answer.headers ==
          std::vector<std::pair<std::string, std::string>>{{"X-Journeyd-Partial", "node-b"}});
    answer = f.call("GET", "/journey/drivers?from=exploring&to=active");
    CHECK(json::parse(answer.body)[0]["partial"] == json::array({"node-b"}));
}

TEST_CASE("admin api: /health and GET /config name the configuration in force") {
    ApiFixture f;
    const std::string text(default_config_text());
    CHECK(json::parse(f.call("GET", "/health", "", "").body)["version"] == config_version(text));
    CHECK(f.call("GET", "/config", "", "").status == 401);
    const AdminResponse shown = f.call("GET", "/config");
    CHECK(shown.status == 200);
    CHECK(json::parse(shown.body) == json{{"version", config_version(text)},
                                          {"loaded_at", kNow - 60'000},
                                          {"source", "t.toml"},
                                          {"text", text}});
    CHECK(f.call("PUT", "/config").status == 405);
}

TEST_CASE("admin api: GET /config/{version} answers the running version, 404 for one not kept") {
    ApiFixture f;
    const std::string text(default_config_text());
    const std::string version = config_version(text);
    CHECK(f.call("GET", "/config/" + version, "", "").status == 401);
    const AdminResponse shown = f.call("GET", "/config/" + version);
    CHECK(shown.status == 200);
    CHECK(json::parse(shown.body) == json{{"version", version}, {"text", text}});
    // Without an archive (and for a name that is no version) nothing else is found.
    for (const std::string& other : {std::string("0123456789ab"), std::string("..%2Fsecret")}) {
        const AdminResponse missing = f.call("GET", "/config/" + other);
        CHECK(missing.status == 404);
        CHECK(json::parse(missing.body)["error"].get<std::string>().find("is kept here") !=
              std::string::npos);
    }
    CHECK(f.call("POST", "/config/" + version, text).status == 405);
}

TEST_CASE("admin api: POST /config?dry_run=true checks a text against the stored stage counts") {
    ApiFixture f;
    f.backend->counters.summed = {{"dormant", 7}, {"loyal", 0}};
    // "loyal" removed, and "dormant" no longer left by ad_placed; the default names "loyal"
    // in a transition, a timer, a driver and a program, which go too.
    std::string text(default_config_text());
    auto cut = [&](const std::string& from, const std::string& to) {
        const size_t at = text.find(from);
        REQUIRE(at != std::string::npos);
        text.replace(at, from.size(), to);
    };
    cut(R"(stages        = ["new", "exploring", "active", "loyal", "dormant"])",
        R"(stages        = ["new", "exploring", "active", "dormant"])");
    cut("[[journey.transition]]\nfrom = [\"dormant\"]\non   = [\"ad_placed\"]\nto   = \"active\"\n",
        "");
    cut("to     = \"loyal\"", "to     = \"active\"");
    cut(R"(in    = ["exploring", "active", "loyal"])", R"(in    = ["exploring", "active"])");
    cut("from   = \"active\"\nto     = \"loyal\"", "from   = \"active\"\nto     = \"dormant\"");
    cut("on_enter = \"loyal\"", "on_enter = \"active\"");
    cut("template = \"welcome-1\"", "template = \"welcome-2\"");

    const AdminResponse checked = f.call("POST", "/config?dry_run=true", text);
    INFO(checked.body);
    CHECK(checked.status == 200);
    const json body = json::parse(checked.body);
    CHECK(body["applied"] == false);
    CHECK(body["version"] == config_version(text));
    CHECK(body["errors"] == json::array());
    CHECK(body["changes"]["stages_removed"] == json{"loyal"});
    CHECK(body["changes"]["programs_changed"] == json{"loyalty_thanks", "welcome"});
    CHECK(body["changes"]["segments_changed"] == json::array());
    CHECK(body["customers_affected"] == json{{"active", 0}, {"dormant", 7}, {"loyal", 0}});
    // The answer's keys in the documented order.
    CHECK(checked.body.find(R"({"applied":false,"version":)") == 0);

    // A node setting, and a removed stage that holds customers: errors, still a 200.
    f.backend->counters.summed = {{"loyal", 3}};
    const AdminResponse refused =
        f.call("POST", "/config?dry_run=true",
               "[node]\nname = \"other\"\n" + text.substr(text.find("\n[admin]")));
    INFO(refused.body);
    CHECK(refused.status == 200);
    std::vector<std::string> messages;
    const json refusals = json::parse(refused.body)["errors"];
    for (const json& e : refusals) messages.push_back(e["message"]);
    REQUIRE(messages.size() == 2);  // the other [node] keys are written as their defaults
    CHECK(messages[0] == "node.name cannot change without a restart");
    CHECK(messages[1].find("stage \"loyal\" is removed but holds 3 customer(s)") == 0);

    // Loader errors with their lines.
    cut("initial_stage = \"new\"", "initial_stage = \"nwe\"");
    const int line = 1 + static_cast<int>(std::count(
                             text.begin(), text.begin() + text.find("initial_stage"), '\n'));
    const json broken = json::parse(f.call("POST", "/config?dry_run=true", text).body);
    REQUIRE(broken["errors"].size() == 1);
    CHECK(broken["errors"][0]["line"] == line);
    CHECK(broken["errors"][0]["message"].get<std::string>().find("\"nwe\"") != std::string::npos);
}

TEST_CASE(
    "admin api: POST /config where no change can be applied (a cluster): 501, nothing applied") {
    ApiFixture f;
    const std::string text(default_config_text());
    const AdminResponse answer = f.call("POST", "/config", text);
    CHECK(answer.status == 501);
    const json body = json::parse(answer.body);
    CHECK(body["applied"] == false);
    REQUIRE(body["errors"].size() == 1);
    CHECK(body["errors"][0]["line"] == 0);
    CHECK(body["errors"][0]["message"] ==
          "this process cannot apply a change without a restart; the check passed: restart it "
          "with this file");
    CHECK(body["error"] == body["errors"][0]["message"]);
    // Still the configuration in force.
    CHECK(json::parse(f.call("GET", "/config").body)["version"] == config_version(text));
    CHECK(json::parse(f.call("POST", "/config?dry_run=false", "[journey\n").body)["error"] ==
          "this process cannot apply a change without a restart; the check found 1 error(s)");
}

TEST_CASE("admin api: POST /config hands the text to be applied: 200 applied, 422 refused") {
    std::vector<std::string> posted;
    ApiFixture f("t0k", "", [&](const std::string& text, const StageCounts&) {
        ConfigCheck check;
        check.version = config_version(text);
        if (text.find("broken") != std::string::npos)
            check.errors.push_back({"<posted>", 3, 1, "broken"});
        check.applied = check.ok();
        posted.push_back(text);
        return check;
    });
    const AdminResponse applied = f.call("POST", "/config", "good");
    CHECK(applied.status == 200);
    CHECK(json::parse(applied.body)["applied"] == true);
    CHECK(json::parse(applied.body)["version"] == config_version("good"));
    const AdminResponse refused = f.call("POST", "/config?dry_run=false", "broken");
    CHECK(refused.status == 422);
    const json body = json::parse(refused.body);
    CHECK(body["applied"] == false);
    CHECK(body["errors"][0]["line"] == 3);
    // A dry run is only checked, never handed on.
    CHECK(f.call("POST", "/config?dry_run=true", "good").status == 200);
    CHECK(posted == std::vector<std::string>{"good", "broken"});
}

TEST_CASE("admin api: POST /config refuses what it cannot read, and needs the token") {
    ApiFixture f;
    CHECK(f.call("POST", "/config?dry_run=true", "").status == 400);
    CHECK(json::parse(f.call("POST", "/config?dry_run=yes", "x = 1").body)["error"] ==
          "dry_run must be true or false");
    CHECK(f.call("POST", "/config?dry_run=true", "x = 1", "").status == 401);
    f.backend->unavailable = true;  // the stage counts cannot be read
    CHECK(f.call("POST", "/config?dry_run=true", std::string(default_config_text())).status == 503);
}
