// The condition language (state/decisioning/condition.hpp) as the config loader compiles it:
// each entry kind and its boundaries, answers that flip by time alone and when, segments of
// segments in any order, the bounded event windows, the record's round trip, and every
// configuration error with its line.
#include "state/decisioning/condition.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "config/config.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/journey/journey_engine.hpp"
#include "tests/support/older_record.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kDay = 86'400'000;
constexpr TimeMs kStart = 1'700'000'000'000;

constexpr std::string_view kJourney = R"([journey]
stages        = ["new", "exploring", "active"]
initial_stage = "new"

[[journey.transition]]
on = "view"
to = "exploring"

[[journey.transition]]
on = "ad_placed"
to = "active"

[pressure]
hierarchy = ["service", "promotional"]
)";

std::string describe(const std::vector<ConfigError>& errors) {
    std::string text;
    for (const ConfigError& error : errors) text += error.to_string() + "\n";
    return text.empty() ? "(no errors)" : text;
}

JourneyModel model_with(const std::string& segments) {
    ConfigResult result = load_config_text(std::string(kJourney) + segments, "t.toml");
    INFO(describe(result.errors));
    REQUIRE(result.config);
    return result.config->journey;
}

// The one error of `segments` appended to the journey (whose last line is 14), as
// "LINE: message".
std::string error_of(const std::string& segments) {
    ConfigResult result = load_config_text(std::string(kJourney) + segments, "t.toml");
    INFO(describe(result.errors));
    REQUIRE(result.errors.size() == 1);
    return std::to_string(result.errors[0].line) + ": " + result.errors[0].message;
}

// A customer driven through the engine, and its segments evaluated at a given instant.
struct Customer {
    explicit Customer(JourneyModel m) : model(std::move(m)), engine(model) { state.id = "ann"; }

    // The programs the event requested and dropped, by name ("name" / "name:reason").
    std::vector<std::string> event(const std::string& type, TimeMs ts,
                                   nlohmann::json attrs = nullptr) {
        Effects effects;
        engine.apply(state, Event{"e" + std::to_string(++events), state.id, type, ts, attrs}, ts,
                     effects);
        return programs_of(effects);
    }
    std::vector<std::string> fire(TimeMs now) {
        Effects effects;
        engine.fire_due(state, now, effects);
        return programs_of(effects);
    }
    std::vector<std::string> programs_of(const Effects& effects) const {
        std::vector<std::string> names;
        for (const ProgramRequest& r : effects.requests)
            names.push_back(model.programs[r.program].name);
        for (const ProgramDrop& d : effects.drops)
            names.push_back(model.programs[d.program].name + ":" + std::string(d.reason));
        return names;
    }
    const SegmentMembership& at(TimeMs now) {
        evaluate_segments(model.conditions, state, now, membership);
        return membership;
    }
    size_t delays() const {
        return std::count_if(
            state.journey.timers.begin(), state.journey.timers.end(),
            [](const PendingTimer& t) { return t.kind == TimerKind::program_delay; });
    }
    bool in(const std::string& segment, TimeMs now) {
        return at(now).member[*model.conditions.segment_id(segment)];
    }

    JourneyModel model;
    JourneyEngine engine;
    CustomerState state;
    SegmentMembership membership;
    int events = 0;
};

}  // namespace

TEST_CASE("conditions: stage and profile attributes, at their boundaries") {
    Customer c(model_with(R"(
[[segment]]
name = "exploring_or_active"
when = [ { stage = ["exploring", "active"] } ]
[[segment]]
name = "pro"
when = [ { attr = "plan", eq = "pro" } ]
[[segment]]
name = "benelux"
when = [ { attr = "country", in = ["NL", "BE"] } ]
[[segment]]
name = "scored"
when = [ { attr = "score", gte = 50 }, { attr = "score", lt = 80.5 } ]
[[segment]]
name = "no_email"
when = [ { attr = "email", exists = false } ]
[[segment]]
name = "level_two"
when = [ { attr = "level", eq = 2 } ]
)"));
    CHECK_FALSE(c.in("exploring_or_active", kStart));  // not even created
    c.event("signup", kStart);
    CHECK_FALSE(c.in("exploring_or_active", kStart));
    CHECK(c.in("no_email", kStart));
    c.event("view", kStart);
    CHECK(c.in("exploring_or_active", kStart));

    c.event("profile", kStart, {{"plan", "pro"}, {"country", "BE"}, {"score", 50}, {"level", 2.0}});
    CHECK(c.in("pro", kStart));
    CHECK(c.in("benelux", kStart));
    CHECK(c.in("scored", kStart));     // 50 >= 50
    CHECK(c.in("level_two", kStart));  // 2.0 == 2
    c.event("profile", kStart, {{"score", 80.5}, {"plan", "free"}, {"email", "a@b"}});
    CHECK_FALSE(c.in("scored", kStart));  // not < 80.5
    CHECK_FALSE(c.in("pro", kStart));
    CHECK_FALSE(c.in("no_email", kStart));
    c.event("profile", kStart, {{"score", "high"}});
    CHECK_FALSE(c.in("scored", kStart));  // not a number
    CHECK_FALSE(c.at(kStart).next_flip);  // none of these changes with time
}

TEST_CASE("conditions: event counts in a window flip when the oldest event leaves it") {
    Customer c(model_with(R"(
[[segment]]
name = "engaged"
when = [ { event = "view", min = 3, within = "7d" } ]
[[segment]]
name = "never_placed"
when = [ { event = "ad_placed", max = 0, within = "30d" } ]
)"));
    c.event("view", kStart);
    c.event("view", kStart + kDay);
    CHECK_FALSE(c.in("engaged", kStart + kDay));
    CHECK(c.in("never_placed", kStart + kDay));
    c.event("view", kStart + 2 * kDay);
    CHECK(c.in("engaged", kStart + 2 * kDay));
    // The first view leaves the 7-day window at kStart + 7d: then only two are in it.
    CHECK(c.at(kStart + 2 * kDay).next_flip == kStart + 7 * kDay);
    CHECK(c.in("engaged", kStart + 7 * kDay - 1));
    CHECK_FALSE(c.in("engaged", kStart + 7 * kDay));

    c.event("ad_placed", kStart + 3 * kDay);
    CHECK_FALSE(c.in("never_placed", kStart + 3 * kDay));
    CHECK(c.at(kStart + 8 * kDay).next_flip == kStart + 33 * kDay);
    CHECK(c.in("never_placed", kStart + 33 * kDay));
}

TEST_CASE("conditions: in_stage_for holds from the instant the stay is long enough") {
    Customer c(model_with(R"(
[[segment]]
name = "settled"
when = [ { stage = ["exploring"] }, { in_stage_for = "3d" } ]
)"));
    c.event("view", kStart);
    CHECK_FALSE(c.in("settled", kStart + kDay));
    CHECK(c.at(kStart + kDay).next_flip == kStart + 3 * kDay);
    CHECK(c.in("settled", kStart + 3 * kDay));
    CHECK_FALSE(c.at(kStart + 3 * kDay).next_flip);
}

TEST_CASE("conditions: a segment of segments, defined in any order, and its flips") {
    Customer c(model_with(R"(
[[segment]]
name = "engaged_browser"
when = [ { segment = "engaged" }, { not_segment = "seller" } ]
[[segment]]
name = "engaged"
when = [ { event = "view", min = 2, within = "1d" } ]
[[segment]]
name = "seller"
when = [ { stage = ["active"] } ]
)"));
    const auto& segments = c.model.conditions.segments;
    REQUIRE(segments.size() == 3);
    CHECK(segments.back().name == "engaged_browser");  // after those it names
    c.event("view", kStart);
    c.event("view", kStart + 1000);
    CHECK(c.in("engaged_browser", kStart + 1000));
    CHECK(c.at(kStart + 1000).flips[*c.model.conditions.segment_id("engaged_browser")] ==
          kStart + kDay);
    c.event("ad_placed", kStart + 2000);
    CHECK_FALSE(c.in("engaged_browser", kStart + 2000));
}

TEST_CASE("conditions: a window keeps only the newest times any entry needs") {
    Customer c(model_with(R"(
[[segment]]
name = "busy"
when = [ { event = "view", min = 3, within = "1d" } ]
[[segment]]
name = "calm"
when = [ { event = "view", max = 4, within = "1d" } ]
)"));
    for (int i = 0; i < 1000; ++i) c.event("view", kStart + i);
    CHECK(c.state.journey.condition_hits.size() == 5);  // max 4 needs 5; min 3 needs 3
    CHECK(c.in("busy", kStart + 1000));
    CHECK_FALSE(c.in("calm", kStart + 1000));
    // A view older than the window is not kept.
    c.event("view", kStart - 2 * kDay);
    CHECK(c.state.journey.condition_hits.size() == 5);
}

TEST_CASE("conditions: entries on one event type with different windows share its times") {
    Customer c(model_with(R"(
[[segment]]
name = "today"
when = [ { event = "view", min = 2, within = "1d" } ]
[[segment]]
name = "quiet_week"
when = [ { event = "view", max = 1, within = "7d" } ]
)"));
    REQUIRE(c.model.conditions.windows.size() == 1);
    CHECK(c.model.conditions.windows[0].keep == 2);
    CHECK(c.model.conditions.windows[0].within == 7 * kDay);
    c.event("view", kStart);
    CHECK(c.in("quiet_week", kStart));
    c.event("view", kStart + 2 * kDay);
    CHECK_FALSE(c.in("today", kStart + 2 * kDay));       // one view in the last day
    CHECK_FALSE(c.in("quiet_week", kStart + 2 * kDay));  // two in the week
    CHECK(c.at(kStart + 2 * kDay).flips[1] == kStart + 7 * kDay);
    CHECK(c.in("quiet_week", kStart + 7 * kDay));
    c.event("view", kStart + 2 * kDay + 1);
    CHECK(c.in("today", kStart + 2 * kDay + 1));
    CHECK(c.state.journey.condition_hits.size() == 2);
}

TEST_CASE("conditions: the window times survive the customer's record, and old records read") {
    Customer c(model_with(R"(
[[segment]]
name = "engaged"
when = [ { event = "view", min = 2, within = "7d" } ]
)"));
    c.event("view", kStart);
    c.event("view", kStart + kDay);
    const std::string record = encode_customer(c.state, c.model);
    std::string error;
    auto decoded = decode_customer(record, c.model, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(*decoded == c.state);

    // A record of the format before conditions: its first 13 fields.
    auto older = decode_customer(test::with_first_fields(record, 13), c.model, error);
    INFO(error);
    REQUIRE(older);
    CHECK(older->journey.condition_hits.empty());
    CHECK(older->journey.events_seen == 2);

    // A window the configuration no longer has is dropped.
    auto other = decode_customer(record, model_with(""), error);
    REQUIRE(other);
    CHECK(other->journey.condition_hits.empty());
}

using Names = std::vector<std::string>;

TEST_CASE("program eligibility: requested only while `when` holds, checked again after a delay") {
    Customer c(model_with(R"(
[[segment]]
name = "engaged"
when = [ { event = "view", min = 2, within = "1d" } ]

[[program]]
name = "pro_tip"
on_event = "view"
channel = "push"
priority = "promotional"
template = "tip"
when = [ { attr = "plan", eq = "pro" } ]

[[program]]
name = "follow_up"
on_event = "view"
delay = "1h"
channel = "email"
priority = "promotional"
template = "follow"
when = [ { segment = "engaged" }, { stage = ["exploring"] } ]
)"));
    constexpr TimeMs kHour = 3'600'000;
    CHECK(c.event("view", kStart).empty());  // neither holds: no request, no timer
    CHECK(c.delays() == 0);
    CHECK(c.event("profile", kStart, {{"plan", "pro"}}).empty());
    // Two views in a day: engaged, so the follow-up waits out its delay.
    CHECK(c.event("view", kStart + 1000) == Names{"pro_tip"});
    REQUIRE(c.delays() == 1);
    CHECK(c.fire(kStart + 1000 + kHour) == Names{"follow_up"});

    // Engaged when it was triggered, no longer when its delay ends: dropped, not_eligible.
    c.event("view", kStart + 2 * kDay);
    c.event("view", kStart + 2 * kDay + 1);
    REQUIRE(c.delays() == 1);
    c.event("ad_placed", kStart + 2 * kDay + 2);  // leaves "exploring"
    CHECK(c.fire(kStart + 2 * kDay + 1 + kHour) == Names{"follow_up:not_eligible"});
}

TEST_CASE("segments: membership kept per customer, its programs, and flips by time alone") {
    Customer c(model_with(R"(
[[segment]]
name = "engaged"
when = [ { event = "view", min = 2, within = "1d" } ]

[[program]]
name = "welcome_engaged"
on_segment_enter = "engaged"
channel = "push"
priority = "promotional"
template = "engaged"

[[program]]
name = "miss_you"
on_segment_exit = "engaged"
channel = "email"
priority = "promotional"
template = "miss"
)"));
    CHECK(c.event("view", kStart).empty());
    CHECK(c.state.journey.segments.empty());
    CHECK(c.event("view", kStart + 1000) == Names{"welcome_engaged"});
    CHECK(c.state.journey.segments == std::vector<uint16_t>{0});
    CHECK(c.event("view", kStart + 2000).empty());  // still in: no second welcome
    // The segments timer is due when the older of the last two views leaves the window.
    CHECK(c.engine.next_due(c.state) == kStart + 1000 + kDay);
    CHECK(c.fire(kStart + 1000 + kDay - 1).empty());
    CHECK(c.fire(kStart + 1000 + kDay) == Names{"miss_you"});
    CHECK(c.state.journey.segments.empty());
    CHECK_FALSE(c.engine.next_due(c.state));

    // Membership and its timer are part of the record.
    c.event("view", kStart + 3 * kDay);
    c.event("view", kStart + 3 * kDay + 1);
    std::string error;
    auto decoded = decode_customer(encode_customer(c.state, c.model), c.model, error);
    REQUIRE(decoded);
    CHECK(decoded->journey.segments == std::vector<uint16_t>{0});
    CHECK(*decoded == c.state);
}

TEST_CASE("conditions: configuration errors name their line") {
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { attr = \"plan\", like = \"p\" } ]\n") ==
          "17: unknown attribute operator \"like\" (operators: eq, in, gt, gte, lt, lte, exists)");
    CHECK(
        error_of("[[segment]]\nname = \"a\"\nwhen = [ { event = \"view\", within = \"7d\" } ]\n") ==
        "17: an event condition needs exactly one of min / max, found neither");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { event = \"view\", min = 2 } ]\n") ==
          "17: an event condition needs within: the window its events are counted in");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { segment = \"nope\" } ]\n") ==
          "17: unknown segment \"nope\"");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { segment = \"b\" } ]\n"
                   "[[segment]]\nname = \"b\"\nwhen = [ { not_segment = \"a\" } ]\n") ==
          "15: segment cycle: \"a\" -> \"b\" -> \"a\"");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { attr = \"x\", eq = 1, gt = 2 } ]\n") ==
          "17: an attr condition needs exactly one operator of eq, in, gt, gte, lt, lte, "
          "exists, found 2");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { colour = \"red\" } ]\n") ==
          "17: a condition needs one of stage, attr, event, in_stage_for, segment, not_segment");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { stage = [\"gone\"] } ]\n") ==
          "17: unknown stage \"gone\" (stages: new, exploring, active)");
    CHECK(error_of("[[segment]]\nname = \"a\"\nwhen = [ { event = \"v\", min = 0, within = "
                   "\"1d\" } ]\n") ==
          "17: \"min\" in a condition of [[segment]] must be from 1 "
          "to 10000");
    CHECK(error_of("[[program]]\nname = \"p\"\non_event = \"view\"\nchannel = \"push\"\n"
                   "priority = \"service\"\ntemplate = \"t\"\nwhen = [ { segment = \"x\" } ]\n") ==
          "21: unknown segment \"x\"");
    CHECK(
        error_of("[[segment]]\nname = \"a\"\nwhen = []\n[[segment]]\nname = \"a\"\nwhen = []\n") ==
        "19: duplicate segment name \"a\" (first on line 16)");
}
