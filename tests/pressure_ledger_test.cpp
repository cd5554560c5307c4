#include "state/pressure/pressure_ledger.hpp"

#include <date/tz.h>
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kMinute = 60'000;
constexpr TimeMs kHour = 60 * kMinute;
constexpr TimeMs kDay = 24 * kHour;
// Monday 1 June 2026, 12:00 UTC: midday, outside quiet hours in UTC.
constexpr TimeMs kNoon = 1'780'315'200'000;

std::string pressure_toml(const std::string& pressure) {
    return R"(
[journey]
stages = ["new"]
initial_stage = "new"

[rhythm]
engagement = ["browse"]

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "w"

[[program]]
name = "promo"
on_event = "browse"
channel = "email"
priority = "promotional"
template = "p"

[[program]]
name = "reset"
on_event = "password_reset"
channel = "email"
priority = "service"
template = "r"

[[program]]
name = "ping"
on_event = "message"
channel = "push"
priority = "transactional"
template = "m"

[[program]]
name = "promo2"
on_event = "browse"
channel = "push"
priority = "promotional"
template = "p2"

[[program]]
name = "digest"
on_event = "digest"
channel = "email"
priority = "promotional"
template = "dg"
send_at = "best_hour"
send_within = "24h"
)" + pressure;
}

const char* kDefaultPressure = R"(
[pressure]
hierarchy = ["service", "transactional", "lifecycle", "promotional"]
exempt = ["service"]
arbitration_window = "0s"
quiet_hours = { start = "22:00", end = "08:00" }

[[pressure.cap]]
channel = "email"
max = 2
per = "7d"

[[pressure.cap]]
channel = "*"
max = 3
per = "7d"
)";

enum TestProgram : ProgramId { kWelcome, kPromo, kReset, kPing, kPromo2, kDigest };

// Send hours whose heaviest is `best` (local), the next `second`, the rest nothing.
SendHours hours_favouring(int best, int second = -1) {
    HourWeights weights{};
    weights[best] = 10;
    if (second >= 0) weights[second] = 5;
    return send_hours_of(weights);
}

struct LedgerHarness {
    explicit LedgerHarness(const std::string& pressure = kDefaultPressure)
        : config(test::config_from(pressure_toml(pressure))),
          ledger(config.pressure, config.journey) {}

    // Submits and returns the decisions made at once.
    std::vector<Decision> request(ProgramId program, TimeMs now,
                                  const std::string& customer = "c") {
        std::vector<Decision> out;
        ledger.submit(made(program, now, customer), now, out);
        return out;
    }

    // A digest request made at `at` with `hours`, submitted at `now` (later: as after a restart).
    std::vector<Decision> digest(const SendHours& hours, TimeMs at, TimeMs now,
                                 const std::string& id = "dg") {
        ContactRequest request = made(kDigest, at, "c");
        request.decision_id = id;
        request.send_hours = hours;
        std::vector<Decision> out;
        ledger.submit(std::move(request), now, out);
        return out;
    }

    ContactRequest made(ProgramId program, TimeMs at, const std::string& customer) {
        return ContactRequest{"d" + std::to_string(++next),
                              customer,
                              program,
                              "event:" + std::to_string(next),
                              at,
                              {},
                              preferences[customer]};
    }

    // As a profile event does: for the requests to come and those held.
    void set_preferences(const std::string& customer, ContactPreferences p) {
        preferences[customer] = p;
        ledger.set_preferences(customer, std::move(p));
    }

    std::vector<Decision> advance(TimeMs now) {
        std::vector<Decision> out;
        ledger.advance(now, out);
        return out;
    }

    Config config;
    PressureLedger ledger;
    std::map<std::string, ContactPreferences> preferences;
    int next = 0;
};

std::string outcome_of(const std::vector<Decision>& decisions) {
    REQUIRE(decisions.size() == 1);
    return std::string(to_string(decisions[0].outcome)) + ":" + decisions[0].reason;
}

}  // namespace

TEST_CASE("ledger: rolling caps per channel and for all channels are exact") {
    LedgerHarness h;
    CHECK(outcome_of(h.request(kWelcome, kNoon)) == "send:ok");
    CHECK(outcome_of(h.request(kPromo, kNoon + kDay)) == "send:ok");
    const auto capped = h.request(kPromo, kNoon + 2 * kDay);
    CHECK(outcome_of(capped) == "suppress:cap");
    CHECK(capped[0].detail == "email 2 per 604800s reached");
    CHECK(outcome_of(h.request(kPing, kNoon + 2 * kDay)) == "send:ok");         // "*" has room: 3rd
    CHECK(outcome_of(h.request(kPromo2, kNoon + 3 * kDay)) == "suppress:cap");  // "*" is full
    // The window rolls: exactly 7 days after the first send, it no longer counts.
    CHECK(outcome_of(h.request(kPromo, kNoon + 7 * kDay - 1)) == "suppress:cap");
    CHECK(outcome_of(h.request(kPromo, kNoon + 7 * kDay)) == "send:ok");
}

TEST_CASE("ledger: exempt classes bypass caps and quiet hours but never consent") {
    LedgerHarness h;
    h.request(kWelcome, kNoon);
    h.request(kPromo, kNoon + 1);
    CHECK(outcome_of(h.request(kReset, kNoon + 2)) == "send:ok");
    CHECK(outcome_of(h.request(kReset, kNoon + 12 * kHour)) == "send:ok");  // midnight UTC
    CHECK(h.ledger.contacts("c").size() == 4);
    // Exempt sends do not use up the budget of the others.
    CHECK(outcome_of(h.request(kPing, kNoon + 3)) == "send:ok");
    h.set_preferences("c", {"", {"email"}});
    const auto refused = h.request(kReset, kNoon + 4);
    CHECK(outcome_of(refused) == "suppress:consent");
    CHECK(refused[0].detail == "no consent for email");
}

TEST_CASE("ledger: quiet hours defer to their end in the customer's zone, then re-evaluate") {
    LedgerHarness h;
    h.set_preferences("c", {"America/New_York", {}});
    // 12:00 UTC is 08:00 in New York (EDT): just outside.
    CHECK(outcome_of(h.request(kWelcome, kNoon)) == "send:ok");
    // 02:00 UTC is 22:00 EDT: deferred to 08:00 EDT = 12:00 UTC.
    const auto deferred = h.request(kPromo, kNoon + 14 * kHour);
    CHECK(outcome_of(deferred) == "defer:quiet_hours");
    CHECK(deferred[0].until == kNoon + kDay);
    CHECK(deferred[0].detail == "22:00-08:00 America/New_York");
    CHECK(h.ledger.next_wakeup() == kNoon + kDay);
    CHECK(h.advance(kNoon + kDay - 1).empty());
    const auto released = h.advance(kNoon + kDay);
    CHECK(outcome_of(released) == "send:ok");
    CHECK(released[0].decision_id == deferred[0].decision_id);
    CHECK(h.ledger.held() == 0);
}

TEST_CASE("ledger: a best_hour request waits for the customer's best local hour, then is sent") {
    LedgerHarness h;
    h.set_preferences("c", {"Europe/Amsterdam", {}});
    // 12:00 UTC is 14:00 in Amsterdam (CEST); their best hour, 19:00, starts at 17:00 UTC.
    const auto deferred = h.digest(hours_favouring(19, 15), kNoon, kNoon);
    CHECK(outcome_of(deferred) == "defer:best_hour");
    CHECK(deferred[0].until == kNoon + 5 * kHour);
    CHECK(deferred[0].detail == "19:00 Europe/Amsterdam");
    CHECK(h.ledger.next_wakeup() == kNoon + 5 * kHour);
    CHECK(h.advance(kNoon + 5 * kHour - 1).empty());
    CHECK(outcome_of(h.advance(kNoon + 5 * kHour)) == "send:ok");
    CHECK(h.ledger.held() == 0);
}

TEST_CASE("ledger: the best hour is chosen from the request alone, the same after a restart") {
    LedgerHarness h;
    h.set_preferences("c", {"Europe/Amsterdam", {}});
    CHECK(h.digest(hours_favouring(19), kNoon, kNoon)[0].until == kNoon + 5 * kHour);
    // A restart two hours later submits the stored request again: the same hour, not the best
    // one counted from the restart.
    LedgerHarness after;
    after.set_preferences("c", {"Europe/Amsterdam", {}});
    const auto again = after.digest(hours_favouring(19), kNoon, kNoon + 2 * kHour);
    CHECK(outcome_of(again) == "defer:best_hour");
    CHECK(again[0].until == kNoon + 5 * kHour);
    // A restart after that hour began sends it at once, never a day later.
    LedgerHarness late;
    late.set_preferences("c", {"Europe/Amsterdam", {}});
    CHECK(outcome_of(late.digest(hours_favouring(19), kNoon, kNoon + 6 * kHour)) == "send:ok");
}

TEST_CASE("ledger: a best hour in quiet hours or outside send_within is never chosen") {
    LedgerHarness h;
    // In UTC: 23:00 is quiet (22:00-08:00); 20:00, the next best, is chosen.
    CHECK(h.digest(hours_favouring(23, 20), kNoon, kNoon, "a")[0].until == kNoon + 8 * kHour);
    // The current hour is the best: sent now.
    CHECK(outcome_of(h.digest(hours_favouring(12, 20), kNoon, kNoon, "b")) == "send:ok");
    // 11:00 tomorrow is 23 hours away, within the 24h window; 10:00 the day after is not.
    CHECK(h.digest(hours_favouring(11), kNoon + kMinute, kNoon + kMinute, "c")[0].until ==
          kNoon + 23 * kHour);
}

TEST_CASE("ledger: with no hour allowed in the window, a best_hour request is decided now") {
    std::string pressure = kDefaultPressure;
    pressure.replace(pressure.find("\"08:00\""), 7, "\"21:59\"");  // quiet 22:00-21:59
    LedgerHarness h(pressure);
    // No hour of the next day starts outside quiet hours: the usual rules decide at once, and
    // quiet hours defer it to their end.
    const auto decided = h.digest(hours_favouring(3), kNoon, kNoon);
    CHECK(outcome_of(decided) == "defer:quiet_hours");
    CHECK(decided[0].until == kNoon + 9 * kHour + 59 * kMinute);
    CHECK(outcome_of(h.advance(kNoon + 9 * kHour + 59 * kMinute)) == "send:ok");
}

TEST_CASE("ledger: a best_hour request is capped and consented as any other when its hour comes") {
    LedgerHarness h;
    CHECK(outcome_of(h.digest(hours_favouring(18), kNoon, kNoon)) == "defer:best_hour");
    h.request(kWelcome, kNoon + kHour);
    h.request(kPromo, kNoon + 2 * kHour);  // the second e-mail of the week
    CHECK(outcome_of(h.advance(kNoon + 6 * kHour)) == "suppress:cap");
    LedgerHarness refused;
    CHECK(outcome_of(refused.digest(hours_favouring(18), kNoon, kNoon)) == "defer:best_hour");
    refused.set_preferences("c", {"", {"email"}});
    CHECK(outcome_of(refused.advance(kNoon + 6 * kHour)) == "suppress:consent");
}

TEST_CASE("ledger: a deferred request can still be capped when it comes back") {
    LedgerHarness h;
    h.request(kWelcome, kNoon);
    const TimeMs night = kNoon + 11 * kHour;  // 23:00 UTC
    CHECK(outcome_of(h.request(kPromo, night)) == "defer:quiet_hours");
    CHECK(outcome_of(h.request(kPromo, night + kHour)) == "defer:quiet_hours");
    const auto morning = h.advance(kNoon + kDay);
    REQUIRE(morning.size() == 2);
    CHECK(std::string(to_string(morning[0].outcome)) == "send");
    CHECK(morning[1].reason == "cap");  // the second email of the week was the first deferred
}

TEST_CASE("ledger: consent revoked while deferred suppresses the request when it comes back") {
    LedgerHarness h;
    CHECK(outcome_of(h.request(kPromo, kNoon + 11 * kHour)) == "defer:quiet_hours");
    h.set_preferences("c", {"", {"email"}});
    CHECK(outcome_of(h.advance(kNoon + kDay)) == "suppress:consent");
}

TEST_CASE("ledger: it holds a customer while a request is deferred or in arbitration") {
    LedgerHarness h;
    CHECK_FALSE(h.ledger.holds("c"));
    h.request(kWelcome, kNoon);
    CHECK(h.ledger.knows("c"));
    CHECK_FALSE(h.ledger.holds("c"));
    CHECK(outcome_of(h.request(kPromo, kNoon + 11 * kHour)) == "defer:quiet_hours");
    CHECK(outcome_of(h.request(kPromo, kNoon + 11 * kHour + 1)) == "defer:quiet_hours");
    CHECK(h.ledger.holds("c"));
    CHECK(h.advance(kNoon + kDay).size() == 2);
    CHECK_FALSE(h.ledger.holds("c"));

    std::string windowed = kDefaultPressure;
    windowed.replace(windowed.find("\"0s\""), 4, "\"60s\"");
    LedgerHarness w(windowed);
    CHECK(w.request(kPromo, kNoon).empty());
    CHECK(w.ledger.holds("c"));
    CHECK(w.advance(kNoon + kMinute).size() == 1);
    CHECK_FALSE(w.ledger.holds("c"));
}

TEST_CASE("ledger: a customer forgotten and restored is capped as before") {
    LedgerHarness h;
    h.request(kWelcome, kNoon);
    h.request(kPromo, kNoon + 1);
    const std::vector<Contact> sends = h.ledger.contacts("c");
    h.ledger.forget("c");
    CHECK_FALSE(h.ledger.knows("c"));
    CHECK(h.ledger.customers() == 0);
    h.ledger.restore("c", sends);
    CHECK(outcome_of(h.request(kPromo, kNoon + 2)) == "suppress:cap");
}

TEST_CASE("ledger: arbitration: the highest class wins, ties go to the program listed first") {
    std::string pressure = kDefaultPressure;
    pressure.replace(pressure.find("\"0s\""), 4, "\"2s\"");
    LedgerHarness h(pressure);
    CHECK(h.request(kPromo, kNoon).empty());  // held until the window closes
    CHECK(h.request(kPromo2, kNoon + 500).empty());
    CHECK(h.request(kWelcome, kNoon + 1999).empty());
    CHECK(h.request(kPromo, kNoon + 100, "other").empty());
    CHECK(h.ledger.next_wakeup() == kNoon + 2000);
    const auto decided = h.advance(kNoon + 2000);
    REQUIRE(decided.size() == 3);
    std::map<std::string, std::string> by_program;
    for (const Decision& d : decided)
        by_program[h.config.journey.programs[d.program].name] =
            std::string(to_string(d.outcome)) + ":" + d.reason;
    CHECK(by_program["welcome"] == "send:ok");
    CHECK(by_program["promo"] == "suppress:arbitration");
    CHECK(by_program["promo2"] == "suppress:arbitration");
    for (const Decision& d : decided)
        if (d.reason == "arbitration") CHECK(d.detail == "lost to welcome (lifecycle)");
    // The other customer's window closes on its own schedule.
    CHECK(outcome_of(h.advance(kNoon + 2100)) == "send:ok");
    // Two promotional programs tie: the one listed first (promo) wins.
    CHECK(h.request(kPromo2, kNoon + kDay, "tie").empty());
    CHECK(h.request(kPromo, kNoon + kDay + 1, "tie").empty());
    const auto tie = h.advance(kNoon + kDay + 2000);
    REQUIRE(tie.size() == 2);
    for (const Decision& d : tie)
        CHECK((d.program == kPromo ? d.outcome == Outcome::send : d.reason == "arbitration"));
    // At shutdown open windows are decided at once.
    CHECK(h.request(kPromo2, kNoon + 2 * kDay, "late").empty());
    std::vector<Decision> closed;
    h.ledger.close_arbitration(kNoon + 2 * kDay + 1, closed);
    CHECK(outcome_of(closed) == "send:ok");
    // A request after the window is a new competition.
    CHECK(h.request(kPromo2, kNoon + kDay + 2001, "tie").empty());
    CHECK(h.advance(kNoon + kDay + 4001).size() == 1);
}

TEST_CASE("ledger: rate budgets defer the excess in order, one reserved slot each") {
    LedgerHarness h(std::string(kDefaultPressure) + "\n[pressure.rate]\npush = 2\n");
    std::vector<std::string> immediate;
    std::vector<TimeMs> until;
    for (int i = 0; i < 6; ++i) {
        auto d = h.request(kPing, kNoon, "r" + std::to_string(i));
        REQUIRE(d.size() == 1);
        immediate.push_back(d[0].reason);
        if (d[0].outcome == Outcome::defer) until.push_back(d[0].until);
    }
    // One second of burst at 2/s: three leave now (slots 0, 500, 1000 ms), the rest wait.
    CHECK(immediate == std::vector<std::string>{"ok", "ok", "ok", "rate", "rate", "rate"});
    CHECK(until == std::vector<TimeMs>{kNoon + 500, kNoon + 1000, kNoon + 1500});
    CHECK(outcome_of(h.advance(kNoon + 500)) == "send:ok");
    CHECK(outcome_of(h.advance(kNoon + 1000)) == "send:ok");
    CHECK(outcome_of(h.advance(kNoon + 1500)) == "send:ok");
    CHECK(h.ledger.held() == 0);
    // Email has no rate: never deferred for it.
    for (int i = 0; i < 5; ++i)
        CHECK(outcome_of(h.request(kWelcome, kNoon, "e" + std::to_string(i))) == "send:ok");
}

TEST_CASE("ledger: a node's rate share can change, and it reports what was asked of it") {
    LedgerHarness h(std::string(kDefaultPressure) + "\n[pressure.rate]\npush = 2\n");
    h.ledger.set_rate("push", 10);  // a lease on top of the floor: 100 ms a slot
    std::vector<std::string> reasons;
    for (int i = 0; i < 13; ++i)
        reasons.push_back(h.request(kPing, kNoon, "r" + std::to_string(i))[0].reason);
    // One second of burst at 10/s: eleven now (slots 0..1000 ms), then deferred.
    CHECK(std::count(reasons.begin(), reasons.end(), "ok") == 11);
    auto deferred = h.request(kPing, kNoon, "late");
    REQUIRE(deferred.size() == 1);
    CHECK(deferred[0].detail == "push budget 10/s");
    h.ledger.set_rate("nosuch", 5);  // a channel without a budget stays without one
    const auto demand = h.ledger.take_rate_demand();
    CHECK(demand == std::map<std::string, double>{{"push", 14}});
    CHECK(h.ledger.take_rate_demand() == std::map<std::string, double>{{"push", 0}});
}

TEST_CASE("ledger: a request brings the customer's preferences, known after a restart too") {
    LedgerHarness h;  // a fresh ledger, as after a restart: it knows nothing of "c"
    std::vector<Decision> out;
    h.ledger.submit(ContactRequest{"x", "c", kPromo, "event:1", kNoon, {}, {"", {"email"}}}, kNoon,
                    out);
    CHECK(outcome_of(out) == "suppress:consent");
}

TEST_CASE("ledger: requests the journey dropped are recorded as suppress with its reason") {
    LedgerHarness h;
    std::vector<Decision> out;
    h.ledger.submit(ContactRequest{"x", "c", kPromo, "event:1", kNoon, "left_stage", {}}, kNoon,
                    out);
    CHECK(outcome_of(out) == "suppress:left_stage");
    CHECK(h.ledger.contacts("c").empty());
}

TEST_CASE("ledger property: caps, quiet hours and consent hold; one final outcome each") {
    const std::vector<std::string> zones = {"",
                                            "Europe/Amsterdam",
                                            "America/New_York",
                                            "Asia/Kolkata",
                                            "Australia/Lord_Howe",
                                            "Pacific/Chatham"};
    TimeZones tz;
    for (uint32_t seed = 1; seed <= 2000; ++seed) {
        std::mt19937 random(seed);
        std::string pressure = kDefaultPressure;
        if (seed % 2) pressure.replace(pressure.find("\"0s\""), 4, "\"2s\"");
        pressure += "\n[pressure.rate]\nemail = 3\n";
        LedgerHarness h(pressure);
        const int customers = 1 + random() % 4;
        std::map<std::string, ContactPreferences> preferences;
        for (int c = 0; c < customers; ++c) {
            ContactPreferences p{zones[random() % zones.size()], {}};
            if (random() % 5 == 0) p.refused_channels.push_back(random() % 2 ? "email" : "push");
            preferences["c" + std::to_string(c)] = p;
            h.ledger.set_preferences("c" + std::to_string(c), p);
        }
        // Requests at random times over three weeks, some in bursts of the same second.
        std::vector<std::pair<TimeMs, ContactRequest>> stream;
        TimeMs t = kNoon + static_cast<TimeMs>(random() % kDay);
        for (int i = 0, n = 5 + random() % 40; i < n; ++i) {
            t += random() % 3 == 0 ? static_cast<TimeMs>(random() % 1500)
                                   : static_cast<TimeMs>(random() % (kDay / 2));
            const std::string customer = "c" + std::to_string(random() % customers);
            stream.push_back({t, ContactRequest{"s" + std::to_string(i),
                                                customer,
                                                static_cast<ProgramId>(random() % 6),
                                                "x",
                                                t,
                                                {},
                                                preferences[customer]}});
            if (stream.back().second.program == kDigest) {
                SendHours hours{};
                for (uint16_t& hour : hours) hour = random() % 3 ? 0 : random() % 65536;
                stream.back().second.send_hours = hours;
            }
        }
        // As the coordinator does: every wake-up at its own time, before the next request.
        std::vector<Decision> decisions;
        auto run_until = [&](TimeMs until) {
            for (auto next = h.ledger.next_wakeup(); next && *next <= until;
                 next = h.ledger.next_wakeup())
                h.ledger.advance(*next, decisions);
        };
        for (auto& [at, request] : stream) {
            run_until(at);
            h.ledger.submit(request, at, decisions);
        }
        run_until(t + 30 * kDay);
        INFO("seed " << seed);
        REQUIRE(h.ledger.held() == 0);

        std::map<std::string, int> finals;
        std::map<std::string, std::vector<std::pair<TimeMs, ProgramId>>> sends;
        for (const Decision& d : decisions) {
            if (d.outcome == Outcome::defer) {
                REQUIRE(finals[d.decision_id] == 0);  // no defer after a final outcome
                continue;
            }
            ++finals[d.decision_id];
            if (d.outcome != Outcome::send) continue;
            const Program& program = h.config.journey.programs[d.program];
            const ContactPreferences& p = preferences[d.customer];
            REQUIRE(std::count(p.refused_channels.begin(), p.refused_channels.end(),
                               program.channel) == 0);
            if (!h.config.pressure.exempt[program.priority]) {
                REQUIRE_FALSE(
                    quiet_until(*h.config.pressure.quiet_hours, tz.find_or_utc(p.time_zone), d.at));
                sends[d.customer].push_back({d.at, d.program});
            }
        }
        REQUIRE(finals.size() == stream.size());
        for (const auto& [id, count] : finals) REQUIRE(count == 1);
        for (const auto& [customer, sent] : sends)
            for (const auto& [at, program] : sent)
                for (const CapRule& cap : h.config.pressure.caps) {
                    uint32_t in_window = 0;
                    for (const auto& [other_at, other] : sent)
                        if (other_at > at - cap.per && other_at <= at &&
                            (cap.channel == "*" ||
                             h.config.journey.programs[other].channel == cap.channel))
                            ++in_window;
                    REQUIRE(in_window <= cap.max);
                }
    }
}

TEST_CASE("ledger: a merge counts the alias's sends against the canonical customer's caps") {
    LedgerHarness h;
    CHECK(outcome_of(h.request(kWelcome, kNoon, "device")) == "send:ok");
    CHECK(outcome_of(h.request(kPromo, kNoon + kMinute, "ann")) == "send:ok");
    CHECK(h.ledger.merge("device", "ann").empty());
    CHECK_FALSE(h.ledger.knows("device"));
    const std::vector<Contact> both = h.ledger.contacts("ann");
    REQUIRE(both.size() == 2);
    CHECK(both[0].at == kNoon);  // by time, the alias's first
    // Ann alone had room for one more e-mail; with the device's, the cap is reached.
    CHECK(outcome_of(h.request(kPromo, kNoon + kHour, "ann")) == "suppress:cap");
}

TEST_CASE("ledger: a merge hands the alias's deferred and contending requests over, once") {
    LedgerHarness h(R"(
[pressure]
hierarchy = ["service", "transactional", "lifecycle", "promotional"]
arbitration_window = "2s"
quiet_hours = { start = "22:00", end = "08:00" }
)");
    // At 23:00 UTC the device's request waits for quiet hours to end; the phone's contends in
    // its arbitration window.
    const TimeMs night = kNoon + 11 * kHour;
    CHECK(h.request(kWelcome, night, "device").empty());
    CHECK(h.advance(night + 2'000).size() == 1);  // deferred quiet_hours
    CHECK(h.request(kPromo, night + 2'500, "phone").empty());
    std::vector<ContactRequest> moved = h.ledger.merge("device", "ann");
    REQUIRE(moved.size() == 1);
    CHECK(moved[0].customer == "ann");
    moved = h.ledger.merge("phone", "ann");
    REQUIRE(moved.size() == 1);
    CHECK(moved[0].customer == "ann");
    CHECK(h.ledger.holds("ann"));
    CHECK_FALSE(h.ledger.holds("device"));
    // The phone's window closes as Ann's: its request is deferred to the morning, then both go.
    const std::vector<Decision> closed = h.advance(night + 4'500);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].customer == "ann");
    CHECK(closed[0].reason == "quiet_hours");
    const std::vector<Decision> morning = h.advance(kNoon + 20 * kHour);
    REQUIRE(morning.size() == 2);
    for (const Decision& d : morning) {
        CHECK(d.customer == "ann");
        CHECK(d.outcome == Outcome::send);
    }
    CHECK_FALSE(h.ledger.holds("ann"));
}
