// Actor tests on a real actor system: every wait is a poll with a deadline, never a sleep
// that hopes the work is done.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>

#include "actors/coordinator.hpp"
#include "actors/customer_shard.hpp"
#include "actors/messages.hpp"
#include "actors/store_writer.hpp"
#include "actors/timer_sweeper.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/pressure_codec.hpp"
#include "tests/support/memory_record_store.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;

namespace {

constexpr auto kRequestTimeout = 10s;

// Days become milliseconds so timers fire within a test. Margins matter on a loaded CI
// machine: where a test must act before a timer fires, give it a second or more.
std::string with_short_durations(const std::string& toml, const std::string& delay_to,
                                 const std::string& after_to) {
    static const std::regex delay(R"re(delay(\s*)=(\s*)"[0-9]+[a-z]+")re");
    static const std::regex after(R"re(after(\s*)=(\s*)"[0-9]+[a-z]+")re");
    return std::regex_replace(std::regex_replace(toml, delay, "delay$1=$2\"" + delay_to + "\""),
                              after, "after$1=$2\"" + after_to + "\"");
}

// Real elapsed time, shifted so that the test starts at 12:00 UTC: timers behave as in
// production while quiet hours never depend on when the test happens to run.
TimeMs midday_clock() {
    static const TimeMs start = system_now_ms();
    static const TimeMs shift = (start / 86'400'000) * 86'400'000 + 43'200'000 - start;
    return system_now_ms() + shift;
}

// Deliveries the coordinator handed over, as a sink would receive them. It can play a
// full sink: the first `refusals` offers are refused, as a sink with a full queue does.
struct RecordingSink {
    bool offer(Delivery d) {
        std::lock_guard<std::mutex> lock(mutex);
        if (refusals > 0) {
            --refusals;
            return false;
        }
        received.push_back(std::move(d));
        return true;
    }
    std::vector<Delivery> all() {
        std::lock_guard<std::mutex> lock(mutex);
        return received;
    }
    std::mutex mutex;
    std::vector<Delivery> received;
    int refusals = 0;
};

// The fixture's store as the store writer and the customers see it, with faults a test can
// switch on: commits that throw (as on a full disk) and reads of the applied-id history that
// throw. It counts those reads.
class FaultyStore final : public RecordStore {
  public:
    explicit FaultyStore(std::shared_ptr<MemoryRecordStore> inner) : inner_(std::move(inner)) {}

    void commit(const std::vector<StoreRecord>& batch) override {
        if (fail_commits) throw std::runtime_error("disk full (test)");
        inner_->commit(batch);
    }
    std::optional<std::string> read(const std::string& customer) const override {
        return inner_->read(customer);
    }
    std::optional<std::string> read(Table table, const std::string& key) const override {
        return inner_->read(table, key);
    }
    std::vector<std::pair<std::string, std::string>> read_all(Table table) const override {
        return inner_->read_all(table);
    }
    std::vector<DueTimer> timers_due(TimeMs until, size_t limit,
                                     const std::optional<DueTimer>& after) const override {
        return inner_->timers_due(until, limit, after);
    }
    bool was_applied(const std::string& customer, uint64_t fingerprint) const override {
        ++was_applied_calls;
        if (fail_was_applied) throw std::runtime_error("applied ids unreadable (test)");
        return inner_->was_applied(customer, fingerprint);
    }
    size_t forget_applied_before(TimeMs cutoff, size_t limit) override {
        return inner_->forget_applied_before(cutoff, limit);
    }
    StoreStats stats() const override { return inner_->stats(); }

    std::atomic<bool> fail_commits{false};
    std::atomic<bool> fail_was_applied{false};
    mutable std::atomic<int> was_applied_calls{0};

  private:
    std::shared_ptr<MemoryRecordStore> inner_;
};

struct ActorFixture {
    explicit ActorFixture(const std::string& toml,
                          std::shared_ptr<MemoryRecordStore> kept = nullptr)
        : config(test::config_from(toml)) {
        if (kept) store = std::move(kept);
        faulty = std::make_shared<FaultyStore>(store);
        cfg.set("scheduler.max-threads", 2);
        cfg.set("logger.verbosity", caf::atom("quiet"));
        system = std::make_unique<caf::actor_system>(cfg);
        auto context = std::make_shared<CustomerContext>();
        configs = starting_configs({}, std::make_shared<JourneyEngine>(config.journey), nullptr);
        context->configs = configs;
        writer =
            system->spawn(store_writer, faulty, GroupCommit{},
                          AppliedIdRetention{config.store.applied_ids_retention, midday_clock});
        context->store_writer = writer;
        CoordinatorSetup setup;
        setup.policy = config.pressure;
        setup.model = config.journey;
        // A sink that delivers at once, and confirms as the daemon's sinks do.
        setup.offer = [sink = sink, confirm = forget_delivered(writer)](Delivery d) {
            const std::string id = d.decision_id;
            if (!sink->offer(std::move(d))) return false;
            confirm({id});
            return true;
        };
        setup.now = midday_clock;
        setup.metrics = metrics;
        setup.store = store;
        setup.store_writer = writer;
        setup.unfinished = read_unfinished(*store, config.journey);
        context->coordinator = system->spawn(journeyd::coordinator, std::move(setup));
        context->now = midday_clock;
        context->metrics = metrics;
        context->store = faulty;
        context->idle_after = config.runtime.idle_after;
        coordinator = context->coordinator;
        router = ShardRouter(*system, context, 3);
        sweeper =
            system->spawn(timer_sweeper, SweeperSetup{store, router, midday_clock, 50ms, 10'000});
        self = std::make_unique<caf::scoped_actor>(*system);
    }

    // In the daemon's order, so that a fixture on the same store after it is a restart.
    ~ActorFixture() {
        caf::anon_send_exit(sweeper, caf::exit_reason::user_shutdown);
        for (const caf::actor& shard : router.shards())
            caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
        for (const caf::actor& last : {coordinator, writer}) {
            (*self)->send(last, drain_atom::value);
            (*self)->wait_for(last);
        }
        self.reset();
    }

    // As the daemon applies a checked change: the coordinator first, then the customers.
    void change_config(const std::string& toml) {
        RunningConfig running;
        running.config = test::config_from(toml);
        running.version = "v" + std::to_string(configs->generation() + 1);
        const auto next = following_config(*configs->current(), running, nullptr);
        bool taken = false;
        (*self)
            ->request(
                coordinator, kRequestTimeout, config_atom::value,
                CoordinatorRules{running.config.pressure, next->engine->model(), running.version})
            .receive([&](bool) { taken = true; },
                     [&](caf::error& err) { FAIL("not taken: " << caf::to_string(err)); });
        REQUIRE(taken);
        configs->publish(next);
    }

    EventOutcome send(const std::string& customer, const std::string& type,
                      const std::string& id = "", nlohmann::json attrs = nullptr) {
        // Stamped by the actors' clock, as a source's clock agrees with the daemon's: an
        // engagement hour hours away from the clock would defer a best_hour program.
        Event e{id.empty() ? "ev" + std::to_string(++next_id) : id, customer, type, midday_clock(),
                std::move(attrs)};
        EventOutcome outcome{};
        bool answered = false;
        (*self)
            ->request(router.shard_for(customer), kRequestTimeout, event_atom::value, std::move(e))
            .receive([&](EventOutcome o) { outcome = o, answered = true; },
                     [&](caf::error& err) { FAIL("event failed: " << caf::to_string(err)); });
        REQUIRE(answered);
        return outcome;
    }

    Event event(const std::string& customer, const std::string& id = "") {
        return Event{id.empty() ? "ev" + std::to_string(++next_id) : id, customer, "view",
                     midday_clock(), nullptr};
    }

    // As the ingest relay sends a frame: one batch request per shard. The results come in the
    // order of `events`.
    std::vector<EventResult> send_batch(const std::vector<Event>& events) {
        std::vector<EventResult> results(events.size());
        std::map<const caf::actor*, std::pair<std::vector<Event>, std::vector<size_t>>> by_shard;
        for (size_t i = 0; i < events.size(); ++i) {
            auto& batch = by_shard[&router.shard_for(events[i].customer)];
            batch.first.push_back(events[i]);
            batch.second.push_back(i);
        }
        for (auto& [shard, batch] : by_shard) {
            bool answered = false;
            (*self)
                ->request(*shard, kRequestTimeout, event_atom::value, batch.first)
                .receive(
                    [&](std::vector<EventResult>& got) {
                        REQUIRE(got.size() == batch.second.size());
                        for (size_t k = 0; k < got.size(); ++k)
                            results[batch.second[k]] = std::move(got[k]);
                        answered = true;
                    },
                    [&](caf::error& err) { FAIL("batch failed: " << caf::to_string(err)); });
            REQUIRE(answered);
        }
        return results;
    }

    CustomerLookup lookup(const std::string& customer) {
        CustomerLookup found;
        (*self)
            ->request(router.shard_for(customer), kRequestTimeout, lookup_atom::value, customer)
            .receive([&](CustomerLookup& l) { found = std::move(l); },
                     [&](caf::error& err) { FAIL("lookup failed: " << caf::to_string(err)); });
        return found;
    }

    std::string stage(const std::string& customer) {
        CustomerLookup l = lookup(customer);
        return l.found ? config.journey.stages[l.state.journey.stage] : "<none>";
    }

    std::vector<Decision> decisions(const std::string& customer) {
        std::vector<Decision> out;
        (*self)
            ->request(coordinator, kRequestTimeout, decisions_atom::value, customer)
            .receive([&](std::vector<Decision>& d) { out = std::move(d); },
                     [&](caf::error& err) { FAIL("coordinator: " << caf::to_string(err)); });
        std::reverse(out.begin(), out.end());
        return out;
    }

    CoordinatorStats coordinator_stats() {
        CoordinatorStats stats;
        (*self)
            ->request(coordinator, kRequestTimeout, stats_atom::value)
            .receive([&](CoordinatorStats& got) { stats = got; },
                     [&](caf::error& err) { FAIL("coordinator: " << caf::to_string(err)); });
        return stats;
    }

    // "program outcome:reason" of every decision for the customer, oldest first.
    std::vector<std::string> decision_trail(const std::string& customer) {
        std::vector<std::string> trail;
        for (const Decision& d : decisions(customer))
            trail.push_back(config.journey.programs[d.program].name + " " +
                            std::string(to_string(d.outcome)) + ":" + d.reason);
        return trail;
    }

    std::vector<std::string> sent_programs(const std::string& customer) {
        std::vector<std::string> names;
        for (const Delivery& d : sink->all())
            if (d.customer == customer) names.push_back(d.program);
        return names;
    }

    Config config;
    caf::actor_system_config cfg;
    std::unique_ptr<caf::actor_system> system;
    std::shared_ptr<MemoryRecordStore> store = std::make_shared<MemoryRecordStore>();
    std::shared_ptr<FaultyStore> faulty;  // wraps `store`
    std::shared_ptr<RecordingSink> sink = std::make_shared<RecordingSink>();
    std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
    caf::actor coordinator;
    caf::actor writer;
    caf::actor sweeper;
    std::shared_ptr<LiveConfigs> configs;
    ShardRouter router;
    std::unique_ptr<caf::scoped_actor> self;
    int next_id = 0;
};

using Names = std::vector<std::string>;

// The test journey with at most one e-mail a week, and a promotional e-mail on "sale".
std::string capped_offer_journey() {
    return std::string(test::kTestJourney) + R"(
[[pressure.cap]]
channel = "email"
max = 1
per = "7d"

[[program]]
name = "offer"
on_event = "sale"
channel = "email"
priority = "promotional"
template = "offer-1"
)";
}

}  // namespace

TEST_CASE("the first event creates the customer's actor; the answer comes after commit") {
    ActorFixture f(test::kTestJourney);
    CHECK(f.stage("ann") == "<none>");
    CHECK(f.send("ann", "search") == EventOutcome::accepted);
    // Acknowledged means committed: the record is in the store before the answer arrives.
    auto record = f.store->read("ann");
    REQUIRE(record.has_value());
    std::string error;
    auto stored = decode_customer(*record, f.config.journey, error);
    REQUIRE(stored.has_value());
    CHECK(stored->journey.events_seen == 1);
    CHECK(f.stage("ann") == "exploring");
}

TEST_CASE("a repeated event id is answered as a duplicate and applied once") {
    ActorFixture f(test::kTestJourney);
    CHECK(f.send("bob", "view", "same-id") == EventOutcome::accepted);
    CHECK(f.send("bob", "view", "same-id") == EventOutcome::duplicate);
    CHECK(f.lookup("bob").state.journey.events_seen == 1);
}

TEST_CASE("program requests reach the coordinator with decision ids derived from their cause") {
    ActorFixture f(test::kTestJourney);
    f.send("cy", "password_reset", "reset-1");
    REQUIRE(test::poll_until([&] { return f.sink->all().size() == 2; }));
    auto sent = f.sink->all();
    CHECK(sent[0].program == "welcome");
    CHECK(sent[1].program == "reset");
    CHECK(sent[1].decision_id == make_decision_id("cy", "reset", "event:reset-1"));
    CHECK(sent[1].channel == "email");
    CHECK(sent[1].template_name == "reset-1");
    CHECK(sent[1].priority == "service");
    CHECK(sent[0].decision_id != sent[1].decision_id);
    CHECK(f.decision_trail("cy") == Names{"welcome send:ok", "reset send:ok"});
}

TEST_CASE("the coordinator judges requests by the profile the same event updated") {
    ActorFixture f(test::kTestJourney);
    f.send("dan", "profile", "", {{"consent", {{"email", false}}}});
    REQUIRE(test::poll_until([&] { return f.decisions("dan").size() == 1; }));
    CHECK(f.decision_trail("dan") == Names{"welcome suppress:consent"});
    CHECK(f.sink->all().empty());
}

// It used to read such a customer's history from the store and keep it, for every profile
// event of anyone.
TEST_CASE("preferences of a customer the coordinator has not met leave nothing in it") {
    ActorFixture f(test::kTestJourney);
    (*f.self)->send(f.coordinator, preferences_atom::value, std::string("ghost"),
                    ContactPreferences{"Europe/Amsterdam", {"email"}});
    CHECK(f.coordinator_stats().customers == 0);

    f.send("dan", "profile", "", {{"consent", {{"email", false}}}});
    REQUIRE(test::poll_until([&] { return f.decisions("dan").size() == 1; }));
    CHECK(f.decision_trail("dan") == Names{"welcome suppress:consent"});
    CHECK(f.coordinator_stats().customers == 1);
}

TEST_CASE("timers fire in the actor: delayed programs, then inactivity") {
    ActorFixture f(with_short_durations(test::kTestJourney, "150ms", "300ms"));
    f.send("dee", "search");
    CHECK(test::poll_until([&] { return f.stage("dee") == "dormant"; }));
    CHECK(test::poll_until([&] {
        return f.sent_programs("dee") == Names{"welcome", "nudge", "winback"};
    }));
    // The nudge's and the lapse's wake-ups, each measured against the due time it was for.
    CHECK(f.metrics->timer_lateness.count() >= 2);
    // The timer's effects are durable too, without any event.
    CHECK(test::poll_until([&] {
        std::string error;
        auto stored = decode_customer(f.store->read("dee").value_or(""), f.config.journey, error);
        return stored && f.config.journey.stages[stored->journey.stage] == "dormant";
    }));
}

TEST_CASE("a delayed program of a stage the customer left is dropped with left_stage") {
    ActorFixture f(with_short_durations(test::kTestJourney, "5s", "10s"));
    f.send("eve", "search");
    f.send("eve", "ad_placed");
    REQUIRE(f.stage("eve") == "active");
    REQUIRE(test::poll_until([&] {
        for (const Decision& d : f.decisions("eve"))
            if (d.reason == "left_stage") return d.outcome == Outcome::suppress;
        return false;
    }));
    auto timers = f.lookup("eve").state.journey.timers;
    REQUIRE(timers.size() == 1);
    CHECK(timers[0].kind == TimerKind::inactivity);
}

TEST_CASE("a configuration change reaches a customer at its next message, before it is applied") {
    const std::string before = with_short_durations(test::kTestJourney, "5s", "10s");
    ActorFixture f(before);
    f.send("eve", "search");
    REQUIRE(f.stage("eve") == "exploring");
    const TimeMs last_event = f.lookup("eve").state.journey.last_event_at;
    // "nudge", waiting out its delay for eve, is removed; "lapse" waits longer.
    std::string after = before;
    const std::string nudge =
        "[[program]]\nname = \"nudge\"\non_enter = \"exploring\"\ndelay = \"5s\"\n"
        "channel = \"push\"\npriority = \"promotional\"\ntemplate = \"nudge-1\"\n";
    REQUIRE(after.find(nudge) != std::string::npos);
    after.erase(after.find(nudge), nudge.size());
    const std::string lapse = "after = \"10s\"";
    after.replace(after.find(lapse), lapse.size(), "after = \"20s\"");
    f.change_config(after);

    const CustomerLookup seen = f.lookup("eve");  // a lookup is a message too
    const JourneyModel& now = seen.under->model();
    CHECK(seen.under == f.configs->current()->engine);
    REQUIRE(seen.state.journey.timers.size() == 1);
    CHECK(seen.state.journey.timers[0].kind == TimerKind::inactivity);
    CHECK(seen.state.journey.timers[0].due == last_event + 20'000);
    REQUIRE(test::poll_until([&] {
        for (const Decision& d : f.decisions("eve"))
            if (d.reason == "program_removed")
                return d.outcome == Outcome::suppress && now.programs[d.program].name == "nudge" &&
                       d.config_version == "v2";
        return false;
    }));
    // Its events are applied under the new journey from now on.
    f.send("eve", "ad_placed");
    CHECK(f.stage("eve") == "active");
    // Stored under it too: read back by name, the timer is the re-armed one.
    std::string error;
    auto stored = decode_customer(f.store->read("eve").value_or(""), now, error);
    REQUIRE(stored);
    CHECK(stored->journey.timers.size() == 1);
}

TEST_CASE("many customers across shards are all applied and stored") {
    ActorFixture f(test::kTestJourney);
    constexpr int kCustomers = 300;
    auto acknowledged = std::make_shared<std::atomic<int>>(0);
    auto failed = std::make_shared<std::atomic<int>>(0);
    // All requests in flight at once, as pipelining ingest connections would have them.
    // The counters go in as spawn arguments: spawned without any, CAF 0.17 binds a reference
    // through a null pointer to its empty argument tuple (UBSan reports it).
    f.system->spawn(
        [&f](caf::event_based_actor* driver, std::shared_ptr<std::atomic<int>> acknowledged,
             std::shared_ptr<std::atomic<int>> failed) {
            for (int round = 0; round < 3; ++round)
                for (int c = 0; c < kCustomers; ++c) {
                    const std::string id = "c" + std::to_string(c);
                    driver
                        ->request(f.router.shard_for(id), kRequestTimeout, event_atom::value,
                                  Event{"r" + std::to_string(round), id, "view", system_now_ms(),
                                        nullptr})
                        .then([acknowledged](
                                  EventOutcome o) { *acknowledged += o == EventOutcome::accepted; },
                              [failed](caf::error&) { ++*failed; });
                }
        },
        acknowledged, failed);
    CHECK(test::poll_until([&] { return *acknowledged + *failed == 3 * kCustomers; }));
    CHECK(*acknowledged == 3 * kCustomers);
    CHECK(f.store->stats().customers == kCustomers);
    CHECK(f.lookup("c17").state.journey.events_seen == 3);
    CHECK(f.store->commits() < 3 * kCustomers);  // group commit batched them
}

TEST_CASE(
    "the default journey drives a customer through all five stages, through the coordinator") {
    // Arbitration off: with delays shortened to milliseconds, programs that a day apart in
    // production would compete here. Caps and quiet hours stay as in the default.
    std::string toml = with_short_durations(std::string(default_config_text()), "150ms", "1500ms");
    toml = std::regex_replace(toml, std::regex(R"re(arbitration_window\s*=\s*"2s")re"),
                              "arbitration_window = \"0s\"");
    ActorFixture f(toml);
    f.send("zoe", "signup");
    CHECK(f.stage("zoe") == "new");
    f.send("zoe", "search");
    CHECK(f.stage("zoe") == "exploring");
    REQUIRE(test::poll_until([&] { return f.decisions("zoe").size() == 2; }));
    f.send("zoe", "ad_placed");
    CHECK(f.stage("zoe") == "active");
    f.send("zoe", "sale");
    f.send("zoe", "ad_placed");
    CHECK(f.stage("zoe") == "loyal");
    CHECK(test::poll_until([&] { return f.stage("zoe") == "dormant"; }));
    f.send("zoe", "view");
    CHECK(f.stage("zoe") == "exploring");
    // Every request has its explained decision: the second push of the day is capped. Zoe is
    // in winback's control group (salt "2026-12"): its request is decided in full, and would
    // have been capped as the third e-mail of the week.
    const Names expected{"welcome send:ok",          "first_listing_nudge send:ok",
                         "seller_tips send:ok",      "loyalty_thanks send:ok",
                         "winback suppress:holdout", "first_listing_nudge suppress:cap"};
    CHECK(test::poll_until([&] { return f.decision_trail("zoe") == expected; }));
    for (const Decision& d : f.decisions("zoe"))
        if (d.reason == "holdout") CHECK(d.would_have == Outcome::suppress);
    CHECK(f.sent_programs("zoe") ==
          Names{"welcome", "first_listing_nudge", "seller_tips", "loyalty_thanks"});
    for (const Decision& d : f.decisions("zoe"))
        if (d.reason == "cap" || d.reason == "holdout") CHECK_FALSE(d.detail.empty());
}

TEST_CASE("a burst of decisions larger than a publish slice is committed and sent, each once") {
    auto store = std::make_shared<MemoryRecordStore>();
    constexpr int kCustomers = 1000;  // the coordinator commits at least 256 decisions a slice
    {
        ActorFixture f(test::kTestJourney, store);
        std::vector<Event> frame;
        for (int c = 0; c < kCustomers; ++c) frame.push_back(f.event("b" + std::to_string(c)));
        for (const EventResult& r : f.send_batch(frame)) CHECK((r.error.empty() && !r.duplicate));
        CHECK(test::poll_until([&] { return f.sink->all().size() == kCustomers; }));
        std::set<std::string> ids;
        for (const Delivery& d : f.sink->all()) ids.insert(d.decision_id);
        CHECK(ids.size() == kCustomers);
    }
    // Every customer's history was committed with its decision: a restart reads it back.
    ActorFixture second(test::kTestJourney, store);
    CHECK(second.decision_trail("b0") == Names{"welcome send:ok"});
    CHECK(second.decision_trail("b999") == Names{"welcome send:ok"});
    CHECK(second.sink->all().empty());  // nothing left in the outbox to send again
}

TEST_CASE("arbitration in the coordinator: the higher class wins within the window") {
    ActorFixture f{std::string(default_config_text())};  // arbitration_window = "2s"
    f.send("amy", "signup");                             // welcome: lifecycle
    f.send("amy", "message_received");                   // transactional
    CHECK(test::poll_until([&] { return f.decisions("amy").size() == 2; }));
    CHECK(f.decision_trail("amy") ==
          Names{"welcome suppress:arbitration", "message_received send:ok"});
}

TEST_CASE("sends the sink refuses wait in the coordinator's outbox and leave in order") {
    ActorFixture f(test::kTestJourney);
    f.sink->refusals = 5;
    for (int i = 0; i < 4; ++i) f.send("fay", "password_reset");
    CHECK(test::poll_until([&] { return f.sink->all().size() == 5; }));
    CHECK(f.sent_programs("fay") == Names{"welcome", "reset", "reset", "reset", "reset"});
    std::vector<std::string> ids;
    for (const Delivery& d : f.sink->all()) ids.push_back(d.decision_id);
    std::vector<std::string> decided;
    for (const Decision& d : f.decisions("fay")) decided.push_back(d.decision_id);
    CHECK(ids == decided);
}

TEST_CASE("after a restart customers come back from the store, and their timers still fire") {
    auto store = std::make_shared<MemoryRecordStore>();
    const std::string toml = with_short_durations(test::kTestJourney, "5s", "1500ms");
    {
        ActorFixture first(toml, store);
        first.send("gus", "search", "g1");
        first.send("gus", "ad_placed", "g2");
        REQUIRE(first.stage("gus") == "active");
        REQUIRE(store->timers_due(INT64_MAX, 10).size() == 1);
    }
    ActorFixture second(toml, store);
    // No event after the restart: the sweeper finds the lapse in the timer index.
    CHECK(test::poll_until([&] {
        std::string error;
        auto stored =
            decode_customer(store->read("gus").value_or(""), second.config.journey, error);
        return stored && second.config.journey.stages[stored->journey.stage] == "dormant";
    }));
    // The send follows the commit of its decision, which follows the stage's record.
    CHECK(test::poll_until([&] { return !second.sent_programs("gus").empty(); }));
    CHECK(second.sent_programs("gus") == Names{"winback"});
    using Counts = std::map<std::string, int64_t>;
    CHECK(store->stats().customers_in_stage ==
          Counts{{"exploring", 0}, {"active", 0}, {"dormant", 1}});  // "new" was passed through
    CHECK(store->timers_due(INT64_MAX, 10).empty());
    // The restored customer remembers what it applied.
    CHECK(second.send("gus", "ad_placed", "g2") == EventOutcome::duplicate);
    CHECK(second.lookup("gus").state.journey.events_seen == 2);
}

TEST_CASE("an admin read of a stored customer activates it; an unknown one stays unknown") {
    auto store = std::make_shared<MemoryRecordStore>();
    {
        ActorFixture first(test::kTestJourney, store);
        first.send("hal", "view");
    }
    ActorFixture second(test::kTestJourney, store);
    CHECK(second.stage("hal") == "exploring");
    CHECK(second.stage("nobody") == "<none>");
}

TEST_CASE("idle customers are passivated and come back on their next event, losing nothing") {
    ActorFixture f(std::string(test::kTestJourney) + "\n[runtime]\nidle_after = \"100ms\"\n");
    std::mt19937 random(7);
    // Events at random gaps around the idle time, so some arrive while the customer is being
    // passivated: they wait in the shard and go to its successor.
    for (int i = 0; i < 25; ++i) {
        REQUIRE(f.send("pia", "view", "v" + std::to_string(i)) == EventOutcome::accepted);
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
    }
    CHECK(test::poll_until([&] { return f.metrics->customers_live == 0; }));
    CHECK(f.metrics->passivations > 1);
    const CustomerLookup back = f.lookup("pia");  // an admin read activates it again
    REQUIRE(back.found);
    CHECK(back.state.journey.events_seen == 25);
    CHECK(f.metrics->customers_live == 1);
    CHECK(f.send("pia", "view", "v3") == EventOutcome::duplicate);
}

TEST_CASE("an event id older than the record's window is still known from the store") {
    ActorFixture f(test::kTestJourney);
    for (size_t i = 0; i < RecentEventIds::kCapacity + 10; ++i)
        REQUIRE(f.send("ida", "view", "i" + std::to_string(i)) == EventOutcome::accepted);
    CHECK(f.send("ida", "view", "i0") == EventOutcome::duplicate);
    CHECK(f.lookup("ida").state.journey.events_seen == RecentEventIds::kCapacity + 10);
    // The store remembers only the ids the customer's window forgot.
    CHECK(f.store->stats().applied_events == 10);
}

TEST_CASE("a consent refused before a restart still holds for the first request after it") {
    auto store = std::make_shared<MemoryRecordStore>();
    {
        ActorFixture first(test::kTestJourney, store);
        first.send("jo", "profile", "jo-1", {{"consent", {{"email", false}}}});
    }
    ActorFixture second(test::kTestJourney, store);  // a coordinator that never heard of jo
    REQUIRE(second.send("jo", "password_reset", "jo-2") == EventOutcome::accepted);
    REQUIRE(test::poll_until([&] { return second.decisions("jo").size() == 2; }));
    CHECK(second.decision_trail("jo") ==
          Names{"welcome suppress:consent", "reset suppress:consent"});
}

TEST_CASE("caps count the sends made before a restart, and the decision log survives it") {
    auto store = std::make_shared<MemoryRecordStore>();
    const std::string capped = capped_offer_journey();
    {
        ActorFixture first(capped, store);
        first.send("kim", "signup", "k1");
        REQUIRE(test::poll_until([&] { return first.sent_programs("kim").size() == 1; }));
    }
    ActorFixture second(capped, store);
    CHECK(second.decision_trail("kim") == Names{"welcome send:ok"});  // read from the store
    second.send("kim", "sale", "k2");
    REQUIRE(test::poll_until([&] { return second.decisions("kim").size() == 2; }));
    CHECK(second.decision_trail("kim") == Names{"welcome send:ok", "offer suppress:cap"});
    CHECK(second.sent_programs("kim").empty());
}

TEST_CASE("requests and sends a crash interrupted are decided and offered at the next start") {
    auto store = std::make_shared<MemoryRecordStore>();
    const Config config = test::config_from(test::kTestJourney);
    ContactRequest undecided;
    undecided.customer = "lea";
    undecided.program = *config.journey.program_id("welcome");
    undecided.cause = "l1";
    undecided.decision_id = make_decision_id("lea", "welcome", "l1");
    undecided.at = midday_clock();
    Delivery unconfirmed;
    unconfirmed.decision_id = "feedfacefeedface";
    unconfirmed.customer = "max";
    unconfirmed.program = "reset";
    // As a crash leaves them: a customer's commit wrote the request, a decision's commit the
    // outbox entry, and nothing came after.
    store->commit({table_writes(
        {{Table::requests, undecided.decision_id, encode_request(undecided, config.journey)},
         {Table::outbox, unconfirmed.decision_id, encode_delivery(unconfirmed)}})});

    ActorFixture f(test::kTestJourney, store);
    REQUIRE(test::poll_until([&] { return f.sink->all().size() == 2; }));
    CHECK(f.sink->all()[0].decision_id == unconfirmed.decision_id);  // the outbox first
    CHECK(f.sink->all()[1].decision_id == undecided.decision_id);
    CHECK(f.decision_trail("lea") == Names{"welcome send:ok"});
    // Decided for good, the request leaves the store; confirmed by the sink, both sends leave
    // the outbox.
    CHECK(test::poll_until([&] { return store->stats().pending_requests == 0; }));
    CHECK(test::poll_until([&] { return store->stats().outbox == 0; }));
}

TEST_CASE("a deferred request stays in the store and is deferred again after a restart") {
    auto store = std::make_shared<MemoryRecordStore>();
    // midday_clock: the test runs at noon, inside these quiet hours.
    const std::string quiet =
        std::string(test::kTestJourney) + "quiet_hours = { start = \"11:00\", end = \"13:00\" }\n";
    {
        ActorFixture first(quiet, store);
        first.send("ned", "signup", "n1");
        REQUIRE(test::poll_until([&] { return first.decisions("ned").size() == 1; }));
        CHECK(first.decision_trail("ned") == Names{"welcome defer:quiet_hours"});
    }
    CHECK(store->stats().pending_requests == 1);
    ActorFixture second(quiet, store);
    REQUIRE(test::poll_until([&] { return second.decisions("ned").size() == 2; }));
    CHECK(second.decision_trail("ned") ==
          Names{"welcome defer:quiet_hours", "welcome defer:quiet_hours"});
    CHECK(store->stats().pending_requests == 1);
    CHECK(second.sink->all().empty());
}

TEST_CASE("an index entry left early by events is put right by the sweeper's call") {
    // Inactivity after 3 s: each event moves the timer later, the index keeps the first due.
    auto store = std::make_shared<MemoryRecordStore>();
    ActorFixture f(with_short_durations(test::kTestJourney, "1d", "3s"), store);
    f.send("oli", "view");
    const TimeMs first_due = store->timers_due(INT64_MAX, 10).at(0).due;
    // Time itself is what moves the timer: the second event must come measurably later than
    // the first, and well before the first entry is due.
    std::this_thread::sleep_for(1500ms);
    f.send("oli", "view");
    const TimeMs real_due = *JourneyEngine(f.config.journey).next_due(f.lookup("oli").state);
    CHECK(real_due > first_due + 1000);
    CHECK(store->timers_due(INT64_MAX, 10).at(0).due == first_due);
    // Once the early entry is due, the sweeper calls; nothing fires, the entry moves on.
    CHECK(test::poll_until([&] {
        auto due = store->timers_due(INT64_MAX, 10);
        return due.size() == 1 && due[0].due == real_due;
    }));
}

TEST_CASE("a batch is answered once, in batch order, with duplicates marked") {
    ActorFixture f(test::kTestJourney);
    std::vector<Event> events{f.event("ann", "a1"), f.event("bob", "b1"), f.event("ann", "a1"),
                              f.event("ann", "a2")};
    for (int c = 0; c < 200; ++c) events.push_back(f.event("c" + std::to_string(c % 50)));
    const std::vector<EventResult> results = f.send_batch(events);
    for (size_t i = 0; i < results.size(); ++i) {
        INFO("event " << i);
        CHECK(results[i].error.empty());
        CHECK(results[i].duplicate == (i == 2));
    }
    CHECK(f.lookup("ann").state.journey.events_seen == 2);
    CHECK(f.lookup("c7").state.journey.events_seen == 4);
    // Acknowledged means committed, as for single events.
    CHECK(f.store->stats().customers == 52);
    CHECK(f.send_batch({f.event("bob", "b1")})[0].duplicate);
    CHECK(f.send_batch({}).empty());
}

TEST_CASE("a failed commit fails every event of the batch with the commit's error") {
    ActorFixture f(test::kTestJourney);
    f.send("ann", "view");
    f.faulty->fail_commits = true;
    const std::vector<EventResult> results =
        f.send_batch({f.event("ann"), f.event("bob"), f.event("cid"), f.event("bob")});
    for (const EventResult& result : results) CHECK(result.error == "disk full (test)");
    f.faulty->fail_commits = false;
    CHECK_FALSE(f.store->read("bob").has_value());
}

TEST_CASE("after a failed commit its customers are restored: a retry is applied, not a duplicate") {
    ActorFixture f(test::kTestJourney);
    f.send("ann", "view", "a1");
    f.faulty->fail_commits = true;
    const std::vector<EventResult> failed =
        f.send_batch({f.event("ann", "a2"), f.event("bob", "b1")});
    CHECK(failed[0].error == "disk full (test)");
    CHECK(failed[1].error == "disk full (test)");
    // A single event's request fails as a batch's tickets do.
    bool refused = false;
    (*f.self)
        ->request(f.router.shard_for("cid"), kRequestTimeout, event_atom::value,
                  f.event("cid", "c1"))
        .receive([](EventOutcome) {}, [&](caf::error&) { refused = true; });
    CHECK(refused);
    f.faulty->fail_commits = false;

    // What the customers held in memory was never stored: the retries are new to them. The
    // writer takes events again once its next attempt (after a back-off) has committed.
    std::vector<EventResult> retried;
    REQUIRE(test::poll_until([&] {
        retried = f.send_batch({f.event("ann", "a2"), f.event("bob", "b1"), f.event("cid", "c1")});
        return std::all_of(retried.begin(), retried.end(),
                           [](const EventResult& r) { return r.error.empty(); });
    }));
    for (const EventResult& result : retried) CHECK_FALSE(result.duplicate);
    CHECK(f.lookup("ann").state.journey.events_seen == 2);
    CHECK(f.lookup("bob").state.journey.events_seen == 1);
    CHECK(f.store->stats().customers == 3);
    CHECK(f.store->stats().customers_in_stage["exploring"] == 3);
    CHECK(f.send_batch({f.event("bob", "b1")})[0].duplicate);
}

TEST_CASE("a send decided for an event whose commit failed goes out once, retried or not") {
    ActorFixture f(test::kTestJourney);
    f.faulty->fail_commits = true;
    CHECK_FALSE(f.send_batch({f.event("eve", "e1")})[0].error.empty());
    // The coordinator decided the welcome; its commit waits for the store to take it, and the
    // send waits for its commit.
    std::this_thread::sleep_for(300ms);
    CHECK(f.sent_programs("eve").empty());
    f.faulty->fail_commits = false;
    CHECK(test::poll_until([&] { return f.sent_programs("eve") == Names{"welcome"}; }));

    // The retry is applied to the restored (new) customer and asks for the same welcome.
    EventResult retried;
    REQUIRE(test::poll_until([&] {
        retried = f.send_batch({f.event("eve", "e1")})[0];
        return retried.error.empty();
    }));
    CHECK_FALSE(retried.duplicate);
    CHECK(test::poll_until([&] { return f.store->read_all(Table::requests).empty(); }));
    std::this_thread::sleep_for(100ms);
    CHECK(f.sent_programs("eve") == Names{"welcome"});
    CHECK(f.decision_trail("eve") == Names{"welcome send:ok"});
}

TEST_CASE("a customer actor that ends with events of a batch in flight fails them") {
    ActorFixture f(test::kTestJourney);
    // A full window, so that the next event reads the store's history, which then throws:
    // the customer's actor ends with the exception, its event never committed.
    for (size_t i = 0; i < RecentEventIds::kCapacity; ++i) f.send("kim", "view");
    f.faulty->fail_was_applied = true;
    const std::vector<EventResult> results =
        f.send_batch({f.event("kim"), f.event("lea"), f.event("kim"), f.event("lea")});
    f.faulty->fail_was_applied = false;
    CHECK_FALSE(results[0].error.empty());
    CHECK_FALSE(results[2].error.empty());
    CHECK(results[1].error.empty());
    CHECK(results[3].error.empty());
    // The next event activates a new actor from the stored record.
    CHECK(f.send("kim", "view") == EventOutcome::accepted);
    CHECK(f.lookup("kim").state.journey.events_seen == RecentEventIds::kCapacity + 1);
}

TEST_CASE("the store's history of applied ids is read only once the customer's window is full") {
    ActorFixture f(test::kTestJourney);
    // Until the window wraps it holds every id the customer applied: the store has no other.
    for (size_t i = 0; i < RecentEventIds::kCapacity; ++i) f.send("max", "view");
    CHECK(f.faulty->was_applied_calls == 0);
    f.send("max", "view");
    CHECK(f.faulty->was_applied_calls == 1);
    CHECK(f.send("max", "view", "ev1") == EventOutcome::duplicate);  // from the store
}

TEST_CASE("events of a batch that arrive while their customer passivates go to its successor") {
    ActorFixture f(std::string(test::kTestJourney) + "\n[runtime]\nidle_after = \"100ms\"\n");
    std::mt19937 random(11);
    for (int i = 0; i < 25; ++i) {
        const std::vector<EventResult> results =
            f.send_batch({f.event("pia", "p" + std::to_string(i)), f.event("pia", "p0")});
        CHECK(results[0].error.empty());
        CHECK(results[1].error.empty());
        CHECK(results[1].duplicate);  // of p0, even in the first batch
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
    }
    CHECK(test::poll_until([&] { return f.metrics->customers_live == 0; }));
    CHECK(f.metrics->passivations > 1);
    CHECK(f.lookup("pia").state.journey.events_seen == 25);
}

// Notices at random moments around the idle time, so that some find their customer passivating:
// they go to its successor. Dropped there, a notice would wait for the next start and its
// window would be missing here.
TEST_CASE("action notices open their windows also while the customer passivates") {
    ActorFixture f(std::string(test::kTestJourney) + R"(
[[action]]
name = "tip"
channel = "push"
priority = "promotional"
template = "tip-1"
goal = { event = "ad_placed", within = "1h" }

[runtime]
idle_after = "40ms"
)");
    REQUIRE(f.send("pia", "view") == EventOutcome::accepted);
    std::mt19937 random(5);
    constexpr int kNotices = 60;
    for (int i = 0; i < kNotices; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(40'000 + random() % 20'000));
        caf::anon_send(f.router.shard_for("pia"), notice_atom::value,
                       GoalNotice{"d" + std::to_string(i), "pia", 0, midday_clock()});
    }
    CHECK(test::poll_until([&] { return f.store->stats().actions["tip"].sent == kNotices; }));
    CHECK(f.metrics->passivations > 1);
    CHECK(f.lookup("pia").state.journey.goal_windows.size() == kNotices);
    CHECK(f.store->read_all(Table::notices).empty());
}

TEST_CASE("if the store writer ends, events of a batch fail rather than wait") {
    ActorFixture f(test::kTestJourney);
    f.send("ann", "view");
    (*f.self)->send_exit(f.writer, caf::exit_reason::kill);
    (*f.self)->wait_for(f.writer);
    // The shards learn of it by their monitor; a batch sent before that is failed by it.
    CHECK(test::poll_until([&] {
        const std::vector<EventResult> results = f.send_batch({f.event("ann"), f.event("bob")});
        return results[0].error.find("store writer ended") != std::string::npos &&
               results[1].error.find("store writer ended") != std::string::npos;
    }));
}

TEST_CASE("a passivated customer leaves the coordinator once committed, and caps still hold") {
    const std::string capped = capped_offer_journey() + "\n[runtime]\nidle_after = \"100ms\"\n";
    ActorFixture f(capped);
    f.send("kim", "signup", "k1");
    REQUIRE(test::poll_until([&] { return f.sent_programs("kim").size() == 1; }));
    REQUIRE(test::poll_until(
        [&] { return f.metrics->customers_live == 0 && f.coordinator_stats().customers == 0; }));
    CHECK(f.decision_trail("kim") == Names{"welcome send:ok"});  // read from the store

    f.send("kim", "sale", "k2");
    REQUIRE(test::poll_until([&] { return f.decisions("kim").size() == 2; }));
    CHECK(f.decision_trail("kim") == Names{"welcome send:ok", "offer suppress:cap"});
    CHECK(f.sent_programs("kim").size() == 1);
    CHECK(test::poll_until([&] { return f.coordinator_stats().customers == 0; }));
}
