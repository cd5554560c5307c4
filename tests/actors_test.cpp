// Actor tests on a real actor system: every wait is a poll with a deadline, never a sleep
// that hopes the work is done.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <regex>
#include <thread>

#include "actors/coordinator_stub.hpp"
#include "actors/customer_shard.hpp"
#include "actors/messages.hpp"
#include "actors/store_writer.hpp"
#include "state/customer_codec.hpp"
#include "test_models.hpp"

using namespace journeyd;
using namespace std::chrono_literals;

namespace {

constexpr auto kDeadline = 10s;

// Days become milliseconds so timers fire within a test. Margins matter on a loaded CI
// machine: where a test must act before a timer fires, give it a second or more.
std::string with_short_durations(const std::string& toml, const std::string& delay_to,
                                 const std::string& after_to) {
    static const std::regex delay(R"re(delay(\s*)=(\s*)"[0-9]+[a-z]+")re");
    static const std::regex after(R"re(after(\s*)=(\s*)"[0-9]+[a-z]+")re");
    return std::regex_replace(std::regex_replace(toml, delay, "delay$1=$2\"" + delay_to + "\""),
                              after, "after$1=$2\"" + after_to + "\"");
}

struct ActorFixture {
    explicit ActorFixture(const std::string& toml) : config(test::config_from(toml)) {
        cfg.set("scheduler.max-threads", 2);
        cfg.set("logger.verbosity", caf::atom("quiet"));
        system = std::make_unique<caf::actor_system>(cfg);
        auto context = std::make_shared<CustomerContext>();
        context->engine = std::make_shared<JourneyEngine>(config.journey);
        writer = system->spawn(store_writer, store, GroupCommit{});
        context->store_writer = writer;
        context->coordinator = system->spawn(coordinator_stub);
        context->now = system_now_ms;
        coordinator = context->coordinator;
        router = ShardRouter(*system, context, 3);
        self = std::make_unique<caf::scoped_actor>(*system);
    }

    ~ActorFixture() {
        self.reset();
        for (const caf::actor& shard : router.shards())
            caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    }

    EventOutcome send(const std::string& customer, const std::string& type,
                      const std::string& id = "", nlohmann::json attrs = nullptr) {
        Event e{id.empty() ? "ev" + std::to_string(++next_id) : id, customer, type, system_now_ms(),
                std::move(attrs)};
        EventOutcome outcome{};
        bool answered = false;
        (*self)
            ->request(router.shard_for(customer), kDeadline, event_atom::value, std::move(e))
            .receive([&](EventOutcome o) { outcome = o, answered = true; },
                     [&](caf::error& err) { FAIL("event failed: " << caf::to_string(err)); });
        REQUIRE(answered);
        return outcome;
    }

    CustomerLookup lookup(const std::string& customer) {
        CustomerLookup found;
        (*self)
            ->request(router.shard_for(customer), kDeadline, lookup_atom::value, customer)
            .receive([&](CustomerLookup& l) { found = std::move(l); },
                     [&](caf::error& err) { FAIL("lookup failed: " << caf::to_string(err)); });
        return found;
    }

    std::string stage(const std::string& customer) {
        CustomerLookup l = lookup(customer);
        return l.found ? config.journey.stages[l.state.journey.stage] : "<none>";
    }

    std::vector<ContactRequest> contacts() {
        std::vector<ContactRequest> out;
        (*self)
            ->request(coordinator, kDeadline, requests_atom::value)
            .receive([&](std::vector<ContactRequest>& r) { out = std::move(r); },
                     [&](caf::error& err) { FAIL("coordinator: " << caf::to_string(err)); });
        return out;
    }

    std::vector<std::string> contact_programs(const std::string& customer) {
        std::vector<std::string> names;
        for (const ContactRequest& r : contacts())
            if (r.customer == customer && r.dropped_reason.empty())
                names.push_back(config.journey.programs[r.program].name);
        return names;
    }

    // Polls `condition` until it holds or the deadline passes; returns whether it held.
    template <class Condition>
    bool eventually(Condition condition) {
        const auto until = std::chrono::steady_clock::now() + kDeadline;
        while (std::chrono::steady_clock::now() < until) {
            if (condition()) return true;
            std::this_thread::sleep_for(10ms);
        }
        return condition();
    }

    Config config;
    caf::actor_system_config cfg;
    std::unique_ptr<caf::actor_system> system;
    std::shared_ptr<MemoryRecordStore> store = std::make_shared<MemoryRecordStore>();
    caf::actor coordinator;
    caf::actor writer;
    ShardRouter router;
    std::unique_ptr<caf::scoped_actor> self;
    int next_id = 0;
};

using Names = std::vector<std::string>;

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
    REQUIRE(f.eventually([&] { return f.contacts().size() == 2; }));
    auto requests = f.contacts();
    CHECK(f.config.journey.programs[requests[0].program].name == "welcome");
    CHECK(f.config.journey.programs[requests[1].program].name == "reset");
    CHECK(requests[1].cause == "event:reset-1");
    CHECK(requests[1].decision_id == make_decision_id("cy", "reset", "event:reset-1"));
    CHECK(requests[0].decision_id != requests[1].decision_id);
}

TEST_CASE("timers fire in the actor: delayed programs, then inactivity") {
    ActorFixture f(with_short_durations(test::kTestJourney, "150ms", "300ms"));
    f.send("dee", "search");
    CHECK(f.eventually([&] { return f.stage("dee") == "dormant"; }));
    CHECK(f.eventually([&] {
        return f.contact_programs("dee") == Names{"welcome", "nudge", "winback"};
    }));
    // The timer's effects are durable too, without any event.
    CHECK(f.eventually([&] {
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
    REQUIRE(f.eventually([&] {
        for (const ContactRequest& r : f.contacts())
            if (r.customer == "eve" && r.dropped_reason == "left_stage") return true;
        return false;
    }));
    auto timers = f.lookup("eve").state.journey.timers;
    REQUIRE(timers.size() == 1);
    CHECK(timers[0].kind == TimerKind::inactivity);
}

TEST_CASE("many customers across shards are all applied and stored") {
    ActorFixture f(test::kTestJourney);
    constexpr int kCustomers = 300;
    auto acknowledged = std::make_shared<std::atomic<int>>(0);
    auto failed = std::make_shared<std::atomic<int>>(0);
    // All requests in flight at once, as pipelining ingest connections would have them.
    f.system->spawn([&f, acknowledged, failed](caf::event_based_actor* driver) {
        for (int round = 0; round < 3; ++round)
            for (int c = 0; c < kCustomers; ++c) {
                const std::string id = "c" + std::to_string(c);
                driver
                    ->request(
                        f.router.shard_for(id), kDeadline, event_atom::value,
                        Event{"r" + std::to_string(round), id, "view", system_now_ms(), nullptr})
                    .then([acknowledged](
                              EventOutcome o) { *acknowledged += o == EventOutcome::accepted; },
                          [failed](caf::error&) { ++*failed; });
            }
    });
    CHECK(f.eventually([&] { return *acknowledged + *failed == 3 * kCustomers; }));
    CHECK(*acknowledged == 3 * kCustomers);
    CHECK(f.store->customer_count() == kCustomers);
    CHECK(f.lookup("c17").state.journey.events_seen == 3);
    CHECK(f.store->commits() < 3 * kCustomers);  // group commit batched them
}

TEST_CASE("the default journey drives a customer through all five stages in actors") {
    ActorFixture f(with_short_durations(std::string(default_config_text()), "150ms", "1500ms"));
    f.send("zoe", "signup");
    CHECK(f.stage("zoe") == "new");
    f.send("zoe", "search");
    CHECK(f.stage("zoe") == "exploring");
    REQUIRE(f.eventually([&] { return f.contact_programs("zoe").size() == 2; }));
    f.send("zoe", "ad_placed");
    CHECK(f.stage("zoe") == "active");
    f.send("zoe", "sale");
    f.send("zoe", "ad_placed");
    CHECK(f.stage("zoe") == "loyal");
    CHECK(f.eventually([&] { return f.stage("zoe") == "dormant"; }));
    f.send("zoe", "view");
    CHECK(f.stage("zoe") == "exploring");
    CHECK(f.eventually([&] {
        return f.contact_programs("zoe") == Names{"welcome",     "first_listing_nudge",
                                                  "seller_tips", "loyalty_thanks",
                                                  "winback",     "first_listing_nudge"};
    }));
}
