// Next best actions in plain C++: the catalogue's configuration errors, ranking (Thompson
// draws seeded by the decision id, greedy means), learning from outcomes, the pressure-aware
// choice of the ledger (caps, consent, cooldowns), and goal windows in the engine and the
// customer's record.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "config/config.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/decisioning/action_ranking.hpp"
#include "state/decisioning/action_totals.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/journey/program_requests.hpp"
#include "state/pressure/pressure_ledger.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kDay = 86'400'000;
constexpr TimeMs kNoon = 1'700'049'600'000;  // 2023-11-15 12:00 UTC

constexpr std::string_view kBase = R"([journey]
stages        = ["new", "exploring"]
initial_stage = "new"

[[journey.transition]]
on = "view"
to = "exploring"

[pressure]
hierarchy = ["service", "promotional"]
exempt    = ["service"]

[[pressure.cap]]
channel = "push"
max     = 1
per     = "1d"
)";

constexpr std::string_view kCatalogue = R"(
[[action]]
name     = "sell"
channel  = "push"
priority = "promotional"
template = "sell-1"
value    = 5
goal     = { event = "ad_placed", within = "3d" }
cooldown = "2d"

[[action]]
name     = "profile"
channel  = "email"
priority = "promotional"
template = "profile-1"
when     = [ { stage = ["exploring"] } ]
goal     = { event = "profile", within = "7d" }

[[program]]
name     = "nba"
on_event = "app_open"
action   = "best"
)";

Config config_with(const std::string& extra) {
    return test::config_from(std::string(kBase) + extra);
}

// The errors of the base (whose last line is 16) with `extra` appended, "LINE: message" each.
std::vector<std::string> errors_of(const std::string& extra) {
    ConfigResult result = load_config_text(std::string(kBase) + extra, "t.toml");
    std::vector<std::string> errors;
    for (const ConfigError& e : result.errors)
        errors.push_back(std::to_string(e.line) + ": " + e.message);
    return errors;
}

ContactRequest best_request(const JourneyModel& model, const std::string& id,
                            std::vector<RankedAction> candidates) {
    ContactRequest r;
    r.decision_id = id;
    r.customer = "c";
    r.program = *model.program_id("nba");
    r.cause = "event:" + id;
    r.candidates = std::move(candidates);
    return r;
}

std::string outcome_of(const Decision& d) {
    return std::string(to_string(d.outcome)) + ":" + d.reason;
}

}  // namespace

TEST_CASE("actions: the catalogue and best programs as configured, errors with their lines") {
    const Config config = config_with(std::string(kCatalogue));
    const JourneyModel& model = config.journey;
    REQUIRE(model.actions.size() == 2);
    CHECK(model.actions[0].goal.within == 3 * kDay);
    CHECK(model.actions[0].cooldown == 2 * kDay);
    CHECK(model.actions[1].value == 1);
    const Program& nba = model.programs[0];
    CHECK(nba.best_action);
    CHECK(nba.candidates == std::vector<ActionId>{0, 1});
    CHECK(model.explore == Explore::thompson);

    const std::string action =
        "[[action]]\nname = \"a\"\nchannel = \"push\"\n"
        "priority = \"promotional\"\ntemplate = \"t\"\n";
    CHECK(errors_of(action) ==
          std::vector<std::string>{"17: [[action]] needs goal = { event = \"...\", within = "
                                   "\"...\" }: its propensity is learned from it"});
    CHECK(errors_of(action + "goal = { event = \"x\", within = \"3d\" }\nvalue = 0\n") ==
          std::vector<std::string>{"23: \"value\" in [[action]] must be a number above 0"});
    CHECK(errors_of(action + "goal = { event = \"x\", within = \"3d\", by = 1 }\n") ==
          std::vector<std::string>{
              "22: unknown key \"by\" in [[action]].goal (known keys: event, within)"});
    const std::string goal = "goal = { event = \"x\", within = \"3d\" }\n";
    CHECK(errors_of(action + goal +
                    "[[program]]\nname = \"p\"\non_event = \"o\"\naction = \"best\"\n"
                    "actions = [\"a\", \"b\"]\n") ==
          std::vector<std::string>{"27: unknown action \"b\""});
    CHECK(errors_of(action + goal +
                    "[[program]]\nname = \"p\"\non_event = \"o\"\naction = \"top\"\n") ==
          std::vector<std::string>{"26: action of [[program]] must be \"best\", not \"top\""});
    CHECK(errors_of(action + goal +
                    "[[program]]\nname = \"p\"\non_event = \"o\"\naction = \"best\"\n"
                    "channel = \"push\"\n") ==
          std::vector<std::string>{"27: channel of [[program]] comes from the chosen action "
                                   "with action = \"best\"; remove it"});
    CHECK(errors_of("[[program]]\nname = \"p\"\non_event = \"o\"\naction = \"best\"\n") ==
          std::vector<std::string>{"20: action = \"best\" needs at least one [[action]]"});
    CHECK(errors_of("[decisioning]\nexplore = \"random\"\n") ==
          std::vector<std::string>{
              "18: explore in [decisioning] must be \"thompson\" or \"greedy\", not \"random\""});
    CHECK(errors_of(action + "goal = { event = \"x\", within = \"3d\" }\n"
                             "when = [ { segment = \"none\" } ]\n") ==
          std::vector<std::string>{"23: unknown segment \"none\""});
}

TEST_CASE("actions: a Thompson draw is the same for the same decision id, greedy is the mean") {
    const ActionCounts counts{100, 30, 60};
    const uint64_t seed = draw_seed("0123abcd", "sell");
    CHECK(propensity_draw(counts, seed) == propensity_draw(counts, seed));
    CHECK(propensity_draw(counts, seed) != propensity_draw(counts, draw_seed("0123abce", "sell")));
    CHECK(propensity_mean(counts) == Approx(31.0 / 92.0));
    const auto [low, high] = propensity_interval(counts);
    CHECK(low < propensity_mean(counts));
    CHECK(high > propensity_mean(counts));
    CHECK(low == Approx(0.245).margin(0.01));
    CHECK(high == Approx(0.437).margin(0.01));
    // Draws spread around the mean.
    double sum = 0;
    for (int i = 0; i < 2000; ++i)
        sum += propensity_draw(counts, draw_seed("d" + std::to_string(i), "sell"));
    CHECK(sum / 2000 == Approx(propensity_mean(counts)).margin(0.01));

    Config config = config_with(std::string(kCatalogue));
    CustomerState customer;
    customer.id = "c";
    customer.journey.created = true;
    customer.journey.stage = *config.journey.stage_id("exploring");
    const std::vector<ActionCounts> totals{{50, 10, 40}, {50, 40, 10}};
    const Program& nba = config.journey.programs[0];
    const auto a = rank_actions(customer, config.journey, nba, totals, "d1", kNoon);
    CHECK(a.size() == 2);
    CHECK(a == rank_actions(customer, config.journey, nba, totals, "d1", kNoon));
    config.journey.explore = Explore::greedy;
    const auto greedy = rank_actions(customer, config.journey, nba, totals, "d1", kNoon);
    REQUIRE(greedy.size() == 2);
    CHECK(greedy[0].action == 0);  // 11/52 * 5 beats 41/52 * 1
    CHECK(greedy[0].score == Approx(11.0 / 52.0 * 5));
    // Not eligible: `profile` only in exploring.
    customer.journey.stage = 0;
    CHECK(rank_actions(customer, config.journey, nba, totals, "d1", kNoon).size() == 1);
}

// The issue's learning test: two actions of equal value whose customers convert 2% and 8%.
TEST_CASE("actions: Thompson sampling learns the better of two actions from outcomes") {
    Config config = config_with(R"(
[[action]]
name = "weak"
channel = "push"
priority = "promotional"
template = "w"
goal = { event = "ad_placed", within = "3d" }

[[action]]
name = "strong"
channel = "push"
priority = "promotional"
template = "s"
goal = { event = "ad_placed", within = "3d" }

[[program]]
name = "nba"
on_event = "app_open"
action = "best"
)");
    const JourneyModel& model = config.journey;
    CustomerState customer;
    customer.id = "c";
    std::vector<ActionCounts> totals(2);
    const double converts[] = {0.02, 0.08};
    std::mt19937_64 world(7);
    std::uniform_real_distribution<double> chance(0, 1);
    int strong_in_last = 0;
    for (int decision = 0; decision < 5000; ++decision) {
        const auto ranked =
            rank_actions(customer, model, model.programs[0], totals,
                         make_decision_id("c", "nba", std::to_string(decision)), kNoon);
        const ActionId chosen = ranked.front().action;
        ++totals[chosen].sent;
        if (chance(world) < converts[chosen])
            ++totals[chosen].successes;
        else
            ++totals[chosen].failures;
        if (decision >= 4000 && chosen == 1) ++strong_in_last;
    }
    INFO("strong sent " << totals[1].sent << ", weak sent " << totals[0].sent);
    CHECK(strong_in_last >= 800);
}

TEST_CASE("actions: the ledger sends the best action the pressure rules allow, and says why") {
    const Config config = config_with(std::string(kCatalogue));
    const JourneyModel& model = config.journey;
    PressureLedger ledger(config.pressure, model);
    const std::vector<RankedAction> both{{0, 0.5, 2.5}, {1, 0.5, 0.5}};
    std::vector<Decision> out;

    ledger.submit(best_request(model, "d1", both), kNoon, out);
    REQUIRE(out.size() == 1);
    CHECK(outcome_of(out[0]) == "send:ok");
    CHECK(out[0].action == 0);
    CHECK(out[0].candidates == both);
    CHECK(out[0].skipped.empty());

    // The push cap (1 a day) and the cooldown (2 days) both refuse "sell" now: the next one goes.
    out.clear();
    ledger.submit(best_request(model, "d2", both), kNoon + 1000, out);
    REQUIRE(out.size() == 1);
    CHECK(outcome_of(out[0]) == "send:ok");
    CHECK(out[0].action == 1);
    REQUIRE(out[0].skipped.size() == 1);
    CHECK(out[0].skipped[0] == SkippedAction{0, "cooldown"});

    // A day later the cap has room, the cooldown not yet.
    out.clear();
    ledger.submit(best_request(model, "d3", {{0, 0.5, 2.5}}), kNoon + kDay + 1000, out);
    REQUIRE(out.size() == 1);
    CHECK(outcome_of(out[0]) == "suppress:cooldown");
    CHECK(out[0].action == 0);
    CHECK(out[0].detail.rfind("sell: sell sent at", 0) == 0);

    // Consent refused for email: skipped for the next, here none, so the best one's reason.
    out.clear();
    ContactRequest refused = best_request(model, "d4", {{1, 0.5, 0.5}, {0, 0.1, 0.5}});
    refused.preferences.refused_channels = {"email"};
    ledger.submit(refused, kNoon + 3 * kDay, out);
    REQUIRE(out.size() == 1);
    CHECK(outcome_of(out[0]) == "send:ok");
    CHECK(out[0].action == 0);
    CHECK(out[0].skipped == std::vector<SkippedAction>{{1, "consent"}});

    out.clear();
    ledger.submit(best_request(model, "d5", {{0, 0.5, 2.5}}), kNoon + 3 * kDay + 1, out);
    REQUIRE(out.size() == 1);
    CHECK(outcome_of(out[0]) == "suppress:cooldown");

    // Sends are remembered as long as the longest cap or cooldown, with their action, whose
    // channel the caps count them on.
    const std::vector<Contact> sends = ledger.contacts("c");
    REQUIRE(sends.size() == 1);
    CHECK(sends[0].action == 0);
    CHECK(model.channel_of(sends[0].program, sends[0].action) == "push");
}

TEST_CASE("actions: a deferred request chooses again, and asks the budget of its new channel") {
    const Config config =
        config_with(std::string(kCatalogue) + "\n[pressure.rate]\npush = 1\nemail = 100\n");
    const JourneyModel& model = config.journey;
    PressureLedger ledger(config.pressure, model);
    const std::vector<RankedAction> both{{0, 0.5, 2.5}, {1, 0.5, 0.5}};
    std::vector<Decision> out;
    // One push a second with a second of burst: the third push waits for its slot.
    for (const char* customer : {"a", "b", "c"}) {
        ContactRequest r = best_request(model, customer, both);
        r.customer = customer;
        ledger.submit(r, kNoon, out);
    }
    REQUIRE(out.size() == 3);
    CHECK(outcome_of(out[2]) == "defer:rate");
    CHECK(out[2].action == 0);
    ledger.take_rate_demand();
    // Meanwhile "c" refuses push: the request sends "profile" by email, with an email slot.
    ledger.set_preferences("c", ContactPreferences{"", {"push"}});
    out.clear();
    ledger.advance(kNoon + 2000, out);
    REQUIRE(out.size() == 1);
    CHECK(outcome_of(out[0]) == "send:ok");
    CHECK(out[0].action == 1);
    CHECK(out[0].skipped == std::vector<SkippedAction>{{0, "consent"}});
    CHECK(ledger.take_rate_demand()["email"] == 1);
}

TEST_CASE("actions: goal windows count a success once, a failure at their end, in the record") {
    const Config config = config_with(std::string(kCatalogue));
    const JourneyEngine engine(config.journey);
    CustomerState c;
    c.id = "c";
    Effects effects;
    engine.apply(c, Event{"e1", "c", "view", kNoon, nullptr}, kNoon, effects);

    using Outcomes = std::vector<Effects::GoalOutcome>;
    REQUIRE(engine.open_goal_windows(c, GoalNotice{"d11", "c", 0, kNoon}, effects));
    CHECK(effects.outcomes == Outcomes{{GoalOf::action, 0, ActionOutcome::sent}});
    // The same decision again.
    CHECK_FALSE(engine.open_goal_windows(c, GoalNotice{"d11", "c", 0, kNoon}, effects));
    CHECK(effects.outcomes.empty());
    REQUIRE(engine.open_goal_windows(c, GoalNotice{"d12", "c", 1, kNoon}, effects));
    CHECK(engine.next_due(c) == kNoon + 3 * kDay);

    std::string error;
    auto decoded = decode_customer(encode_customer(c, config.journey), config.journey, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(*decoded == c);

    // The goal event of "sell" inside its window: a success; "profile" stays open.
    engine.apply(c, Event{"e2", "c", "ad_placed", kNoon + kDay, nullptr}, kNoon + kDay, effects);
    CHECK(effects.outcomes == Outcomes{{GoalOf::action, 0, ActionOutcome::success}});
    engine.apply(c, Event{"e3", "c", "ad_placed", kNoon + kDay, nullptr}, kNoon + kDay, effects);
    CHECK(effects.outcomes.empty());  // counted once
    REQUIRE(c.journey.goal_windows.size() == 1);

    // "profile" closes after 7 days without its goal: a failure, fired like a timer.
    CHECK(engine.next_due(c) == kNoon + 7 * kDay);
    engine.fire_due(c, kNoon + 7 * kDay, effects);
    CHECK(effects.outcomes == Outcomes{{GoalOf::action, 1, ActionOutcome::failure}});
    CHECK(effects.timers_fired >= 1);
    CHECK(c.journey.goal_windows.empty());
}

TEST_CASE("actions: a best program's request carries its eligible actions, or is dropped") {
    const Config config = config_with(std::string(kCatalogue));
    const JourneyEngine engine(config.journey);
    CustomerState c;
    c.id = "c";
    Effects effects;
    engine.apply(c, Event{"e1", "c", "app_open", kNoon, nullptr}, kNoon, effects);
    auto requests = contact_requests(c, config.journey, effects);
    REQUIRE(requests.size() == 1);
    REQUIRE(requests[0].candidates.size() == 1);  // "profile" wants exploring
    CHECK(requests[0].candidates[0].action == 0);
    CHECK(requests[0].dropped_reason.empty());

    Config none = config_with(R"(
[[action]]
name = "later"
channel = "push"
priority = "promotional"
template = "l"
when = [ { stage = ["exploring"] } ]
goal = { event = "x", within = "1d" }

[[program]]
name = "nba"
on_event = "app_open"
action = "best"
)");
    const JourneyEngine engine2(none.journey);
    CustomerState d;
    d.id = "d";
    engine2.apply(d, Event{"e1", "d", "app_open", kNoon, nullptr}, kNoon, effects);
    requests = contact_requests(d, none.journey, effects);
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].dropped_reason == "no_action");
}

TEST_CASE("actions: totals add this node's outcomes to what the other members reported") {
    const Config config = config_with(std::string(kCatalogue));
    auto others = std::make_shared<RemoteCounters>(3);
    ActionTotals totals(config.journey, others);
    totals.load({{"sell", ActionCounts{10, 2, 5}}, {"gone", ActionCounts{1, 1, 0}}});
    totals.add(0, ActionOutcome::sent);
    totals.add(1, ActionOutcome::failure, 2);
    auto counts = totals.snapshot();
    REQUIRE(counts.size() == 2);
    CHECK(counts[0].sent == 11);
    CHECK(counts[0].successes == 2);
    CHECK(counts[1].failures == 2);

    others->report(1, {{action_counter_key("sell", ActionOutcome::success), 4},
                       {action_counter_key("profile", ActionOutcome::sent), 7},
                       {"active", 12}});
    others->report(2, {{action_counter_key("sell", ActionOutcome::success), 1}});
    counts = totals.snapshot();
    CHECK(counts[0].successes == 2 + 4 + 1);
    CHECK(counts[1].sent == 7);
    // A later report replaces the member's earlier one.
    others->report(2, {{action_counter_key("sell", ActionOutcome::success), 3}});
    CHECK(totals.snapshot()[0].successes == 2 + 4 + 3);
}
