// Program goals and control groups in plain C++: the assignment into holdout buckets, the
// ledger's full decision of a held-out request that then takes no effect, goal windows of both
// arms in the engine and the record, the counters' keys, and the uplift interval.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/decisioning/holdout.hpp"
#include "state/decisioning/program_counts.hpp"
#include "state/decisioning/uplift.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/pressure/pressure_ledger.hpp"
#include "state/store/record_store.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kNoon = 1'700'049'600'000;  // 2023-11-15 12:00 UTC
constexpr TimeMs kHour = 3'600'000;

constexpr std::string_view kConfig = R"([journey]
stages        = ["new", "active"]
initial_stage = "new"

[[journey.transition]]
on = "buy"
to = "active"

[experiment]
global_holdout = 0.05
salt           = "2026-q4"

[[program]]
name     = "tips"
on_event = "view"
channel  = "email"
priority = "promotional"
template = "tips-1"
goal     = { event = "buy", within = "1d" }
holdout  = 0.10

[[program]]
name     = "reset"
on_event = "forgot"
channel  = "email"
priority = "service"
template = "reset-1"

[pressure]
hierarchy = ["service", "promotional"]
exempt    = ["service"]

[pressure.quiet_hours]
start = "22:00"
end   = "08:00"

[[pressure.cap]]
channel = "email"
max     = 1
per     = "1d"

[pressure.rate]
email = 1
)";

// A customer id held out of "tips" (`held`) or not, the first found counting up.
std::string customer_where(const JourneyModel& model, bool held) {
    for (int i = 0;; ++i) {
        const std::string id = "c" + std::to_string(i);
        if ((holdout_of(model, 0, id) != Holdout::none) == held) return id;
    }
}

ContactRequest request(const std::string& customer, ProgramId program, const std::string& id,
                       TimeMs at) {
    ContactRequest r;
    r.decision_id = id;
    r.customer = customer;
    r.program = program;
    r.cause = "event:" + id;
    r.at = at;
    return r;
}

}  // namespace

TEST_CASE("holdout: shares within a point over 100,000 ids, stable, changed by the salt") {
    const Config config = test::config_from(std::string(kConfig));
    const JourneyModel& model = config.journey;
    JourneyModel resalted = model;
    resalted.experiment.salt = "2027-q1";
    int global = 0, own = 0, either = 0, moved = 0;
    constexpr int kIds = 100'000;
    for (int i = 0; i < kIds; ++i) {
        const std::string id = "customer-" + std::to_string(i);
        const bool g = in_global_holdout(model, id);
        global += g;
        own += in_program_holdout(model, 0, id);
        either += holdout_of(model, 0, id) != Holdout::none;
        // The same answer every time it is asked: a pure function of salt and id.
        CHECK(in_global_holdout(model, id) == g);
        moved += in_global_holdout(resalted, id) != g;
    }
    CHECK(std::abs(global / double(kIds) - 0.05) <= 0.01);
    CHECK(std::abs(own / double(kIds) - 0.10) <= 0.01);
    CHECK(std::abs(either / double(kIds) - held_out_share(model, config.pressure, 0)) <= 0.01);
    // Another salt assigns afresh: about 2 × 5% × 95% of the ids change group.
    CHECK(std::abs(moved / double(kIds) - 0.095) <= 0.01);
    CHECK(held_out_share(model, config.pressure, 1) == 0);  // "reset" is exempt
    CHECK(holdout_bucket("s", "a") != holdout_bucket("s", "a", "tips"));
}

TEST_CASE("holdout: a held-out request is decided in full and takes no effect") {
    const Config config = test::config_from(std::string(kConfig));
    const JourneyModel& model = config.journey;
    const std::string held = customer_where(model, true);
    const std::string treated = customer_where(model, false);
    PressureLedger ledger(config.pressure, model);
    std::vector<Decision> out;

    // Would have been sent: recorded as holdout, and neither its cap nor the rate is used.
    ledger.submit(request(held, 0, "h1", kNoon), kNoon, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].outcome == Outcome::suppress);
    CHECK(out[0].reason == "holdout");
    CHECK(out[0].would_have == Outcome::send);
    CHECK(ledger.contacts(held).empty());
    // The rate budget (1/s with a second of burst) is untouched: the treated customer is sent
    // at once, and the next held-out request would have been deferred by the rate.
    ledger.submit(request(treated, 0, "t1", kNoon), kNoon, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].outcome == Outcome::send);
    CHECK_FALSE(out[1].would_have);
    ledger.submit(request(treated + "x", 0, "t2", kNoon), kNoon, out);
    const bool other_held = holdout_of(model, 0, treated + "x") != Holdout::none;
    ledger.submit(request(held, 0, "h2", kNoon), kNoon, out);
    REQUIRE(out.size() == 4);
    CHECK(out[3].reason == "holdout");
    // Two sends took the two seconds of burst (unless the second customer is held out too).
    CHECK(out[3].would_have == (other_held ? Outcome::send : Outcome::defer));
    CHECK(ledger.held() == 0);  // the held-out one is not kept deferred

    // Would have been capped: a send for the customer first, as if by the same program.
    ledger.restore(held, {Contact{0, kNoon, true}});
    ledger.submit(request(held, 0, "h3", kNoon + 10'000), kNoon + 10'000, out);
    CHECK(out.back().reason == "holdout");
    CHECK(out.back().would_have == Outcome::suppress);
    CHECK(out.back().detail.find("cap") != std::string::npos);

    // Would have waited for the end of quiet hours: not kept either.
    const size_t before = ledger.held();
    ledger.submit(request(held, 0, "h4", kNoon + 11 * kHour), kNoon + 11 * kHour, out);
    CHECK(out.back().would_have == Outcome::defer);
    CHECK(out.back().detail.find("quiet_hours") != std::string::npos);
    CHECK(ledger.held() == before);

    // An exempt class is never held out.
    ledger.submit(request(held, 1, "r1", kNoon + 12 * kHour), kNoon + 12 * kHour, out);
    CHECK(out.back().outcome == Outcome::send);
    CHECK_FALSE(out.back().would_have);

    // The decision log keeps what it would have been.
    std::string error;
    const std::string encoded = encode_history({}, {out[0], out[1]}, model);
    auto decoded = decode_history(encoded, held, model, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(decoded->decisions[0].would_have == Outcome::send);
    CHECK_FALSE(decoded->decisions[1].would_have);
}

TEST_CASE("holdout: goal windows of both arms convert once, close at their end, are stored") {
    const Config config = test::config_from(std::string(kConfig));
    const JourneyModel& model = config.journey;
    const JourneyEngine engine(model);
    CustomerState c;
    c.id = "c";
    Effects effects;
    engine.apply(c, Event{"e1", "c", "view", kNoon, nullptr}, kNoon, effects);
    using Outcomes = std::vector<Effects::GoalOutcome>;

    REQUIRE(
        engine.open_goal_windows(c, GoalNotice{"d1", "c", kNoAction, kNoon, 0, false}, effects));
    CHECK(effects.outcomes == Outcomes{{GoalOf::program_treated, 0, ActionOutcome::sent}});
    CHECK_FALSE(
        engine.open_goal_windows(c, GoalNotice{"d1", "c", kNoAction, kNoon, 0, false}, effects));
    REQUIRE(
        engine.open_goal_windows(c, GoalNotice{"d2", "c", kNoAction, kNoon + 1, 0, true}, effects));
    CHECK(effects.outcomes == Outcomes{{GoalOf::program_control, 0, ActionOutcome::sent}});
    // A program without a goal opens nothing.
    CHECK_FALSE(
        engine.open_goal_windows(c, GoalNotice{"d3", "c", kNoAction, kNoon, 1, false}, effects));

    std::string error;
    auto decoded = decode_customer(encode_customer(c, model), model, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(*decoded == c);

    // The goal event converts both windows, once.
    engine.apply(c, Event{"e2", "c", "buy", kNoon + kHour, nullptr}, kNoon + kHour, effects);
    CHECK(effects.outcomes == Outcomes{{GoalOf::program_treated, 0, ActionOutcome::success},
                                       {GoalOf::program_control, 0, ActionOutcome::success}});
    engine.apply(c, Event{"e3", "c", "buy", kNoon + kHour, nullptr}, kNoon + kHour, effects);
    CHECK(effects.outcomes.empty());

    // A window without its goal closes unconverted at its end.
    REQUIRE(engine.open_goal_windows(
        c, GoalNotice{"d4", "c", kNoAction, kNoon + 2 * kHour, 0, true}, effects));
    CHECK(engine.next_due(c) <= kNoon + 2 * kHour + 24 * kHour);
    engine.fire_due(c, kNoon + 26 * kHour, effects);
    CHECK(effects.outcomes == Outcomes{{GoalOf::program_control, 0, ActionOutcome::failure}});
    CHECK(c.journey.goal_windows.empty());
}

TEST_CASE("holdout: notices and counters round trip") {
    const Config config = test::config_from(std::string(kConfig));
    const JourneyModel& model = config.journey;
    std::string error;
    const GoalNotice notice{"d1", "c", kNoAction, kNoon, 0, true};
    auto decoded = decode_notice(encode_notice(notice, model), model, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(decoded->program == 0);
    CHECK(decoded->control);
    CHECK(decoded->action == kNoAction);

    std::map<std::string, int64_t> counters{
        {program_decision_key("sent", {}, "a:b"), 7},
        {program_decision_key("deferred", {}, "a:b"), 2},
        {program_decision_key("suppressed", "holdout", "a:b"), 3},
        {program_decision_key("suppressed", "cap", "a:b"), 1},
        {program_goal_key(Arm::treated, ActionOutcome::sent, "a:b"), 7},
        {program_goal_key(Arm::treated, ActionOutcome::success, "a:b"), 2},
        {program_goal_key(Arm::control, ActionOutcome::failure, "a:b"), 1},
        {"active", 4},
    };
    const auto programs = program_counts(counters);
    REQUIRE(programs.size() == 1);
    const ProgramCounts& p = programs.at("a:b");
    CHECK(p.sent == 7);
    CHECK(p.deferred == 2);
    CHECK(p.suppressed.at("holdout") == 3);
    CHECK(p.requests() == 11);
    CHECK(p.treated.sent == 7);
    CHECK(p.treated.successes == 2);
    CHECK(p.control.failures == 1);
    // Program counters are not stages.
    StoreStats stats;
    add_counts(counters, stats);
    CHECK(stats.customers_in_stage.size() == 1);
}

TEST_CASE("uplift: Newcombe's hybrid score interval against a hand computation") {
    // Newcombe (1998), Statistics in Medicine 17:873-890, table II, example (a): 56/70 against
    // 48/80, method 10: 0.0524 to 0.3339.
    const auto lift = uplift(70, 56, 80, 48);
    REQUIRE(lift);
    CHECK(lift->absolute == Approx(0.2));
    CHECK(*lift->relative == Approx(0.2 / 0.6));
    CHECK(lift->ci95.first == Approx(0.0524).margin(0.00005));
    CHECK(lift->ci95.second == Approx(0.3339).margin(0.00005));
    // Example (e) of the same table: 0/10 against 0/20, −0.1611 to 0.2775; no relative uplift
    // of a control that never converts.
    const auto none = uplift(10, 0, 20, 0);
    REQUIRE(none);
    CHECK(none->ci95.first == Approx(-0.1611).margin(0.00005));
    CHECK(none->ci95.second == Approx(0.2775).margin(0.00005));
    CHECK_FALSE(none->relative);
    CHECK_FALSE(uplift(0, 0, 5, 1));
    // Wilson's interval by hand: 0 of 10 is [0, 3.84 / 13.84].
    CHECK(wilson_interval(0, 10).second == Approx(0.27753).margin(1e-4));
}

TEST_CASE("holdout: an action's control group: decided in full, its own window, not learned from") {
    const Config config = test::config_from(std::string(kConfig) + R"(
[[action]]
name     = "feature"
channel  = "push"
priority = "promotional"
template = "feature-1"
goal     = { event = "buy", within = "1d" }
holdout  = 0.5

[[program]]
name     = "nba"
on_event = "open"
action   = "best"
)");
    const JourneyModel& model = config.journey;
    const ProgramId nba = *model.program_id("nba");
    // A customer in the action's control group and in no other; and one in none.
    auto find = [&](bool held) {
        for (int i = 0;; ++i) {
            const std::string id = "a" + std::to_string(i);
            if (holdout_of(model, nba, id) == Holdout::none &&
                in_action_holdout(model, 0, id) == held)
                return id;
        }
    };
    const std::string held = find(true), treated = find(false);
    int in_group = 0;
    for (int i = 0; i < 10'000; ++i)
        in_group += in_action_holdout(model, 0, "x" + std::to_string(i));
    CHECK(std::abs(in_group / 10'000.0 - 0.5) <= 0.02);

    PressureLedger ledger(config.pressure, model);
    std::vector<Decision> out;
    auto best = [&](const std::string& customer, const std::string& id) {
        ContactRequest r = request(customer, nba, id, kNoon);
        r.candidates = {RankedAction{0, 0.5, 2.5}};
        return r;
    };
    ledger.submit(best(held, "h1"), kNoon, out);
    ledger.submit(best(treated, "t1"), kNoon, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].reason == "holdout");
    CHECK(out[0].would_have == Outcome::send);
    CHECK(out[0].held_out == Holdout::action);
    CHECK(out[0].action == 0);
    CHECK(out[0].detail.rfind("action holdout", 0) == 0);
    CHECK(ledger.contacts(held).empty());
    CHECK(out[1].outcome == Outcome::send);

    // The held-out customer's window is the action's control window, and only that.
    const JourneyEngine engine(model);
    CustomerState c;
    c.id = held;
    Effects effects;
    engine.apply(c, Event{"e1", held, "open", kNoon, nullptr}, kNoon, effects);
    REQUIRE(engine.open_goal_windows(c, GoalNotice{"h1", held, 0, kNoon, nba, true}, effects));
    using Outcomes = std::vector<Effects::GoalOutcome>;
    CHECK(effects.outcomes == Outcomes{{GoalOf::action_control, 0, ActionOutcome::sent}});
    std::string error;
    auto decoded = decode_customer(encode_customer(c, model), model, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(*decoded == c);
    engine.apply(c, Event{"e2", held, "buy", kNoon + kHour, nullptr}, kNoon + kHour, effects);
    CHECK(effects.outcomes == Outcomes{{GoalOf::action_control, 0, ActionOutcome::success}});

    // Its counters are the action's control counters, apart from what propensities learn from.
    StoreStats stats;
    add_counts({{action_counter_key("feature", ActionOutcome::sent, true), 3},
                {action_counter_key("feature", ActionOutcome::success, true), 1},
                {action_counter_key("feature", ActionOutcome::sent), 5}},
               stats);
    CHECK(stats.actions.at("feature").sent == 5);
    CHECK(stats.action_controls.at("feature").sent == 3);
    CHECK(stats.action_controls.at("feature").successes == 1);
}
