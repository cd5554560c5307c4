#include "state/journey/journey_engine.hpp"

#include <catch2/catch.hpp>

#include "state/journey/program_requests.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kHour = 3'600'000;
constexpr TimeMs kDay = 24 * kHour;
constexpr TimeMs kStart = 1'700'000'000'000;  // an arbitrary real instant

struct Harness {
    explicit Harness(const std::string& toml = test::kTestJourney)
        : engine(test::config_from(toml).journey) {
        customer.id = "c1";
    }

    const Effects& send(const std::string& type, TimeMs now, TimeMs ts = -1,
                        nlohmann::json attrs = nullptr) {
        Event e{"e" + std::to_string(++next_id), customer.id, type, ts < 0 ? now : ts,
                std::move(attrs)};
        engine.apply(customer, e, now, effects);
        return effects;
    }

    const Effects& fire(TimeMs now) {
        engine.fire_due(customer, now, effects);
        return effects;
    }

    std::string stage() const { return engine.model().stages[customer.journey.stage]; }
    std::string program(ProgramId p) const { return engine.model().programs[p].name; }

    std::vector<std::string> requested() const {
        std::vector<std::string> names;
        for (const ProgramRequest& r : effects.requests) names.push_back(program(r.program));
        return names;
    }

    std::vector<std::string> pending_timers() const {
        std::vector<std::string> names;
        for (const PendingTimer& t : customer.journey.timers) names.push_back(engine.timer_name(t));
        std::sort(names.begin(), names.end());
        return names;
    }

    JourneyEngine engine;
    CustomerState customer;
    Effects effects;
    int next_id = 0;
};

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("the first event creates the customer in the initial stage, then applies") {
    Harness h;
    const Effects& fx = h.send("login", kStart);
    CHECK(h.stage() == "new");
    CHECK(h.customer.journey.events_seen == 1);
    CHECK(h.customer.journey.stage_since == kStart);
    REQUIRE(fx.stage_changes.size() == 1);
    CHECK_FALSE(fx.stage_changes[0].had_stage);
    CHECK(h.requested() == Names{"welcome"});
    CHECK(fx.requests[0].cause == "event:e1");
}

TEST_CASE("a first event that matches a transition enters both stages in order") {
    Harness h;
    const Effects& fx = h.send("search", kStart);
    CHECK(h.stage() == "exploring");
    REQUIRE(fx.stage_changes.size() == 2);
    CHECK(fx.stage_changes[1].had_stage);
    CHECK(fx.stage_changes[1].from == 0);
    CHECK(h.requested() == Names{"welcome"});  // nudge waits out its delay
    CHECK(h.pending_timers() == Names{"delay:nudge", "lapse"});
}

TEST_CASE("the first matching transition in file order wins") {
    Harness h;
    h.send("ad_placed", kStart);
    REQUIRE(h.stage() == "active");
    // Rule 1 (from new/dormant) does not match in active; the catch-all rule 4 does.
    h.send("search", kStart + kHour);
    CHECK(h.stage() == "exploring");
}

TEST_CASE("a transition to the current stage does not match and changes nothing") {
    Harness h;
    h.send("search", kStart);
    const TimeMs since = h.customer.journey.stage_since;
    const Effects& fx = h.send("search", kStart + kHour);
    CHECK(h.stage() == "exploring");
    CHECK(fx.stage_changes.empty());
    CHECK(h.customer.journey.stage_since == since);
    CHECK(h.pending_timers() == Names{"delay:nudge", "lapse"});  // the visit's nudge still waits
}

TEST_CASE("count/within: the third event inside the rolling window moves the customer") {
    Harness h;
    h.send("ad_placed", kStart);  // new -> active, hit 1
    REQUIRE(h.stage() == "active");
    h.send("sale", kStart + 10 * kDay);  // hit 2
    CHECK(h.stage() == "active");
    h.send("ad_placed", kStart + 20 * kDay);  // hit 3 within 30d of hit 1
    CHECK(h.stage() == "loyal");
}

TEST_CASE("count/within: hits spread wider than the window do not count together") {
    Harness h;
    h.send("ad_placed", kStart);
    h.send("ad_placed", kStart + 20 * kDay);
    h.send("ad_placed", kStart + 40 * kDay);  // 40d span: no 3 hits inside 30d
    CHECK(h.stage() == "active");
    h.send("ad_placed", kStart + 45 * kDay);  // 20d, 40d, 45d
    CHECK(h.stage() == "loyal");
}

TEST_CASE("count/within uses event time: a late event completes the window where it belongs") {
    Harness h;
    h.send("ad_placed", kStart, kStart + 1 * kDay);
    h.send("ad_placed", kStart + kHour, kStart + 2 * kDay);
    REQUIRE(h.stage() == "active");
    // Arrives last, happened first: days 0.5, 1 and 2 are three hits within 30d.
    h.send("ad_placed", kStart + 2 * kHour, kStart + kDay / 2);
    CHECK(h.stage() == "loyal");
}

TEST_CASE("count/within: out-of-order events do not corrupt the window") {
    Harness h;
    h.send("ad_placed", kStart, kStart + 50 * kDay);
    // Far older than one window behind the newest: counted as seen, not as a hit.
    h.send("ad_placed", kStart + kHour, kStart);
    h.send("ad_placed", kStart + 2 * kHour, kStart + 1 * kDay);
    CHECK(h.stage() == "active");
    CHECK(h.customer.journey.last_event_ts == kStart + 50 * kDay);
    CHECK(h.customer.journey.events_seen == 3);
    // The window is still intact for events in their place.
    h.send("ad_placed", kStart + 3 * kHour, kStart + 51 * kDay);
    CHECK(h.stage() == "active");
    h.send("sale", kStart + 4 * kHour, kStart + 49 * kDay);
    CHECK(h.stage() == "loyal");
}

TEST_CASE("count/within remembers a bounded number of hits under a flood") {
    Harness h;
    h.send("ad_placed", kStart);
    for (int i = 0; i < 1000; ++i) h.send("message_sent", kStart + i);  // not a counted type
    CHECK(h.customer.journey.window_hits.size() == 1);
    Harness flood;
    flood.send("ad_placed", kStart);
    flood.customer.journey.stage = *flood.engine.model().stage_id("dormant");
    for (int i = 0; i < 1000; ++i) flood.send("sale", kStart + i);
    CHECK(flood.customer.journey.window_hits.size() <= 6);
}

TEST_CASE("inactivity timers re-arm on every event and fire after the quiet period") {
    Harness h;
    h.send("search", kStart);
    auto lapse_due = [&] {
        for (const PendingTimer& t : h.customer.journey.timers)
            if (t.kind == TimerKind::inactivity) return t.due;
        return TimeMs{-1};
    };
    CHECK(lapse_due() == kStart + 30 * kDay);
    h.fire(kStart + 2 * kDay);  // the nudge fires, the lapse does not
    h.send("view", kStart + 10 * kDay);
    CHECK(lapse_due() == kStart + 40 * kDay);
    CHECK(h.engine.next_due(h.customer) == kStart + 40 * kDay);

    h.fire(kStart + 39 * kDay);
    CHECK(h.stage() == "exploring");
    const Effects& fx = h.fire(kStart + 41 * kDay);
    CHECK(h.stage() == "dormant");
    CHECK(h.customer.journey.stage_since == kStart + 40 * kDay);  // when it was due
    CHECK(h.requested() == Names{"winback"});
    CHECK(fx.requests[0].cause == "timer:lapse@" + std::to_string(kStart + 40 * kDay));
    CHECK(h.pending_timers().empty());
    CHECK_FALSE(h.engine.next_due(h.customer).has_value());
}

TEST_CASE("inactivity is measured in processing time, not event time") {
    Harness h;
    h.send("search", kStart, kStart - 365 * kDay);          // a backfilled event from last year
    CHECK(h.engine.next_due(h.customer) == kStart + kDay);  // the nudge, then the lapse
    h.fire(kStart + kDay);
    CHECK(h.stage() == "exploring");
}

TEST_CASE("a delayed on_enter program fires when due if the customer stayed") {
    Harness h;
    h.send("search", kStart);
    h.fire(kStart + kDay - 1);
    CHECK(h.effects.requests.empty());
    h.fire(kStart + kDay);
    CHECK(h.requested() == Names{"nudge"});
    CHECK(h.effects.requests[0].cause == "event:e1");
    CHECK(h.pending_timers() == Names{"lapse"});
}

TEST_CASE("a delayed on_enter program is dropped with left_stage when the customer leaves") {
    Harness h;
    h.send("search", kStart);
    const Effects& fx = h.send("ad_placed", kStart + kHour);
    CHECK(h.stage() == "active");
    REQUIRE(fx.drops.size() == 1);
    CHECK(h.program(fx.drops[0].program) == "nudge");
    CHECK(fx.drops[0].reason == "left_stage");
    CHECK(fx.drops[0].cause == "event:e1");
    CHECK(h.pending_timers() == Names{"lapse"});
    // Coming back to exploring is a new visit: its own nudge, not the old one.
    h.send("search", kStart + 2 * kHour);
    h.fire(kStart + kDay);
    CHECK(h.effects.requests.empty());
    h.fire(kStart + 2 * kHour + kDay);
    CHECK(h.requested() == Names{"nudge"});
    CHECK(h.effects.requests[0].cause == "event:e3");
}

TEST_CASE("on_event programs are requested after the event is applied") {
    Harness h;
    h.send("login", kStart);
    const Effects& fx = h.send("password_reset", kStart + 1);
    CHECK(h.requested() == Names{"reset"});
    CHECK(fx.requests[0].cause == "event:e2");
    CHECK(fx.requests[0].at == kStart + 1);
}

TEST_CASE("profile events merge attrs; other events leave the profile alone") {
    Harness h;
    h.send("profile", kStart, -1, {{"tz", "Europe/Amsterdam"}, {"consent", {{"email", false}}}});
    h.send("profile", kStart + 1, -1, {{"consent", {{"sms", false}}}, {"plan", "pro"}});
    h.send("search", kStart + 2, -1, {{"plan", "free"}});
    const Profile& p = h.customer.profile;
    CHECK(p.time_zone() == "Europe/Amsterdam");
    CHECK_FALSE(p.consents_to("email"));
    CHECK_FALSE(p.consents_to("sms"));
    CHECK(p.consents_to("push"));
    CHECK(p.attrs()["plan"] == "pro");
}

TEST_CASE("an event id already applied is a duplicate and changes nothing") {
    Harness h;
    Event e{"same", "c1", "search", kStart, nullptr};
    h.engine.apply(h.customer, e, kStart, h.effects);
    const CustomerState before = h.customer;
    h.engine.apply(h.customer, e, kStart + 5, h.effects);
    CHECK(h.effects.outcome == ApplyOutcome::duplicate);
    CHECK_FALSE(h.effects.changed_state());
    CHECK(h.effects.requests.empty());
    CHECK(h.customer == before);
}

TEST_CASE("recent event ids are bounded: the oldest is forgotten first") {
    RecentEventIds ids;
    for (uint64_t i = 0; i < RecentEventIds::kCapacity + 3; ++i) ids.remember(i);
    CHECK(ids.ring().size() == RecentEventIds::kCapacity);
    CHECK_FALSE(ids.contains(0));
    CHECK_FALSE(ids.contains(2));
    CHECK(ids.contains(3));
    CHECK(ids.contains(RecentEventIds::kCapacity + 2));
}

TEST_CASE("the default journey takes a scripted customer through all five stages") {
    ConfigResult loaded = load_default_config();
    REQUIRE(loaded.errors.empty());
    JourneyEngine engine(loaded.config->journey);
    CustomerState c;
    c.id = "scripted";
    Effects fx;
    Names entered, requested;
    auto record = [&] {
        for (const StageChange& s : fx.stage_changes)
            entered.push_back(engine.model().stages[s.to]);
        for (const ProgramRequest& r : fx.requests)
            requested.push_back(engine.model().programs[r.program].name);
    };
    int n = 0;
    auto send = [&](const std::string& type, TimeMs now) {
        engine.apply(c, Event{"s" + std::to_string(++n), c.id, type, now, nullptr}, now, fx);
        record();
    };
    send("signup", kStart);
    send("search", kStart + kHour);
    engine.fire_due(c, kStart + kHour + kDay, fx);  // first_listing_nudge
    record();
    send("ad_placed", kStart + 2 * kDay);
    send("sale", kStart + 3 * kDay);
    send("ad_placed", kStart + 4 * kDay);
    engine.fire_due(c, kStart + 40 * kDay, fx);  // 30 days of silence
    record();
    send("message_received", kStart + 41 * kDay);
    send("view", kStart + 42 * kDay);

    CHECK(entered == Names{"new", "exploring", "active", "loyal", "dormant", "exploring"});
    CHECK(requested == Names{"welcome", "first_listing_nudge", "seller_tips", "loyalty_thanks",
                             "winback", "message_received"});
    CHECK(c.journey.events_seen == 7);
}

TEST_CASE("contact requests say whether the event created the customer") {
    Harness h;
    h.send("search", kStart);  // creates the customer in "new": welcome; then on to exploring
    auto requests = contact_requests(h.customer, h.engine.model(), h.effects);
    REQUIRE_FALSE(requests.empty());
    for (const ContactRequest& r : requests) CHECK(r.new_customer);
    h.send("password_reset", kStart + kHour);
    requests = contact_requests(h.customer, h.engine.model(), h.effects);
    REQUIRE(requests.size() == 1);
    CHECK_FALSE(requests.front().new_customer);
}
