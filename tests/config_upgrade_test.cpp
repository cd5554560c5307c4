// A configuration change applied while journeyd runs: program and action ids kept across it
// (model_alignment.hpp), customers carried to it (customer_upgrade.hpp).
#include <catch2/catch.hpp>

#include "state/journey/customer_upgrade.hpp"
#include "state/journey/model_alignment.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kHour = 3'600'000;
constexpr TimeMs kDay = 24 * kHour;
constexpr TimeMs kStart = 1'700'000'000'000;

const std::string kStages = R"(
[journey]
stages = ["new", "exploring", "dormant"]
initial_stage = "new"

[[journey.transition]]
on = "search"
to = "exploring"

[pressure]
hierarchy = ["lifecycle", "promotional"]
)";

const std::string kLapse30 = R"(
[[journey.timer]]
name = "lapse"
in = ["exploring"]
after = "30d"
to = "dormant"
)";

std::string program(const std::string& name, const std::string& extra = "") {
    return "\n[[program]]\nname = \"" + name +
           "\"\non_enter = \"exploring\"\nchannel = \"email\"\npriority = \"lifecycle\"\n"
           "template = \"" +
           name + "-1\"\n" + extra;
}

std::string action(const std::string& name) {
    return "\n[[action]]\nname = \"" + name +
           "\"\nchannel = \"push\"\npriority = \"promotional\"\ntemplate = \"" + name +
           "-t\"\ngoal = { event = \"sale\", within = \"7d\" }\n";
}

JourneyModel model_of(const std::string& toml) {
    return test::config_from(toml).journey;
}

std::vector<std::string> program_names(const JourneyModel& model) {
    std::vector<std::string> names;
    for (const Program& p : model.programs)
        names.push_back(p.name + (p.retired ? "(retired)" : ""));
    return names;
}

// A customer who searched at kStart under `engine`: in "exploring" with its timers armed.
CustomerState explorer(const JourneyEngine& engine) {
    CustomerState c;
    c.id = "c1";
    Effects effects;
    engine.apply(c, Event{"e1", "c1", "search", kStart, nullptr}, kStart, effects);
    return c;
}

std::vector<std::string> timer_names(const CustomerState& c, const JourneyEngine& engine) {
    std::vector<std::string> names;
    for (const PendingTimer& t : c.journey.timers)
        names.push_back(engine.timer_name(t) + "@" + std::to_string((t.due - kStart) / kHour));
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

TEST_CASE("a running program keeps its id; a new one comes after; a removed one is retired",
          "[config_upgrade]") {
    const JourneyModel running = model_of(kStages + program("a") + program("b") + program("c"));
    const JourneyModel next =
        align_ids(model_of(kStages + program("new-one") + program("c") + program("a")), running);
    CHECK(program_names(next) == std::vector<std::string>{"a", "b(retired)", "c", "new-one"});
    const Program& b = next.programs[1];
    CHECK_FALSE(b.on_enter);
    CHECK(b.template_name == "b-1");  // old decisions still name what was sent
    // The engine requests no retired program.
    const JourneyEngine engine(next);
    CustomerState c;
    c.id = "c1";
    Effects effects;
    engine.apply(c, Event{"e1", "c1", "search", kStart, nullptr}, kStart, effects);
    std::vector<std::string> requested;
    for (const ProgramRequest& r : effects.requests)
        requested.push_back(next.programs[r.program].name);
    std::sort(requested.begin(), requested.end());
    CHECK(requested == std::vector<std::string>{"a", "c", "new-one"});
    // Aligned again, a retired entry stays retired and where it was.
    const JourneyModel third = align_ids(model_of(kStages + program("a")), next);
    CHECK(program_names(third) ==
          std::vector<std::string>{"a", "b(retired)", "c(retired)", "new-one(retired)"});
}

TEST_CASE("a program's candidates follow the actions to their kept ids", "[config_upgrade]") {
    const std::string best =
        "\n[[program]]\nname = \"offer\"\non_enter = \"exploring\"\naction = \"best\"\n";
    const JourneyModel running =
        model_of(kStages + action("x") + action("y") + best + "actions = [\"y\"]\n");
    const JourneyModel next = align_ids(
        model_of(kStages + action("z") + action("y") + best + "actions = [\"y\", \"z\"]\n"),
        running);
    REQUIRE(next.actions.size() == 3);
    CHECK(next.actions[0].name == "x");
    CHECK(next.actions[0].retired);
    CHECK(next.actions[1].name == "y");
    CHECK(next.actions[2].name == "z");
    std::vector<std::string> candidates;
    for (ActionId a : next.programs[0].candidates) candidates.push_back(next.actions[a].name);
    CHECK(candidates == std::vector<std::string>{"y", "z"});
}

TEST_CASE("a customer carried to a new configuration keeps its state by name", "[config_upgrade]") {
    const JourneyEngine before(model_of(kStages + kLapse30 + program("a", "delay = \"2d\"\n")));
    CustomerState c = explorer(before);
    REQUIRE(timer_names(c, before) == std::vector<std::string>{"delay:a@48", "lapse@720"});
    Effects out;

    SECTION("a stage inserted before its own, a program added: nothing moves") {
        const JourneyEngine after(align_ids(model_of(R"(
[journey]
stages = ["new", "browsing", "exploring", "dormant"]
initial_stage = "new"
[[journey.transition]]
on = "search"
to = "exploring"
[pressure]
hierarchy = ["lifecycle", "promotional"]
)" + kLapse30 + program("b") + program("a", "delay = \"2d\"\n")),
                                            before.model()));
        REQUIRE(upgrade_customer(c, before, after, kStart + kHour, out).carried);
        CHECK(after.model().stages[c.journey.stage] == "exploring");
        CHECK(timer_names(c, after) == std::vector<std::string>{"delay:a@48", "lapse@720"});
        CHECK(out.drops.empty());
    }
    SECTION("a delayed program removed: dropped with program_removed") {
        const JourneyEngine after(
            align_ids(model_of(kStages + kLapse30 + program("b")), before.model()));
        REQUIRE(upgrade_customer(c, before, after, kStart + kHour, out).carried);
        CHECK(timer_names(c, after) == std::vector<std::string>{"lapse@720"});
        REQUIRE(out.drops.size() == 1);
        CHECK(after.model().programs[out.drops[0].program].name == "a");
        CHECK(out.drops[0].reason == kReasonProgramRemoved);
        CHECK(out.drops[0].cause == "event:e1");
    }
    SECTION("a delayed program changed: its timer stays, it fires under the new settings") {
        const JourneyEngine after(align_ids(
            model_of(kStages + kLapse30 +
                     "\n[[program]]\nname = \"a\"\non_enter = \"exploring\"\ndelay = \"5d\"\n"
                     "channel = \"push\"\npriority = \"promotional\"\ntemplate = \"a-2\"\n"),
            before.model()));
        REQUIRE(upgrade_customer(c, before, after, kStart + kHour, out).carried);
        CHECK(timer_names(c, after) == std::vector<std::string>{"delay:a@48", "lapse@720"});
        after.fire_due(c, kStart + 2 * kDay, out);
        REQUIRE(out.requests.size() == 1);
        CHECK(after.model().programs[out.requests[0].program].template_name == "a-2");
    }
    SECTION("an inactivity timer changed: re-armed from the last event under its new after") {
        const std::string lapse7 =
            "\n[[journey.timer]]\nname = \"lapse\"\nin = [\"exploring\"]\nafter = \"7d\"\n"
            "to = \"dormant\"\n";
        const JourneyEngine after(align_ids(
            model_of(kStages + lapse7 + program("a", "delay = \"2d\"\n")), before.model()));
        REQUIRE(upgrade_customer(c, before, after, kStart + kDay, out).carried);
        CHECK(timer_names(c, after) == std::vector<std::string>{"delay:a@48", "lapse@168"});
    }
    SECTION("an inactivity timer removed: cancelled") {
        const JourneyEngine after(
            align_ids(model_of(kStages + program("a", "delay = \"2d\"\n")), before.model()));
        REQUIRE(upgrade_customer(c, before, after, kStart + kHour, out).carried);
        CHECK(timer_names(c, after) == std::vector<std::string>{"delay:a@48"});
    }
    SECTION("its stage removed: not carried, left as it was") {
        const JourneyEngine after(align_ids(model_of(R"(
[journey]
stages = ["new", "dormant"]
initial_stage = "new"
[[journey.transition]]
on = "search"
to = "dormant"
[pressure]
hierarchy = ["lifecycle", "promotional"]
)"),
                                            before.model()));
        const CustomerState kept = c;
        const CustomerUpgrade upgrade = upgrade_customer(c, before, after, kStart + kHour, out);
        CHECK_FALSE(upgrade.carried);
        CHECK(upgrade.error.find("exploring") != std::string::npos);
        CHECK(c == kept);
    }
    SECTION("its stage removed and migrated: moved, without on_enter, timers of the new stage") {
        const std::string migrated = R"(
[journey]
stages = ["new", "active", "dormant"]
initial_stage = "new"
[journey.migrate]
exploring = "active"
[[journey.transition]]
on = "search"
to = "active"
[[journey.timer]]
name = "idle"
in = ["active"]
after = "3d"
to = "dormant"
[pressure]
hierarchy = ["lifecycle", "promotional"]
)";
        const JourneyEngine after(align_ids(
            model_of(migrated +
                     "\n[[program]]\nname = \"a\"\non_enter = \"active\"\ndelay = \"2d\"\n"
                     "channel = \"email\"\npriority = \"lifecycle\"\ntemplate = \"a-1\"\n"
                     "\n[[program]]\nname = \"hello\"\non_enter = \"active\"\n"
                     "channel = \"push\"\npriority = \"promotional\"\ntemplate = \"h\"\n"),
            before.model()));
        const CustomerUpgrade upgrade = upgrade_customer(c, before, after, kStart + kHour, out);
        REQUIRE(upgrade.carried);
        CHECK(upgrade.migrated_from == "exploring");
        CHECK(after.model().stages[c.journey.stage] == "active");
        // "lapse" is gone, "idle" runs from her last event; "hello" is not requested.
        CHECK(timer_names(c, after) == std::vector<std::string>{"delay:a@48", "idle@72"});
        CHECK(out.requests.empty());
        CHECK(out.stage_changes.empty());
    }
}

TEST_CASE("a customer read back under a configuration that changed since is settled by name",
          "[config_upgrade]") {
    const JourneyEngine before(model_of(kStages + kLapse30 + program("a", "delay = \"2d\"\n")));
    CustomerState c = explorer(before);
    const std::string record = encode_customer(c, before.model());
    Effects out;
    std::string error;
    ReadNotes notes;

    SECTION("its stage migrated, its timer and program gone: moved, timers of the new stage") {
        const JourneyEngine after(model_of(R"(
[journey]
stages = ["new", "active"]
initial_stage = "new"
[journey.migrate]
exploring = "active"
[[journey.timer]]
name = "idle"
in = ["active"]
after = "3d"
to = "new"
[pressure]
hierarchy = ["lifecycle", "promotional"]
)"));
        notes.migrated_from = "stale";
        auto read = decode_customer(record, after.model(), error, &notes);
        REQUIRE(read);
        CHECK(notes.migrated_from == "exploring");
        CHECK(notes.timers_dropped == 2);
        CHECK(after.model().stages[read->journey.stage] == "active");
        CHECK(settle_stored(*read, after, notes, kStart + kHour, out));
        CHECK(timer_names(*read, after) == std::vector<std::string>{"idle@72"});
        CHECK(out.drops.empty());  // "a" is unknown here: nothing can be decided of it
        // A stage of the model reads as itself, and says so.
        REQUIRE(
            decode_customer(encode_customer(*read, after.model()), after.model(), error, &notes));
        CHECK(notes.migrated_from.empty());
        CHECK(notes.timers_dropped == 0);
    }
    SECTION("its delayed program retired by a change: dropped with program_removed") {
        const JourneyEngine after(
            align_ids(model_of(kStages + kLapse30 + program("b")), before.model()));
        auto read = decode_customer(record, after.model(), error, &notes);
        REQUIRE(read);
        CHECK(notes.timers_dropped == 0);
        CHECK(settle_stored(*read, after, notes, kStart + kHour, out));
        CHECK(timer_names(*read, after) == std::vector<std::string>{"lapse@720"});
        REQUIRE(out.drops.size() == 1);
        CHECK(after.model().programs[out.drops[0].program].name == "a");
        CHECK(out.drops[0].reason == kReasonProgramRemoved);
    }
    SECTION("nothing changed: nothing to settle") {
        auto read = decode_customer(record, before.model(), error, &notes);
        REQUIRE(read);
        CHECK_FALSE(settle_stored(*read, before, notes, kStart + kHour, out));
        CHECK(*read == c);
    }
}
