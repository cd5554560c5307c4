// The rules of an identify merge (state/journey/identity.hpp) and the store's forms of an alias.
#include "state/journey/identity.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "state/codec/customer_codec.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/stable_hash.hpp"
#include "state/store/record_store.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kDay = 86'400'000;
constexpr TimeMs kStart = 1'780'315'200'000;

// The test journey with one segment: customers in it.
const std::string kJourney = std::string(test::kTestJourney) + R"(
[[segment]]
name = "explorers"
when = [ { stage = ["exploring"] } ]
)";

struct Customers {
    Customers() : config(test::config_from(kJourney)), engine(config.journey) {}

    CustomerState& send(const std::string& id, const std::string& type, TimeMs at,
                        nlohmann::json attrs = nullptr) {
        CustomerState& c = customers[id];
        c.id = id;
        Effects effects;
        engine.apply(c, Event{"e" + std::to_string(++n), id, type, at, std::move(attrs)}, at,
                     effects);
        return c;
    }
    const std::string& stage(const CustomerState& c) const {
        return config.journey.stages[c.journey.stage];
    }

    Config config;
    JourneyEngine engine;
    std::map<std::string, CustomerState> customers;
    int n = 0;
};

}  // namespace

TEST_CASE("identity: the canonical profile wins, the alias's fills what it lacks") {
    Customers t;
    t.send("device", "profile", kStart,
           {{"color", "red"}, {"tz", "Europe/Paris"}, {"consent", {{"sms", false}}}});
    t.send("ann", "profile", kStart, {{"tz", "Europe/Lisbon"}, {"consent", {{"email", true}}}});
    CustomerState ann = t.customers["ann"];
    const MergeEffects effects = merge_customer(ann, t.customers["device"], t.config.journey);
    CHECK(ann.profile.attrs() == nlohmann::json({{"color", "red"},
                                                 {"tz", "Europe/Lisbon"},
                                                 {"consent", {{"email", true}, {"sms", false}}}}));
    CHECK(effects.preferences_changed);  // the device refused SMS
    CHECK(ann.id == "ann");
}

TEST_CASE("identity: the stage is the canonical's unless the canonical is new") {
    Customers t;
    t.send("device", "search", kStart);                       // new -> exploring
    t.send("ann", "profile", kStart + 1, {{"name", "Ann"}});  // new
    t.send("bob", "ad_placed", kStart + 2);                   // new -> active
    CHECK(t.stage(t.customers["device"]) == "exploring");

    CustomerState ann = t.customers["ann"];
    MergeEffects effects = merge_customer(ann, t.customers["device"], t.config.journey);
    CHECK(t.stage(ann) == "exploring");
    CHECK(ann.journey.stage_since == t.customers["device"].journey.stage_since);
    REQUIRE(effects.stage_move);
    CHECK(*effects.stage_move == std::make_pair(std::string("new"), std::string("exploring")));
    // The device leaves its stage's count; its record counts as a stored entry in none.
    CHECK(effects.alias.move == std::make_pair(std::string("exploring"), std::string()));
    CHECK(effects.alias.counter_changes ==
          std::vector<std::pair<std::string, int64_t>>{{kSegmentCount + "explorers", -1},
                                                       {kAliasCount, 1}});
    // Its inactivity timer came along (it belongs to the stage), and its delayed nudge.
    std::vector<TimerKind> kinds;
    for (const PendingTimer& timer : ann.journey.timers) kinds.push_back(timer.kind);
    CHECK(std::count(kinds.begin(), kinds.end(), TimerKind::inactivity) == 1);
    CHECK(std::count(kinds.begin(), kinds.end(), TimerKind::program_delay) == 1);

    CustomerState bob = t.customers["bob"];
    effects = merge_customer(bob, t.customers["device"], t.config.journey);
    CHECK(t.stage(bob) == "active");
    CHECK_FALSE(effects.stage_move);
    // Bob keeps his own inactivity timer; the device's delayed nudge joins with a new seq.
    size_t inactivity = 0;
    std::set<uint32_t> seqs;
    for (const PendingTimer& timer : bob.journey.timers) {
        inactivity += timer.kind == TimerKind::inactivity;
        seqs.insert(timer.seq);
    }
    CHECK(inactivity == 1);
    CHECK(seqs.size() == bob.journey.timers.size());

    // A canonical id the merge creates takes the alias's stage too.
    CustomerState fresh;
    fresh.id = "carol";
    effects = merge_customer(fresh, t.customers["device"], t.config.journey);
    CHECK(fresh.journey.created);
    CHECK(t.stage(fresh) == "exploring");
    CHECK(*effects.stage_move == std::make_pair(std::string(), std::string("exploring")));
}

TEST_CASE("identity: applied ids of both, the canonical's own kept in its window") {
    Customers t;
    for (int i = 0; i < 50; ++i) t.send("device", "view", kStart + i);
    for (int i = 0; i < 40; ++i) t.send("ann", "view", kStart + i);
    CustomerState ann = t.customers["ann"];
    const std::vector<uint64_t> own = oldest_first(ann.journey.recent_ids);
    const MergeEffects effects = merge_customer(ann, t.customers["device"], t.config.journey);
    const std::vector<uint64_t> window = oldest_first(ann.journey.recent_ids);
    REQUIRE(window.size() == RecentEventIds::kCapacity);
    // Ann's 40 are the newest; the device's newest 24 fill the rest; its record keeps all 50.
    CHECK(std::vector<uint64_t>(window.end() - 40, window.end()) == own);
    CHECK(effects.alias.recent_ids.size() == 50);
    CHECK(
        std::vector<uint64_t>(window.begin(), window.begin() + 24) ==
        std::vector<uint64_t>(effects.alias.recent_ids.end() - 24, effects.alias.recent_ids.end()));
    CHECK(ann.journey.events_seen == 90);
    // The window goes on as a ring: the next id pushes out the oldest.
    const auto forgotten = ann.journey.recent_ids.remember(stable_hash("next"));
    REQUIRE(forgotten);
    CHECK(*forgotten == window.front());
}

TEST_CASE("identity: count windows, goal windows and segments") {
    Customers t;
    t.send("device", "ad_placed", kStart);
    t.send("device", "sale", kStart + kDay);
    t.send("ann", "ad_placed", kStart + 2 * kDay);
    t.send("ann", "sale", kStart + 3 * kDay);
    CustomerState ann = t.customers["ann"];
    ann.journey.goal_windows.push_back({GoalOf::program_treated, 0, 7, kStart, kStart + kDay});
    CustomerState device = t.customers["device"];
    device.journey.goal_windows.push_back({GoalOf::action, 1, 9, kStart, kStart + 2 * kDay});
    device.journey.segments = {0};
    const size_t hits = ann.journey.window_hits.size() + device.journey.window_hits.size();
    const MergeEffects effects = merge_customer(ann, device, t.config.journey);
    // The device leaves its segment's count.
    CHECK(effects.alias.counter_changes ==
          std::vector<std::pair<std::string, int64_t>>{{kSegmentCount + "explorers", -1},
                                                       {kAliasCount, 1}});
    CHECK(ann.journey.window_hits.size() == hits);
    CHECK(std::is_sorted(ann.journey.window_hits.begin(), ann.journey.window_hits.end(),
                         by_rule_then_ts));
    CHECK(ann.journey.goal_windows.size() == 2);
    CHECK(ann.journey.segments.empty());  // groups follow the canonical id
}

TEST_CASE("identity: alias records and alias lists round-trip; a customer record is no alias") {
    const std::string record = encode_alias_record({"ann", {1, 2, 3}});
    CHECK(is_alias_record(record));
    std::string error;
    const auto alias = decode_alias_record(record, error);
    REQUIRE(alias);
    CHECK(alias->canonical == "ann");
    CHECK(alias->recent_ids == std::vector<uint64_t>{1, 2, 3});
    Customers t;
    const std::string customer = encode_customer(t.send("bob", "view", kStart), t.config.journey);
    CHECK_FALSE(is_alias_record(customer));
    CHECK_FALSE(decode_alias_record(customer, error));
    CHECK_FALSE(decode_alias_record(std::string(1, char(kAliasRecordVersion)) + "\xff", error));

    MergeIn in;
    in.alias = "device-42";
    in.into = "ann";
    in.record = customer;
    in.aliases = {"tablet", "watch"};
    in.repoint = {"tablet"};
    in.identify = Event{"i1", "device-42", "identify", kStart, {{"as", "ann"}}};
    in.handover = "bytes";
    const auto back = decode_merge_in(encode_merge_in(in), error);
    REQUIRE(back);
    CHECK(back->alias == in.alias);
    CHECK(back->into == in.into);
    CHECK(back->record == in.record);
    CHECK(back->aliases == in.aliases);
    CHECK(back->repoint == in.repoint);
    CHECK(back->identify.id == "i1");
    CHECK(back->identify.ts == kStart);
    CHECK(back->identify.attrs == in.identify.attrs);
    CHECK(back->handover == "bytes");
    CHECK_FALSE(decode_merge_in("\x93", error));

    const auto list = decode_alias_list(encode_alias_list({"device-42", "phone"}), error);
    REQUIRE(list);
    CHECK(*list == std::vector<std::string>{"device-42", "phone"});
    CHECK_FALSE(decode_alias_list("\xc1", error));
}

TEST_CASE("identity: the store counts an alias's leave, and customers without aliases") {
    StoreRecord gone;
    gone.customer = "device";
    gone.record = "x";
    gone.stage_move = std::make_pair(std::string("exploring"), std::string());
    gone.counter_changes = {{kAliasCount, 1}};
    std::map<std::string, int64_t> deltas;
    count_moves(gone, deltas);
    CHECK(deltas == std::map<std::string, int64_t>{{"exploring", -1}, {kAliasCount, 1}});
    StoreStats stats;
    stats.customers = 5;
    add_counts(deltas, stats);
    CHECK(stats.aliases == 1);
    CHECK(stored_customers(stats) == 4);
    CHECK(stats.customers_in_stage["exploring"] == -1);
}
