#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>

#include "config/config.hpp"

using namespace journeyd;
using Catch::Matchers::Contains;

namespace {

ConfigResult load(std::string_view text) {
    return load_config_text(text, "test.toml");
}

std::string describe(const std::vector<ConfigError>& errors) {
    std::string text;
    for (const ConfigError& error : errors) text += error.to_string() + "\n";
    return text.empty() ? "(no errors)" : text;
}

// Six lines of valid configuration, ending inside [pressure]: the snippets appended to it in
// the tests below start on line 7.
constexpr std::string_view kBase = R"([journey]
stages        = ["new", "active"]
initial_stage = "new"
[pressure]
hierarchy = ["service", "lifecycle"]
exempt    = ["service"]
)";

ConfigResult load_with_base(std::string_view snippet) {
    return load(std::string(kBase) + std::string(snippet));
}

ConfigError single_error(const ConfigResult& result) {
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 1);
    CHECK_FALSE(result.config.has_value());
    return result.errors.front();
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("journeyd_config_test_" + name)).string();
}

void require_valid(const ConfigResult& result) {
    INFO(describe(result.errors));
    REQUIRE(result.errors.empty());
    REQUIRE(result.config.has_value());
}

}  // namespace

// --- valid files ---------------------------------------------------------------------------

TEST_CASE("the embedded default journey loads without errors", "[config][default]") {
    const ConfigResult result = load_default_config();
    require_valid(result);
    const Config& config = *result.config;
    const JourneyModel& journey = config.journey;

    CHECK(config.node.name == "node-a");
    CHECK(config.node.ingest == "127.0.0.1:7400");
    CHECK(config.node.admin == "127.0.0.1:7401");
    CHECK(config.admin.token.empty());
    CHECK(config.delivery.sink == "file:deliveries.ndjson");

    CHECK(journey.stages ==
          std::vector<std::string>{"new", "exploring", "active", "loyal", "dormant"});
    const StageId new_ = 0, exploring = 1, active = 2, loyal = 3, dormant = 4;
    CHECK(journey.initial_stage == new_);

    REQUIRE(journey.transitions.size() == 5);
    const std::vector<TransitionRule>& rules = journey.transitions;
    CHECK(rules[0].from == std::vector<StageId>{new_});
    CHECK(rules[0].on == std::vector<std::string>{"search", "view", "favorite"});
    CHECK(rules[0].to == exploring);
    CHECK_FALSE(rules[0].counts());
    CHECK(rules[1].from == std::vector<StageId>{dormant});
    CHECK(rules[1].on == std::vector<std::string>{"search", "view"});
    CHECK(rules[1].to == exploring);
    CHECK(rules[2].from == std::vector<StageId>{new_, exploring});
    CHECK(rules[2].on == std::vector<std::string>{"ad_placed", "message_sent"});
    CHECK(rules[2].to == active);
    CHECK(rules[3].from == std::vector<StageId>{dormant});
    CHECK(rules[3].on == std::vector<std::string>{"ad_placed"});
    CHECK(rules[3].to == active);
    CHECK(rules[4].from == std::vector<StageId>{active});
    CHECK(rules[4].on == std::vector<std::string>{"ad_placed", "sale"});
    CHECK(rules[4].count == 3);
    CHECK(rules[4].within == 30 * 86'400'000LL);
    CHECK(rules[4].to == loyal);
    CHECK(rules[4].counts());
    for (size_t i = 1; i < rules.size(); ++i) CHECK(rules[i].line > rules[i - 1].line);

    REQUIRE(journey.timers.size() == 1);
    CHECK(journey.timers[0].name == "lapse");
    CHECK(journey.timers[0].in == std::vector<StageId>{exploring, active, loyal});
    CHECK(journey.timers[0].after == 30 * 86'400'000LL);
    CHECK(journey.timers[0].to == dormant);

    REQUIRE(journey.drivers.size() == 3);
    CHECK((journey.drivers[1].from == exploring && journey.drivers[1].to == active &&
           journey.drivers[1].window == 7 * 86'400'000LL));

    const PressurePolicy& pressure = config.pressure;
    CHECK(pressure.hierarchy ==
          std::vector<std::string>{"service", "transactional", "lifecycle", "promotional"});
    CHECK(pressure.exempt == std::vector<bool>{true, false, false, false});
    CHECK(pressure.arbitration_window == 2'000);
    REQUIRE(pressure.quiet_hours.has_value());
    CHECK(pressure.quiet_hours->start_minute == 1320);
    CHECK(pressure.quiet_hours->end_minute == 480);

    REQUIRE(journey.programs.size() == 9);
    struct Expected {
        const char* name;
        std::optional<StageId> on_enter;
        const char* on_event;
        DurationMs delay;
        const char* channel;
        PriorityClass priority;
        const char* template_name;
    };
    const PriorityClass service = 0, transactional = 1, lifecycle = 2, promotional = 3;
    const Expected expected[] = {
        {"welcome", new_, "", 0, "email", lifecycle, "welcome-1"},
        {"first_listing_nudge", exploring, "", 86'400'000, "push", promotional, "first-listing-1"},
        {"seller_tips", active, "", 0, "email", lifecycle, "seller-tips-1"},
        {"loyalty_thanks", loyal, "", 0, "in_app", lifecycle, "loyalty-thanks-1"},
        {"winback", dormant, "", 0, "email", promotional, "winback-1"},
        {"password_reset", std::nullopt, "password_reset", 0, "email", service, "password-reset-1"},
        {"message_received", std::nullopt, "message_received", 0, "push", transactional,
         "message-received-1"},
        {"next_best_action", std::nullopt, "app_open", 0, "", 0, ""},
        {"browsing_tips", std::nullopt, "", 0, "in_app", promotional, "browsing-tips-1"},
    };
    for (size_t i = 0; i < journey.programs.size(); ++i) {
        const Program& program = journey.programs[i];
        INFO("program " << program.name);
        CHECK(program.name == expected[i].name);
        CHECK(program.on_enter == expected[i].on_enter);
        CHECK(program.on_event == expected[i].on_event);
        CHECK(program.delay == expected[i].delay);
        CHECK(program.channel == expected[i].channel);
        CHECK(program.priority == expected[i].priority);
        CHECK(program.template_name == expected[i].template_name);
    }
    CHECK(journey.programs[7].best_action);
    CHECK(journey.programs[7].candidates.size() == journey.actions.size());
    CHECK(journey.programs[8].on_segment_enter ==
          journey.conditions.segment_id("engaged_browsers"));
    CHECK(journey.conditions.segments.size() == 3);
    REQUIRE(journey.actions.size() == 5);
    CHECK(journey.actions[0].name == "sell_first_item");
    CHECK(journey.actions[0].goal.event == "ad_placed");
    CHECK(journey.actions[0].goal.within == 3 * 86'400'000);
    CHECK(journey.actions[0].cooldown == 7 * 86'400'000);
    CHECK(journey.actions[0].value == 5);
    CHECK(journey.actions[3].weight == 0.5);
    CHECK(journey.explore == Explore::thompson);

    REQUIRE(pressure.caps.size() == 3);
    CHECK(pressure.caps[0].channel == "email");
    CHECK(pressure.caps[0].max == 2);
    CHECK(pressure.caps[0].per == 7 * 86'400'000LL);
    CHECK(pressure.caps[1].channel == "push");
    CHECK(pressure.caps[1].max == 1);
    CHECK(pressure.caps[1].per == 86'400'000);
    CHECK(pressure.caps[2].channel == "*");
    CHECK(pressure.caps[2].max == 4);
    CHECK(pressure.caps[2].per == 7 * 86'400'000LL);

    CHECK(pressure.rate == std::map<std::string, double>{
                               {"email", 1000}, {"push", 500}, {"sms", 100}, {"in_app", 5000}});
}

TEST_CASE("the example configuration loads and resolves", "[config]") {
    const ConfigResult result = load(R"([node]
name     = "node-b"
data_dir = "/var/lib/journeyd"
ingest   = "0.0.0.0:0"
admin    = "[::1]:7401"

[admin]
token = "s3cret"

[delivery]
sink = "http://127.0.0.1:9000/send"

[journey]
stages        = ["new", "exploring", "active", "loyal", "dormant"]
initial_stage = "exploring"

[[journey.transition]]
from = ["new", "dormant"]
on   = "search"
to   = "exploring"

[[journey.transition]]
from   = ["active"]
on     = "ad_placed"
count  = 3
within = "30d"
to     = "loyal"

[[journey.transition]]
on    = ["sale"]
count = 1
to    = "active"

[[journey.timer]]
name  = "lapse"
in    = ["exploring", "active", "loyal"]
after = "30d"
to    = "dormant"

[[program]]
name     = "welcome"
on_enter = "new"
delay    = "250ms"
channel  = "email"
priority = "lifecycle"
template = "welcome-1"

[[program]]
name     = "receipt"
on_event = "sale"
channel  = "sms"
priority = "transactional"
template = "receipt-1"

[pressure]
hierarchy          = ["service", "transactional", "lifecycle", "promotional"]
exempt             = ["service", "transactional"]
arbitration_window = "2s"
quiet_hours = { start = "08:30", end = "17:45" }

[[pressure.cap]]
channel = "email"
max     = 2
per     = "7d"

[pressure.rate]
email = 1000
push  = 2.5
)");
    require_valid(result);
    const Config& config = *result.config;
    CHECK(config.node.name == "node-b");
    CHECK(config.node.data_dir == "/var/lib/journeyd");
    CHECK(config.node.ingest == "0.0.0.0:0");
    CHECK(config.node.admin == "[::1]:7401");
    CHECK(config.admin.token == "s3cret");
    CHECK(config.delivery.sink == "http://127.0.0.1:9000/send");

    const JourneyModel& journey = config.journey;
    CHECK(journey.initial_stage == 1);
    REQUIRE(journey.transitions.size() == 3);
    CHECK(journey.transitions[0].from == std::vector<StageId>{0, 4});
    CHECK(journey.transitions[0].on == std::vector<std::string>{"search"});
    CHECK(journey.transitions[0].line == 17);
    CHECK(journey.transitions[1].line == 22);
    CHECK(journey.transitions[1].count == 3);
    CHECK(journey.transitions[1].within == 30 * 86'400'000LL);
    CHECK(journey.transitions[2].from.empty());
    CHECK(journey.transitions[2].count == 1);
    CHECK(journey.transitions[2].within == 0);
    CHECK(journey.transitions[2].line == 29);

    REQUIRE(journey.programs.size() == 2);
    CHECK(journey.programs[0].on_enter == StageId{0});
    CHECK(journey.programs[0].delay == 250);
    CHECK(journey.programs[0].priority == 2);
    CHECK_FALSE(journey.programs[1].on_enter.has_value());
    CHECK(journey.programs[1].on_event == "sale");
    CHECK(journey.programs[1].priority == 1);

    const PressurePolicy& pressure = config.pressure;
    CHECK(pressure.exempt == std::vector<bool>{true, true, false, false});
    REQUIRE(pressure.quiet_hours.has_value());
    CHECK(pressure.quiet_hours->start_minute == 8 * 60 + 30);
    CHECK(pressure.quiet_hours->end_minute == 17 * 60 + 45);
    CHECK(pressure.rate == std::map<std::string, double>{{"email", 1000}, {"push", 2.5}});
}

TEST_CASE("omitted sections take the defaults of config.hpp", "[config]") {
    const ConfigResult result = load(R"([journey]
stages        = ["only"]
initial_stage = "only"
)");
    require_valid(result);
    const Config& config = *result.config;
    const NodeSettings node_defaults;
    CHECK(config.node.name == node_defaults.name);
    CHECK(config.node.data_dir == node_defaults.data_dir);
    CHECK(config.node.ingest == node_defaults.ingest);
    CHECK(config.node.admin == node_defaults.admin);
    CHECK(config.admin.token.empty());
    CHECK(config.delivery.sink == DeliverySettings{}.sink);
    CHECK(config.journey.transitions.empty());
    CHECK(config.journey.timers.empty());
    CHECK(config.journey.programs.empty());
    CHECK(config.pressure.hierarchy.empty());
    CHECK(config.pressure.exempt.empty());
    CHECK(config.pressure.arbitration_window == 0);
    CHECK_FALSE(config.pressure.quiet_hours.has_value());
    CHECK(config.pressure.caps.empty());
    CHECK(config.pressure.rate.empty());
}

TEST_CASE("the base of the error tests is itself valid", "[config]") {
    require_valid(load_with_base(""));
}

// --- one test per class of error ---------------------------------------------------------

TEST_CASE("a TOML syntax error is reported with its position", "[config][errors]") {
    const ConfigError error =
        single_error(load("[journey]\nstages = [\"new\"]\ninitial_stage = \n"));
    CHECK(error.source == "test.toml");
    CHECK(error.line == 3);
    CHECK_FALSE(error.message.empty());
}

TEST_CASE("unknown keys are reported with their table", "[config][errors]") {
    SECTION("a typo in [journey]") {
        const ConfigResult result = load(R"([journey]
stagse        = ["new"]
initial_stage = "new"
)");
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 1);
        CHECK_THAT(result.errors[0].message, Contains(R"(missing required key "stages")"));
        CHECK(result.errors[1].line == 2);
        CHECK(result.errors[1].column == 1);
        CHECK_THAT(result.errors[1].message, Contains(R"(unknown key "stagse" in [journey])"));
    }
    SECTION("a typo in [[program]]") {
        const ConfigError error = single_error(load_with_base(R"([[program]]
name      = "p"
on_event  = "e"
channel   = "email"
priority  = "service"
prioritty = "lifecycle"
template  = "t"
)"));
        CHECK(error.line == 12);
        CHECK_THAT(error.message, Contains(R"(unknown key "prioritty" in [[program]])"));
        CHECK_THAT(error.message, Contains("priority"));
    }
    SECTION("an unknown top-level table") {
        const ConfigError error = single_error(load_with_base("[nodes]\nname = \"x\"\n"));
        CHECK(error.line == 7);
        CHECK_THAT(error.message, Contains(R"(unknown key "nodes")"));
    }
    SECTION("in [node], [admin], [delivery], transitions, timers, caps and quiet hours") {
        const ConfigResult result =
            load_with_base(R"(quiet_hours = { start = "22:00", end = "08:00", tz = "UTC" }
[[journey.transition]]
on = "x"
to = "new"
form = ["new"]
[[journey.timer]]
name = "t"
in = ["new"]
after = "1d"
to = "active"
when = "1d"
[[pressure.cap]]
channel = "*"
max = 1
per = "1d"
maximum = 2
[node]
nmae = "a"
[admin]
tokn = "b"
[delivery]
snk = "c"
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 7);
        const std::pair<int, const char*> expected[] = {
            {7, R"(unknown key "tz" in [pressure].quiet_hours)"},
            {11, R"(unknown key "form" in [[journey.transition]])"},
            {17, R"(unknown key "when" in [[journey.timer]])"},
            {22, R"(unknown key "maximum" in [[pressure.cap]])"},
            {24, R"(unknown key "nmae" in [node])"},
            {26, R"(unknown key "tokn" in [admin])"},
            {28, R"(unknown key "snk" in [delivery])"},
        };
        for (size_t i = 0; i < result.errors.size(); ++i) {
            CHECK(result.errors[i].line == expected[i].first);
            CHECK_THAT(result.errors[i].message, Contains(expected[i].second));
        }
    }
}

TEST_CASE("values of the wrong type are reported", "[config][errors]") {
    SECTION("count as a string") {
        const ConfigError error = single_error(load_with_base(R"([[journey.transition]]
on     = "x"
count  = "3"
within = "1d"
to     = "active"
)"));
        CHECK(error.line == 9);
        CHECK(error.column == 10);
        CHECK_THAT(
            error.message,
            Contains(R"("count" in [[journey.transition]] must be an integer, not a string)"));
    }
    SECTION("stages as a string") {
        const ConfigError error = single_error(load(R"([journey]
stages        = "new"
initial_stage = "new"
)"));
        CHECK(error.line == 2);
        CHECK_THAT(error.message, Contains("must be an array, not a string"));
    }
    SECTION("an element of a list") {
        const ConfigError error = single_error(load(R"([journey]
stages        = ["new", 2]
initial_stage = "new"
)"));
        CHECK(error.line == 2);
        CHECK(error.column == 25);
        CHECK_THAT(error.message,
                   Contains(R"(each element of "stages" in [journey] must be a string)"));
    }
    SECTION("max as a float, on as a number") {
        const ConfigResult result = load_with_base(R"([[pressure.cap]]
channel = "push"
max     = 2.5
per     = "1d"
[[journey.transition]]
on = 5
to = "new"
)");
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 9);
        CHECK_THAT(result.errors[0].message, Contains("must be an integer, not a floating-point"));
        CHECK(result.errors[1].line == 12);
        CHECK_THAT(result.errors[1].message, Contains("must be a string or an array of strings"));
    }
    SECTION("[program] written as a single table") {
        const ConfigError error = single_error(load_with_base("[program]\nname = \"p\"\n"));
        CHECK(error.line == 7);
        CHECK_THAT(error.message, Contains("[[program]]"));
    }
    SECTION("a section written as a value") {
        const ConfigError error = single_error(load(R"(node = "node-a"
[journey]
stages        = ["new"]
initial_stage = "new"
)"));
        CHECK(error.line == 1);
        CHECK(error.column == 8);
        CHECK_THAT(error.message, Contains("[node] must be a table, not a string"));
    }
}

TEST_CASE("missing required keys are reported at their table", "[config][errors]") {
    SECTION("initial_stage") {
        const ConfigError error = single_error(load("[journey]\nstages = [\"new\"]\n"));
        CHECK(error.line == 1);
        CHECK_THAT(error.message, Contains(R"(missing required key "initial_stage" in [journey])"));
    }
    SECTION("the [journey] table itself") {
        const ConfigError error = single_error(load("[node]\nname = \"a\"\n"));
        CHECK(error.line == 0);
        CHECK_THAT(error.message, Contains("missing required table [journey]"));
    }
    SECTION("template and priority of a program, to of a transition") {
        const ConfigResult result = load_with_base(R"([[program]]
name     = "p"
on_event = "e"
channel  = "email"

[[journey.transition]]
on = "x"
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 3);
        CHECK(result.errors[0].line == 7);
        CHECK(result.errors[1].line == 7);
        CHECK(result.errors[2].line == 12);
        CHECK_THAT(result.errors[0].message + result.errors[1].message,
                   Contains(R"(missing required key "template" in [[program]])"));
        CHECK_THAT(result.errors[0].message + result.errors[1].message,
                   Contains(R"(missing required key "priority" in [[program]])"));
        CHECK_THAT(result.errors[2].message,
                   Contains(R"(missing required key "to" in [[journey.transition]])"));
    }
}

TEST_CASE("unknown stages are reported wherever they are referenced", "[config][errors]") {
    const ConfigResult result = load(R"([journey]
stages        = ["new", "active"]
initial_stage = "nwe"
[[journey.transition]]
from = ["new", "actve"]
on   = "x"
to   = "gone"
[[journey.timer]]
name  = "t"
in    = ["idle"]
after = "1d"
to    = "archived"
[[program]]
name     = "p"
on_enter = "welcome"
channel  = "email"
priority = "service"
template = "t"
[pressure]
hierarchy = ["service"]
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 6);
    const std::pair<int, const char*> expected[] = {
        {3, "nwe"}, {5, "actve"}, {7, "gone"}, {10, "idle"}, {12, "archived"}, {15, "welcome"},
    };
    for (size_t i = 0; i < result.errors.size(); ++i) {
        CHECK(result.errors[i].line == expected[i].first);
        CHECK_THAT(result.errors[i].message,
                   Contains("unknown stage \"" + std::string(expected[i].second) +
                            "\" (stages: new, active)"));
    }
    CHECK(result.errors[1].column == 16);
}

TEST_CASE("a priority must be a class of the hierarchy", "[config][errors]") {
    SECTION("a class that is not listed") {
        const ConfigError error = single_error(load_with_base(R"([[program]]
name     = "p"
on_event = "e"
channel  = "email"
priority = "urgent"
template = "t"
)"));
        CHECK(error.line == 11);
        CHECK_THAT(error.message, Contains(R"(priority "urgent" is not in [pressure].hierarchy)"));
        CHECK_THAT(error.message, Contains("service, lifecycle"));
    }
    SECTION("without [pressure] there is no hierarchy, so any priority is an error") {
        const ConfigError error = single_error(load(R"([journey]
stages        = ["new"]
initial_stage = "new"
[[program]]
name     = "p"
on_event = "e"
channel  = "email"
priority = "lifecycle"
template = "t"
)"));
        CHECK(error.line == 8);
        CHECK_THAT(error.message,
                   Contains(R"(priority "lifecycle" is not in [pressure].hierarchy)"));
    }
}

TEST_CASE("an exempt class must be in the hierarchy", "[config][errors]") {
    const ConfigError error = single_error(load(R"([journey]
stages        = ["new"]
initial_stage = "new"
[pressure]
hierarchy = ["service", "lifecycle"]
exempt    = ["servce"]
)"));
    CHECK(error.line == 6);
    CHECK(error.column == 14);
    CHECK_THAT(error.message, Contains(R"(exempt class "servce" is not in [pressure].hierarchy)"));
}

TEST_CASE("a program needs exactly one of on_enter and on_event", "[config][errors]") {
    SECTION("both") {
        const ConfigError error = single_error(load_with_base(R"([[program]]
name     = "p"
on_enter = "new"
on_event = "e"
channel  = "email"
priority = "service"
template = "t"
)"));
        CHECK(error.line == 10);
        CHECK_THAT(
            error.message,
            Contains("exactly one of on_enter / on_event / on_segment_enter / on_segment_exit, "
                     "found more"));
    }
    SECTION("neither") {
        const ConfigError error = single_error(load_with_base(R"([[program]]
name     = "p"
channel  = "email"
priority = "service"
template = "t"
)"));
        CHECK(error.line == 7);
        CHECK_THAT(
            error.message,
            Contains("exactly one of on_enter / on_event / on_segment_enter / on_segment_exit, "
                     "found neither"));
    }
}

TEST_CASE("a bad duration quotes the text and the valid forms", "[config][errors]") {
    const ConfigResult result = load_with_base(R"(arbitration_window = "2 s"
[[program]]
name     = "p"
on_event = "e"
delay    = "1.5h"
channel  = "email"
priority = "service"
template = "t"
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 2);
    CHECK(result.errors[0].line == 7);
    CHECK(result.errors[0].column == 22);
    CHECK_THAT(result.errors[0].message,
               Contains(R"(invalid duration "2 s" for "arbitration_window" in [pressure])"));
    CHECK(result.errors[1].line == 11);
    CHECK_THAT(result.errors[1].message, Contains(R"(invalid duration "1.5h")"));
    for (const ConfigError& error : result.errors) {
        CHECK_THAT(error.message, Contains(R"("250ms", "30s", "15m", "2h", "7d")"));
    }
}

TEST_CASE("duplicate names are reported at the repetition", "[config][errors]") {
    SECTION("stages") {
        const ConfigError error = single_error(load(R"([journey]
stages        = ["new", "active",
                 "new"]
initial_stage = "new"
)"));
        CHECK(error.line == 3);
        CHECK_THAT(error.message, Contains(R"(duplicate stage "new" (first on line 2))"));
    }
    SECTION("programs and timers") {
        const ConfigResult result = load_with_base(R"([[program]]
name     = "p"
on_event = "e"
channel  = "email"
priority = "service"
template = "t"
[[program]]
name     = "p"
on_event = "f"
channel  = "email"
priority = "service"
template = "t"
[[journey.timer]]
name  = "lapse"
in    = ["new"]
after = "1d"
to    = "active"
[[journey.timer]]
name  = "lapse"
in    = ["active"]
after = "1d"
to    = "new"
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 14);
        CHECK_THAT(result.errors[0].message, Contains(R"(duplicate program name "p")"));
        CHECK(result.errors[1].line == 25);
        CHECK_THAT(result.errors[1].message, Contains(R"(duplicate timer name "lapse")"));
    }
    SECTION("hierarchy classes") {
        const ConfigError error = single_error(load(R"([journey]
stages        = ["new"]
initial_stage = "new"
[pressure]
hierarchy = ["service", "lifecycle", "service"]
)"));
        CHECK(error.line == 5);
        CHECK(error.column == 38);
        CHECK_THAT(error.message, Contains(R"(duplicate class "service")"));
    }
}

TEST_CASE("the stages list must not be empty", "[config][errors]") {
    const ConfigError error =
        single_error(load("[journey]\nstages = []\ninitial_stage = \"new\"\n"));
    CHECK(error.line == 2);
    CHECK_THAT(error.message, Contains(R"("stages" in [journey] must not be empty)"));
}

TEST_CASE("count and within go together", "[config][errors]") {
    SECTION("count without within") {
        const ConfigError error = single_error(load_with_base(R"([[journey.transition]]
on    = "x"
count = 3
to    = "active"
)"));
        CHECK(error.line == 9);
        CHECK_THAT(error.message, Contains(R"(count = 3 needs "within")"));
    }
    SECTION("within without count") {
        const ConfigError error = single_error(load_with_base(R"([[journey.transition]]
on     = "x"
within = "1d"
to     = "active"
)"));
        CHECK(error.line == 9);
        CHECK_THAT(error.message, Contains(R"("within" only applies with count of 2 or more)"));
    }
    SECTION("within with count 1") {
        const ConfigError error = single_error(load_with_base(R"([[journey.transition]]
on     = "x"
count  = 1
within = "1d"
to     = "active"
)"));
        CHECK(error.line == 10);
        CHECK_THAT(error.message, Contains(R"("within" only applies with count of 2 or more)"));
    }
    SECTION("an unreadable count or window is reported once, not twice") {
        const ConfigResult result = load_with_base(R"([[journey.transition]]
on     = "x"
count  = "3"
within = "1d"
to     = "active"
[[journey.transition]]
on     = "x"
count  = 3
within = "a month"
to     = "active"
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 9);
        CHECK_THAT(result.errors[0].message, Contains("must be an integer"));
        CHECK(result.errors[1].line == 15);
        CHECK_THAT(result.errors[1].message, Contains(R"(invalid duration "a month")"));
    }
    SECTION("count below 1 and a zero window") {
        const ConfigResult result = load_with_base(R"([[journey.transition]]
on     = "x"
count  = 0
to     = "active"
[[journey.transition]]
on     = "x"
count  = 2
within = "0s"
to     = "active"
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 9);
        CHECK_THAT(result.errors[0].message,
                   Contains(R"("count" in [[journey.transition]] must be at least 1)"));
        CHECK(result.errors[1].line == 14);
        CHECK_THAT(result.errors[1].message,
                   Contains(R"("within" in [[journey.transition]] must be more than 0)"));
    }
}

TEST_CASE("quiet hours must be two different HH:MM times", "[config][errors]") {
    SECTION("out of range and malformed") {
        const ConfigResult result =
            load_with_base("quiet_hours = { start = \"24:00\", end = \"8:00\" }\n");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 7);
        CHECK(result.errors[0].column == 25);
        CHECK_THAT(
            result.errors[0].message,
            Contains(R"(quiet_hours start "24:00" must be a time HH:MM from 00:00 to 23:59)"));
        CHECK(result.errors[1].column == 40);
        CHECK_THAT(result.errors[1].message, Contains(R"(quiet_hours end "8:00")"));
    }
    SECTION("start equal to end") {
        const ConfigError error =
            single_error(load_with_base("quiet_hours = { start = \"22:00\", end = \"22:00\" }\n"));
        CHECK(error.line == 7);
        CHECK_THAT(error.message, Contains("quiet_hours start and end are equal"));
    }
    SECTION("the last minute of the day is valid") {
        const ConfigResult result =
            load_with_base("quiet_hours = { start = \"23:59\", end = \"00:00\" }\n");
        require_valid(result);
        CHECK(result.config->pressure.quiet_hours->start_minute == 1439);
        CHECK(result.config->pressure.quiet_hours->end_minute == 0);
    }
}

TEST_CASE("a cap needs max of at least 1 and a positive window", "[config][errors]") {
    const ConfigResult result = load_with_base(R"([[pressure.cap]]
channel = "email"
max     = 0
per     = "0s"
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 2);
    CHECK(result.errors[0].line == 9);
    CHECK_THAT(result.errors[0].message,
               Contains(R"("max" in [[pressure.cap]] must be at least 1)"));
    CHECK(result.errors[1].line == 10);
    CHECK_THAT(result.errors[1].message,
               Contains(R"("per" in [[pressure.cap]] must be more than 0)"));
}

TEST_CASE("a rate must be a positive number", "[config][errors]") {
    const ConfigResult result = load_with_base(R"([pressure.rate]
email = 0
push  = -2.5
sms   = "100"
in_app = 0.5
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 3);
    CHECK(result.errors[0].line == 8);
    CHECK_THAT(result.errors[0].message, Contains(R"(rate for "email" in [pressure.rate])"));
    CHECK(result.errors[1].line == 9);
    CHECK_THAT(result.errors[1].message, Contains(R"(rate for "push")"));
    CHECK(result.errors[2].line == 10);
    CHECK_THAT(result.errors[2].message, Contains(R"(rate for "sms")"));
    CHECK_THAT(result.errors[2].message, Contains("positive number"));
}

TEST_CASE("a migration moves a removed stage into a stage of the file", "[config][errors]") {
    const ConfigResult result = load_with_base(R"([journey.migrate]
browsing = "new"
active = "new"
lost = "nowhere"
odd = 3
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 3);
    CHECK(result.errors[0].line == 9);
    CHECK(result.errors[0].message ==
          R"([journey.migrate] "active" is a stage of this journey: only removed stages are )"
          "migrated");
    CHECK(result.errors[1].line == 10);
    CHECK_THAT(result.errors[1].message, Contains(R"(unknown stage "nowhere")"));
    CHECK(result.errors[2].line == 11);
    CHECK(result.errors[2].message == R"([journey.migrate] "odd" must be the name of a stage)");
    const ConfigResult good = load_with_base("[journey.migrate]\nbrowsing = \"active\"\n");
    REQUIRE(good.config);
    const JourneyModel& model = good.config->journey;
    REQUIRE(model.migrations.size() == 1);
    CHECK(model.stage_or_migrated("browsing") == model.stage_id("active"));
    CHECK(model.stage_or_migrated("active") == model.stage_id("active"));
    CHECK_FALSE(model.stage_or_migrated("lost"));
}

TEST_CASE("[rhythm] names the engagement events and their half-life", "[config]") {
    const ConfigResult good =
        load_with_base("[rhythm]\nengagement = [\"app_open\", \"view\"]\nhalf_life = \"7d\"\n");
    REQUIRE(good.config);
    CHECK(good.config->journey.rhythm.engagement == std::vector<std::string>{"app_open", "view"});
    CHECK(good.config->journey.rhythm.half_life == 7 * 86'400'000LL);
    CHECK(load_with_base("").config->journey.rhythm.half_life == 14 * 86'400'000LL);
    const ConfigResult bad = load_with_base(
        "[rhythm]\nengagement = [\"view\", \"view\"]\nhalf_life = \"0s\"\nwhen = 1\n");
    INFO(describe(bad.errors));
    REQUIRE(bad.errors.size() == 3);
    CHECK_THAT(bad.errors[0].message, Contains("duplicate engagement event type \"view\""));
    CHECK_THAT(bad.errors[1].message, Contains("\"half_life\" in [rhythm] must be more than 0"));
    CHECK_THAT(bad.errors[2].message, Contains("unknown key \"when\" in [rhythm]"));
}

TEST_CASE("a program's send time: now, or the best hour within send_within", "[config]") {
    const std::string rhythm = "[rhythm]\nengagement = [\"view\"]\n";
    auto program = [](const std::string& send_time) {
        return "[[program]]\nname = \"digest\"\non_event = \"digest\"\nchannel = \"email\"\n"
               "priority = \"lifecycle\"\ntemplate = \"d\"\n" +
               send_time;
    };
    const ConfigResult good =
        load_with_base(rhythm + program("send_at = \"best_hour\"\nsend_within = \"6h\"\n"));
    INFO(describe(good.errors));
    REQUIRE(good.config);
    const Program& digest = good.config->journey.programs.back();
    CHECK(digest.send_at_best_hour);
    CHECK(digest.send_within == 6 * 3'600'000LL);
    const ConfigResult plain = load_with_base(rhythm + program("send_at = \"now\"\n"));
    REQUIRE(plain.config);
    CHECK_FALSE(plain.config->journey.programs.back().send_at_best_hour);
    CHECK(plain.config->journey.programs.back().send_within == 24 * 3'600'000LL);

    CHECK_THAT(single_error(load_with_base(rhythm + program("send_at = \"dawn\"\n"))).message,
               Contains("send_at of [[program]] must be \"now\" or \"best_hour\", not \"dawn\""));
    CHECK_THAT(single_error(load_with_base(rhythm + program("send_within = \"2h\"\n"))).message,
               Contains("send_within of [[program]] needs send_at = \"best_hour\""));
    CHECK_THAT(single_error(load_with_base(rhythm + program("send_at = \"best_hour\"\n"
                                                            "send_within = \"8d\"\n")))
                   .message,
               Contains("must be more than 0 and at most 7d"));
    CHECK_THAT(single_error(load_with_base(program("send_at = \"best_hour\"\n"))).message,
               Contains("send_at = \"best_hour\" needs [rhythm] engagement"));
}

TEST_CASE("a timer needs a positive delay and a known target", "[config][errors]") {
    const ConfigError error = single_error(load_with_base(R"([[journey.timer]]
name  = "t"
in    = ["new"]
after = "0ms"
to    = "active"
)"));
    CHECK(error.line == 10);
    CHECK_THAT(error.message, Contains(R"("after" in [[journey.timer]] must be more than 0)"));
}

TEST_CASE("a driver names two different known stages and a positive window", "[config][errors]") {
    const ConfigResult result = load_with_base(R"([[journey.driver]]
from   = "new"
to     = "active"
window = "7d"
[[journey.driver]]
from   = "new"
to     = "new"
window = "0s"
[[journey.driver]]
from   = "new"
to     = "gone"
window = "soon"
[[journey.driver]]
from   = "new"
to     = "active"
window = "7d"
[[journey.driver]]
from   = "new"
to     = "active"
window = "1d"
slack  = true
[[journey.driver]]
from   = "new"
)");
    INFO(describe(result.errors));
    const std::pair<int, const char*> expected[] = {
        {13, R"("to" in [[journey.driver]] must differ from "from")"},
        {14, R"("window" in [[journey.driver]] must be more than 0)"},
        {17, R"(unknown stage "gone")"},
        {18, R"(invalid duration "soon" for "window" in [[journey.driver]])"},
        {19, R"(duplicate [[journey.driver]] from, to and window "new>active@604800000")"},
        {27, R"(unknown key "slack" in [[journey.driver]])"},
        {28, R"(missing required key "to")"},
        {28, R"(missing required key "window")"},
    };
    REQUIRE(result.errors.size() == std::size(expected));
    for (size_t i = 0; i < result.errors.size(); ++i) {
        CHECK(result.errors[i].line == expected[i].first);
        CHECK_THAT(result.errors[i].message, Contains(expected[i].second));
    }
    // The valid ones, in file order.
    const ConfigResult valid = load_with_base(R"([[journey.driver]]
from   = "new"
to     = "active"
window = "7d"
[[journey.driver]]
from   = "active"
to     = "new"
window = "36h"
)");
    require_valid(valid);
    const std::vector<DriverRule>& drivers = valid.config->journey.drivers;
    REQUIRE(drivers.size() == 2);
    CHECK((drivers[0].from == 0 && drivers[0].to == 1 && drivers[0].window == 7 * 86'400'000LL));
    CHECK(valid.config->journey.driver_name(1) == "active>new@129600000");
}

TEST_CASE("names, channels, templates and event types must not be empty", "[config][errors]") {
    const ConfigResult result = load_with_base(R"([[program]]
name     = ""
on_event = ""
channel  = ""
priority = "service"
template = ""
[[journey.transition]]
on = ["x", ""]
to = "new"
[[pressure.cap]]
channel = ""
max     = 1
per     = "1d"
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 6);
    const std::pair<int, const char*> expected[] = {
        {8, R"("name" in [[program]] must not be empty)"},
        {9, R"("on_event" in [[program]] must not be empty)"},
        {10, R"("channel" in [[program]] must not be empty)"},
        {12, R"("template" in [[program]] must not be empty)"},
        {14, R"(each element of "on" in [[journey.transition]] must not be empty)"},
        {17, R"("channel" in [[pressure.cap]] must not be empty)"},
    };
    for (size_t i = 0; i < result.errors.size(); ++i) {
        CHECK(result.errors[i].line == expected[i].first);
        CHECK_THAT(result.errors[i].message, Contains(expected[i].second));
    }
}

TEST_CASE("empty lists of stages and event types are errors", "[config][errors]") {
    const ConfigResult result = load_with_base(R"([[journey.transition]]
from = []
on   = []
to   = "new"
[[journey.timer]]
name  = "t"
in    = []
after = "1d"
to    = "new"
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 3);
    CHECK(result.errors[0].line == 8);
    CHECK_THAT(result.errors[0].message, Contains("from = [] matches no stage"));
    CHECK(result.errors[1].line == 9);
    CHECK_THAT(result.errors[1].message, Contains("must list at least one event type"));
    CHECK(result.errors[2].line == 13);
    CHECK_THAT(result.errors[2].message,
               Contains(R"("in" in [[journey.timer]] must list at least one stage)"));
}

TEST_CASE("node addresses must be HOST:PORT", "[config][errors]") {
    SECTION("port 0 and bracketed IPv6 are accepted") {
        require_valid(
            load_with_base("[node]\ningest = \"127.0.0.1:0\"\nadmin = \"[::1]:65535\"\n"));
    }
    SECTION("missing port, port out of range, bare IPv6") {
        const ConfigResult result = load_with_base(R"([node]
ingest = "localhost"
admin  = "127.0.0.1:65536"
[admin]
[delivery]
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 8);
        CHECK_THAT(result.errors[0].message,
                   Contains(R"(ingest "localhost" in [node] must be HOST:PORT)"));
        CHECK(result.errors[1].line == 9);
        CHECK_THAT(result.errors[1].message, Contains(R"(admin "127.0.0.1:65536")"));
    }
    SECTION("other malformed addresses") {
        for (const char* address :
             {":7400", "host:", "host:port", "::1:7400", "h:-1", "h:123456"}) {
            INFO(address);
            const ConfigError error =
                single_error(load_with_base("[node]\ningest = \"" + std::string(address) + "\"\n"));
            CHECK(error.line == 8);
        }
    }
}

TEST_CASE("the delivery sink must be a file or an http URL", "[config][errors]") {
    require_valid(load_with_base("[delivery]\nsink = \"file:out.ndjson\"\n"));
    require_valid(load_with_base("[delivery]\nsink = \"http://127.0.0.1:9000/send\"\n"));
    const ConfigError error = single_error(load_with_base("[delivery]\nsink = \"file:\"\n"));
    CHECK(error.line == 8);
    CHECK_THAT(error.message, Contains(R"(must be "file:PATH" or "http://HOST:PORT/PATH")"));
}

// --- reporting -----------------------------------------------------------------------------

TEST_CASE("every error of a file is reported, sorted by line", "[config][errors]") {
    // The pressure section comes first in the file but is read after the journey: the result
    // must still be in file order.
    const ConfigResult result = load(R"([pressure]
hierarchy = ["service"]
exempt    = ["urgent"]
[journey]
stages        = ["new", "active"]
initial_stage = "new"
[[journey.transition]]
on     = "x"
count  = "3"
to     = "actve"
[[program]]
name     = "p"
on_enter = "new"
delay    = "soon"
channel  = "email"
prioritty = "service"
template = "t"
)");
    INFO(describe(result.errors));
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 6);
    const std::pair<int, const char*> expected[] = {
        {3, R"(exempt class "urgent")"},
        {9, R"("count" in [[journey.transition]] must be an integer)"},
        {10, R"(unknown stage "actve")"},
        {11, R"(missing required key "priority")"},
        {14, R"(invalid duration "soon")"},
        {16, R"(unknown key "prioritty")"},
    };
    for (size_t i = 0; i < result.errors.size(); ++i) {
        CHECK(result.errors[i].source == "test.toml");
        CHECK(result.errors[i].line == expected[i].first);
        CHECK_THAT(result.errors[i].message, Contains(expected[i].second));
    }
}

TEST_CASE("load_config_file reads a file and reports an unreadable one", "[config][file]") {
    SECTION("a missing file is one error about the whole file") {
        const ConfigResult result = load_config_file("/nonexistent/journeyd.toml");
        CHECK_FALSE(result.config.has_value());
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].source == "/nonexistent/journeyd.toml");
        CHECK(result.errors[0].line == 0);
        CHECK_THAT(result.errors[0].message, Contains("cannot read file"));
    }
    SECTION("a directory is unreadable too") {
        const ConfigResult result = load_config_file("/");
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].line == 0);
    }
    SECTION("errors of a file carry its path") {
        const std::string path = temp_path("errors.toml");
        std::ofstream(path) << "[journey]\nstages = [\"new\"]\ninitial_stage = \"old\"\n";
        const ConfigResult result = load_config_file(path);
        std::remove(path.c_str());
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].to_string().rfind(path + ":3:17: unknown stage \"old\"", 0) == 0);
    }
    SECTION("the default text round-trips through a file") {
        const std::string path = temp_path("default.toml");
        std::ofstream(path) << default_config_text();
        const ConfigResult result = load_config_file(path);
        std::remove(path.c_str());
        require_valid(result);
        CHECK(result.config->journey.programs.size() == 9);
    }
}

TEST_CASE("ConfigError::to_string uses the compiler format", "[config]") {
    const ConfigError error{"journeyd.toml", 12, 5, R"(unknown stage "actve")"};
    CHECK(error.to_string() == R"(journeyd.toml:12:5: unknown stage "actve")");
    const ConfigError whole_file{"missing.toml", 0, 0, "cannot read file: No such file"};
    CHECK(whole_file.to_string() == "missing.toml:0:0: cannot read file: No such file");
}

TEST_CASE("config: [store] sync is an optional boolean, true by default") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->store.sync);
    CHECK_FALSE(
        journeyd::load_config_text(journey + "[store]\nsync = false\n", "t").config->store.sync);
    auto wrong = journeyd::load_config_text(journey + "[store]\nsync = \"no\"\nsink = 1\n", "t");
    REQUIRE(wrong.errors.size() == 2);
    CHECK(wrong.errors[0].line == 5);
    CHECK(wrong.errors[1].message.find("unknown key \"sink\" in [store]") == 0);
}

TEST_CASE("config: [store] max_size is bytes, an integer or a number with a unit", "[config]") {
    CHECK(load_with_base("").config->store.max_size == uint64_t(64) << 30);  // the default
    const std::vector<std::pair<std::string, uint64_t>> accepted = {
        {"1048576", uint64_t(1) << 20},      {R"("1048576B")", uint64_t(1) << 20},
        {R"("2048KiB")", uint64_t(2) << 20}, {R"("512MiB")", uint64_t(512) << 20},
        {R"("64GiB")", uint64_t(64) << 30},  {R"("1TiB")", uint64_t(1) << 40},
        {R"("2000KB")", 2'000'000},          {R"("100MB")", 100'000'000},
        {R"("10GB")", 10'000'000'000},       {R"("2TB")", 2'000'000'000'000},
    };
    for (const auto& [written, bytes] : accepted) {
        INFO(written);
        const ConfigResult result = load_with_base("[store]\nmax_size = " + written + "\n");
        require_valid(result);
        CHECK(result.config->store.max_size == bytes);
    }
}

TEST_CASE("config: [store] max_size errors name the line and what is accepted", "[config]") {
    // Line 7 is [store], line 8 max_size (kBase).
    auto error_for = [](const std::string& written) {
        INFO(written);
        const ConfigError error =
            single_error(load_with_base("[store]\nmax_size = " + written + "\n"));
        CHECK(error.line == 8);
        CHECK(error.column == 12);
        return error.message;
    };
    for (const std::string written :
         {R"("64 GiB")", R"("64G")", R"("64gib")", R"("GiB")", R"("1.5GiB")", R"("-1GiB")", R"("")",
          R"("99999999TiB")", "-5"}) {
        CHECK_THAT(error_for(written),
                   Contains("invalid size " + written +
                            " for \"max_size\" in [store]: expected a "
                            "whole number of bytes, or a string of a whole number and one unit"));
    }
    CHECK(error_for("true") ==
          R"("max_size" in [store] must be an integer or a string, not a boolean)");
    CHECK(error_for("1.5") ==
          R"("max_size" in [store] must be an integer or a string, not a floating-point number)");
    CHECK(error_for(R"("2KiB")") ==
          R"("max_size" in [store] must be at least 1MiB (1048576 bytes), not 2048 bytes)");
    CHECK(error_for("1048575") ==
          R"("max_size" in [store] must be at least 1MiB (1048576 bytes), not 1048575 bytes)");
}

TEST_CASE("config: [runtime] realtime_coordinator is an optional boolean, true by default") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->runtime.realtime_coordinator);
    CHECK_FALSE(
        journeyd::load_config_text(journey + "[runtime]\nrealtime_coordinator = false\n", "t")
            .config->runtime.realtime_coordinator);
    auto wrong = journeyd::load_config_text(journey + "[runtime]\nrealtime_coordinator = 1\n", "t");
    REQUIRE(wrong.errors.size() == 1);
    CHECK(wrong.errors[0].line == 5);
    CHECK(wrong.errors[0].message.find("realtime_coordinator") != std::string::npos);
}

TEST_CASE("config: [runtime] idle_after is a duration, 10 minutes by default") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->runtime.idle_after == 600'000);
    CHECK(journeyd::load_config_text(journey + "[runtime]\nidle_after = \"0s\"\n", "t")
              .config->runtime.idle_after == 0);
    auto wrong = journeyd::load_config_text(journey + "[runtime]\nidle_after = \"soon\"\n", "t");
    REQUIRE(wrong.errors.size() == 1);
    CHECK(wrong.errors[0].line == 5);
}

TEST_CASE("config: [ingest] limits are positive integers with the documented defaults") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    const auto defaults = journeyd::load_config_text(journey, "t").config->ingest;
    CHECK(defaults.max_frame == 1u << 20);
    CHECK(defaults.max_pending_frames == 256);
    CHECK(defaults.max_unsent_bytes == 4u << 20);
    CHECK(defaults.max_connections == 1024);
    auto set = journeyd::load_config_text(
        journey + "[ingest]\nmax_pending_frames = 8\nmax_connections = 3\n", "t");
    CHECK(set.config->ingest.max_pending_frames == 8);
    CHECK(set.config->ingest.max_connections == 3);
    auto wrong =
        journeyd::load_config_text(journey + "[ingest]\nmax_frame = 0\nmax_frames = 1\n", "t");
    REQUIRE(wrong.errors.size() == 2);
    CHECK(wrong.errors[0].message == "max_frame in [ingest] must be from 1 to 2^32-1");
    CHECK(wrong.errors[1].line == 6);
}

TEST_CASE("config: [ingest] io_threads is 0 (one a core) by default, and at most 256") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->ingest.io_threads == 0);
    auto set = journeyd::load_config_text(journey + "[ingest]\nio_threads = 3\n", "t");
    CHECK(set.config->ingest.io_threads == 3);
    for (const char* value : {"-1", "257"}) {
        auto wrong = journeyd::load_config_text(
            journey + "[ingest]\nmax_frame = 10\nio_threads = " + value + "\n", "t");
        REQUIRE(wrong.errors.size() == 1);
        CHECK(wrong.errors[0].line == 6);
        CHECK(wrong.errors[0].message == "io_threads in [ingest] must be from 0 to 256");
    }
}

TEST_CASE("config: [ingest] idle_timeout is 5 minutes by default, 0s is never") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->ingest.idle_timeout == 300'000);
    auto never = journeyd::load_config_text(journey + "[ingest]\nidle_timeout = \"0s\"\n", "t");
    CHECK(never.config->ingest.idle_timeout == 0);
}

TEST_CASE("config: [ingest] token is off by default and may not be empty") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->ingest.token.empty());
    auto set = journeyd::load_config_text(journey + "[ingest]\ntoken = \"s3cret\"\n", "t");
    CHECK(set.config->ingest.token == "s3cret");
    auto empty = journeyd::load_config_text(journey + "[ingest]\ntoken = \"\"\n", "t");
    REQUIRE(empty.errors.size() == 1);
    CHECK_THAT(empty.errors[0].message, Catch::Contains("token"));
}

TEST_CASE("config: tls_cert and tls_key go together, in [ingest] and [admin]") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    for (const std::string table : {"ingest", "admin"}) {
        auto both = journeyd::load_config_text(
            journey + "[" + table + "]\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n", "t");
        REQUIRE(both.errors.empty());
        const journeyd::TlsSettings& tls =
            table == "ingest" ? both.config->ingest.tls : both.config->admin.tls;
        CHECK(tls.enabled());
        CHECK(tls.cert == "c.pem");
        CHECK(tls.key == "k.pem");
        auto alone =
            journeyd::load_config_text(journey + "[" + table + "]\ntls_cert = \"c.pem\"\n", "t");
        REQUIRE(alone.errors.size() == 1);
        CHECK(alone.errors[0].message == "\"tls_cert\" in [" + table + "] needs tls_key beside it");
        auto key_alone =
            journeyd::load_config_text(journey + "[" + table + "]\ntls_key = \"k.pem\"\n", "t");
        REQUIRE(key_alone.errors.size() == 1);
        CHECK(key_alone.errors[0].message ==
              "\"tls_key\" in [" + table + "] needs tls_cert beside it");
    }
    CHECK_FALSE(journeyd::load_config_text(journey, "t").config->ingest.tls.enabled());
}

TEST_CASE("config: [admin] max_body is a positive integer, 1 MiB by default") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    CHECK(journeyd::load_config_text(journey, "t").config->admin.max_body == 1u << 20);
    CHECK(journeyd::load_config_text(journey + "[admin]\nmax_body = 4096\n", "t")
              .config->admin.max_body == 4096);
    auto wrong = journeyd::load_config_text(journey + "[admin]\nmax_body = -1\n", "t");
    REQUIRE(wrong.errors.size() == 1);
    CHECK(wrong.errors[0].message == "max_body in [admin] must be from 1 to 2^32-1");
}

TEST_CASE("config: [admin] max_connections and read_timeout, 1024 and 5s by default") {
    const std::string journey = "[journey]\nstages = [\"a\"]\ninitial_stage = \"a\"\n";
    const journeyd::AdminSettings defaults = journeyd::load_config_text(journey, "t").config->admin;
    CHECK(defaults.max_connections == 1024);
    CHECK(defaults.read_timeout == 5'000);
    const journeyd::AdminSettings set =
        journeyd::load_config_text(
            journey + "[admin]\nmax_connections = 8\nread_timeout = \"2s\"\n", "t")
            .config->admin;
    CHECK(set.max_connections == 8);
    CHECK(set.read_timeout == 2'000);
    auto wrong = journeyd::load_config_text(
        journey + "[admin]\nmax_connections = 0\nread_timeout = \"0s\"\n", "t");
    REQUIRE(wrong.errors.size() == 2);
    CHECK(wrong.errors[0].message == "max_connections in [admin] must be from 1 to 2^32-1");
    CHECK(wrong.errors[0].line == 5);
    CHECK(wrong.errors[1].message == "\"read_timeout\" in [admin] must be more than 0");
    CHECK(wrong.errors[1].line == 6);
}

TEST_CASE("an admin port other machines can reach needs a token", "[config][errors]") {
    for (const char* local : {"127.0.0.1:7401", "127.1.2.3:0", "localhost:7401", "[::1]:7401",
                              "[::ffff:127.0.0.1]:7401"}) {
        INFO(local);
        CHECK(is_loopback_address(local));
        require_valid(load_with_base("[node]\nadmin = \"" + std::string(local) + "\"\n"));
    }
    for (const char* open : {"0.0.0.0:7401", "[::]:7401", "10.0.0.7:7401", "example.org:7401"}) {
        INFO(open);
        CHECK_FALSE(is_loopback_address(open));
        const ConfigError error =
            single_error(load_with_base("[node]\nadmin = \"" + std::string(open) + "\"\n"));
        CHECK(error.line == 8);
        CHECK_THAT(error.message, Contains("[admin] token is empty"));
        require_valid(load_with_base("[node]\nadmin = \"" + std::string(open) +
                                     "\"\n[admin]\ntoken = \"s3cret\"\n"));
    }
    CHECK(admin_exposure_error("0.0.0.0:7401", "") != "");
    CHECK(admin_exposure_error("0.0.0.0:7401", "t") == "");
    CHECK(admin_exposure_error("127.0.0.1:7401", "") == "");
}

TEST_CASE("config: [cluster] members, listen and timeouts load in file order",
          "[config][cluster]") {
    SECTION("every key set") {
        const ConfigResult result = load_with_base(R"([node]
name = "node-b"
[cluster]
members = ["node-a@127.0.0.1:7410", "node-b@127.0.0.1:7420",
           "node-c@10.0.0.7:7410"]
listen          = "0.0.0.0:7420"
connect_timeout = "500ms"
forward_timeout = "1m"
)");
        require_valid(result);
        const ClusterSettings& cluster = result.config->cluster;
        REQUIRE(cluster.members.size() == 3);
        const std::tuple<const char*, const char*, uint16_t> expected[] = {
            {"node-a", "127.0.0.1", 7410},
            {"node-b", "127.0.0.1", 7420},
            {"node-c", "10.0.0.7", 7410},
        };
        for (size_t i = 0; i < cluster.members.size(); ++i) {
            CHECK(cluster.members[i].name == std::get<0>(expected[i]));
            CHECK(cluster.members[i].host == std::get<1>(expected[i]));
            CHECK(cluster.members[i].port == std::get<2>(expected[i]));
        }
        CHECK(cluster.listen == "0.0.0.0:7420");
        CHECK(cluster.connect_timeout == 500);
        CHECK(cluster.forward_timeout == 60'000);
    }
    SECTION("only members: the defaults of config.hpp") {
        const ConfigResult result =
            load_with_base("[cluster]\nmembers = [\"node-a@127.0.0.1:7410\"]\n");
        require_valid(result);
        const ClusterSettings& cluster = result.config->cluster;
        REQUIRE(cluster.members.size() == 1);
        CHECK(cluster.members[0].name == "node-a");
        CHECK(cluster.listen.empty());
        CHECK(cluster.connect_timeout == 2'000);
        CHECK(cluster.forward_timeout == 10'000);
    }
    SECTION("an IPv6 member is stored without its brackets") {
        const ConfigResult result = load_with_base(R"([cluster]
members = ["node-a@[::1]:7410", "node_b.2@[fe80::1]:65535"]
listen  = "[::]:7410"
)");
        require_valid(result);
        const ClusterSettings& cluster = result.config->cluster;
        REQUIRE(cluster.members.size() == 2);
        CHECK(cluster.members[0].host == "::1");
        CHECK(cluster.members[0].port == 7410);
        CHECK(cluster.members[1].name == "node_b.2");
        CHECK(cluster.members[1].host == "fe80::1");
        CHECK(cluster.members[1].port == 65535);
        CHECK(cluster.listen == "[::]:7410");
    }
}

TEST_CASE("config: [cluster] absent leaves a single node", "[config][cluster]") {
    const ConfigResult result = load_with_base("[node]\nname = \"anything\"\n");
    require_valid(result);
    CHECK(result.config->cluster.members.empty());
    CHECK(result.config->cluster.listen.empty());
}

TEST_CASE("config: [cluster] members are NAME@HOST:PORT with a port from 1", "[config][cluster]") {
    for (const char* entry : {"node-a127.0.0.1:7410", "@127.0.0.1:7410", "node a@127.0.0.1:7410",
                              "node/a@h:7410", "node-a@", "node-a@127.0.0.1", "node-a@127.0.0.1:0",
                              "node-a@127.0.0.1:65536", "node-a@::1:7410", "node-a@h:port"}) {
        INFO(entry);
        const ConfigError error =
            single_error(load_with_base("[cluster]\nmembers = [\"" + std::string(entry) + "\"]\n"));
        CHECK(error.line == 8);
        CHECK_THAT(error.message, Contains("[cluster] members: \"" + std::string(entry) +
                                           "\" is not NAME@HOST:PORT"));
    }
    SECTION("every malformed entry is reported, at its own line") {
        const ConfigResult result = load_with_base(R"([cluster]
members = ["node-a@127.0.0.1:7410",
           "node-b127.0.0.1:7420",
           "node-c@127.0.0.1:0"]
)");
        INFO(describe(result.errors));
        REQUIRE(result.errors.size() == 2);
        CHECK(result.errors[0].line == 9);
        CHECK_THAT(result.errors[0].message, Contains(R"("node-b127.0.0.1:7420")"));
        CHECK(result.errors[1].line == 10);
        CHECK_THAT(result.errors[1].message, Contains(R"("node-c@127.0.0.1:0")"));
    }
}

TEST_CASE("config: [cluster] members is a required, non-empty array of strings",
          "[config][cluster]") {
    const std::tuple<const char*, int, const char*> cases[] = {
        {"[cluster]\nlisten = \"0.0.0.0:7410\"\n", 7,
         R"(missing required key "members" in [cluster])"},
        {"[cluster]\nmembers = []\n", 8, R"("members" in [cluster] must list at least one member)"},
        {"[cluster]\nmembers = \"node-a@h:1\"\n", 8, "must be an array, not a string"},
        {"[cluster]\nmembers = [\"node-a@h:1\", 2]\n", 8,
         R"(each element of "members" in [cluster] must be a string)"},
    };
    for (const auto& [snippet, line, message] : cases) {
        INFO(snippet);
        const ConfigError error = single_error(load_with_base(snippet));
        CHECK(error.line == line);
        CHECK_THAT(error.message, Contains(message));
    }
    // A top-level value must come before the first table, so before the base.
    const ConfigError error =
        single_error(load("cluster = [\"node-a@h:1\"]\n" + std::string(kBase)));
    CHECK(error.line == 1);
    CHECK_THAT(error.message, Contains("[cluster] must be a table, not an array"));
}

TEST_CASE("config: [cluster] member names and addresses are unique", "[config][cluster]") {
    const ConfigResult result = load_with_base(R"([cluster]
members = ["node-a@127.0.0.1:7410",
           "node-b@127.0.0.1:7420",
           "node-a@127.0.0.1:7430",
           "node-c@127.0.0.1:7420"]
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 2);
    CHECK(result.errors[0].line == 10);
    CHECK_THAT(result.errors[0].message,
               Contains(R"(duplicate [cluster] member name "node-a" (first on line 8))"));
    CHECK(result.errors[1].line == 11);
    CHECK_THAT(
        result.errors[1].message,
        Contains(R"(duplicate [cluster] member address "127.0.0.1:7420" (first on line 9))"));
}

TEST_CASE("config: [cluster] [node] name must be one of the members", "[config][cluster]") {
    SECTION("a name set in [node]") {
        const ConfigError error = single_error(load_with_base(R"([node]
name = "node-x"
[cluster]
members = ["node-a@127.0.0.1:7410", "node-b@127.0.0.1:7420"]
)"));
        CHECK(error.line == 10);
        CHECK_THAT(error.message, Contains(R"([node] name "node-x" is not among [cluster] )"
                                           R"(members (node-a, node-b))"));
    }
    SECTION("the default name") {
        const ConfigError error =
            single_error(load_with_base("[cluster]\nmembers = [\"node-b@127.0.0.1:7420\"]\n"));
        CHECK(error.line == 8);
        CHECK_THAT(error.message, Contains(R"([node] name "node-a" is not among)"));
    }
    SECTION("not reported when [node] name itself is wrong") {
        const ConfigError error = single_error(load_with_base(R"([node]
name = 7
[cluster]
members = ["node-b@127.0.0.1:7420"]
)"));
        CHECK(error.line == 8);
        CHECK_THAT(error.message, Contains(R"("name" in [node] must be a string)"));
    }
}

TEST_CASE("config: [cluster] listen is HOST:PORT with a port from 1", "[config][cluster]") {
    for (const std::string listen : {"0.0.0.0:0", "0.0.0.0", "::1:7410", "h:65536"}) {
        INFO(listen);
        const std::string members = "[cluster]\nmembers = [\"node-a@127.0.0.1:7410\"]\n";
        const ConfigError error =
            single_error(load_with_base(members + "listen = \"" + listen + "\"\n"));
        CHECK(error.line == 9);
        CHECK_THAT(error.message, Contains("listen \"" + listen +
                                           "\" in [cluster] must be HOST:PORT with a port from 1"));
    }
}

TEST_CASE("config: [cluster] timeouts are positive durations", "[config][cluster]") {
    const ConfigResult result = load_with_base(R"([cluster]
members         = ["node-a@127.0.0.1:7410"]
connect_timeout = "0s"
forward_timeout = "10 s"
)");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 2);
    CHECK(result.errors[0].line == 9);
    CHECK_THAT(result.errors[0].message,
               Contains(R"("connect_timeout" in [cluster] must be more than 0)"));
    CHECK(result.errors[1].line == 10);
    CHECK_THAT(result.errors[1].message,
               Contains(R"(invalid duration "10 s" for "forward_timeout" in [cluster])"));
}

TEST_CASE("config: [cluster] reports unknown keys and every error at once", "[config][cluster]") {
    const ConfigResult result = load_with_base(R"([node]
name = "node-z"
[cluster]
members = ["node-a@127.0.0.1:7410", "node-b@127.0.0.1:7410"]
listen = "0.0.0.0"
connect_timeout = "soon"
peers = ["node-c@127.0.0.1:7420"]
)");
    INFO(describe(result.errors));
    CHECK_FALSE(result.config.has_value());
    REQUIRE(result.errors.size() == 5);
    const std::pair<int, const char*> expected[] = {
        {10, R"([node] name "node-z" is not among [cluster] members (node-a, node-b))"},
        {10, R"(duplicate [cluster] member address "127.0.0.1:7410" (first on line 10))"},
        {11, R"(listen "0.0.0.0" in [cluster] must be HOST:PORT)"},
        {12, R"(invalid duration "soon" for "connect_timeout" in [cluster])"},
        {13, R"(unknown key "peers" in [cluster])"},
    };
    for (size_t i = 0; i < result.errors.size(); ++i) {
        CHECK(result.errors[i].line == expected[i].first);
        CHECK_THAT(result.errors[i].message, Contains(expected[i].second));
    }
}

// docs/configuration.md is the reference users have: a key the loader accepts and the page
// does not name is a key nobody can find out about.
TEST_CASE("docs/configuration.md names every key the loader accepts", "[config][docs]") {
    const std::string path = std::string(JOURNEYD_SOURCE_DIR) + "/docs/configuration.md";
    std::ifstream file(path);
    INFO(path);
    REQUIRE(file);
    const std::string docs{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    for (const TableKeys& table : known_config_keys()) {
        for (std::string_view key : table.keys) {
            // Top-level keys are tables, written [key] or [[key]]; the others `key`.
            const std::string written = table.table == kTopLevelTable
                                            ? "[" + std::string(key) + "]"
                                            : "`" + std::string(key) + "`";
            INFO(table.table << ": " << written);
            CHECK(docs.find(written) != std::string::npos);
        }
    }
}
