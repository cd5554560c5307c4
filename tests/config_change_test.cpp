// Configuration versions and the check of a change (config/config_change.hpp): what a new
// text would change, and what it is refused for.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "config/config_change.hpp"
#include "config/config_version.hpp"

using namespace journeyd;

namespace {

constexpr std::string_view kRunning = R"([node]
name     = "n1"
data_dir = "./data"

[journey]
stages        = ["new", "browsing", "active"]
initial_stage = "new"

[[journey.transition]]
from = ["new"]
on   = "view"
to   = "browsing"

[[journey.transition]]
from = ["new", "browsing"]
on   = "ad_placed"
to   = "active"

[[journey.timer]]
name  = "lapse"
in    = ["browsing", "active"]
after = "30d"
to    = "new"

[[segment]]
name = "viewers"
when = [ { event = "view", min = 2, within = "7d" } ]

[[action]]
name     = "sell"
channel  = "push"
priority = "promotional"
template = "sell-1"
value    = 5
when     = [ { stage = ["browsing"] } ]
goal     = { event = "ad_placed", within = "3d" }

[[program]]
name     = "welcome"
on_enter = "new"
channel  = "email"
priority = "lifecycle"
template = "welcome-1"

[[program]]
name     = "nudge"
on_enter = "browsing"
delay    = "1d"
channel  = "push"
priority = "promotional"
template = "nudge-1"
when     = [ { segment = "viewers" } ]

[pressure]
hierarchy = ["service", "lifecycle", "promotional"]
)";

// The running text with `from` (which must be in it) replaced by `to`.
std::string edited(std::string_view from, std::string_view to,
                   std::string text = std::string(kRunning)) {
    const size_t at = text.find(from);
    INFO(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

// The 1-based line of `text` on which `needle` first stands.
int line_in(std::string_view text, std::string_view needle) {
    const size_t at = text.find(needle);
    REQUIRE(at != std::string_view::npos);
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

Config running_config() {
    ConfigResult loaded = load_config_text(kRunning, "running.toml");
    REQUIRE(loaded.errors.empty());
    return std::move(*loaded.config);
}

ConfigCheck check(std::string_view proposed, const StageCounts& counts = {}) {
    return check_config_change(running_config(), proposed, "proposed.toml", counts);
}

std::string describe(const ConfigCheck& c) {
    std::string text;
    for (const ConfigError& e : c.errors) text += e.to_string() + "\n";
    return text.empty() ? "(no errors)" : text;
}

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("config version: the first 12 hex digits of the text's SHA-256", "[config][change]") {
    CHECK(config_version("") == "e3b0c44298fc");  // SHA-256 of nothing
    CHECK(config_version("abc") == "ba7816bf8f01");
    CHECK(config_version(kRunning) == config_version(std::string(kRunning)));
    // A comment is part of the text an operator reviewed.
    CHECK(config_version(std::string(kRunning) + "# reviewed\n") != config_version(kRunning));
}

TEST_CASE("config change: the running text changes nothing", "[config][change]") {
    const ConfigCheck same = check(kRunning, {{{"browsing", 4}}, {}});
    INFO(describe(same));
    CHECK(same.ok());
    CHECK(same.version == config_version(kRunning));
    CHECK(same.changes.stages_added.empty());
    CHECK(same.changes.programs_changed.empty());
    CHECK(same.changes.segments_changed.empty());
    CHECK(same.changes.actions_changed.empty());
    CHECK(same.customers_affected.empty());
}

TEST_CASE("config change: loader errors come with their lines, and nothing is compared",
          "[config][change]") {
    const std::string broken = edited("to   = \"active\"", "to   = \"actve\"");
    const ConfigCheck c = check(broken);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].line == line_in(broken, "\"actve\""));
    CHECK(c.errors[0].message.find("unknown stage \"actve\"") != std::string::npos);
    CHECK(c.version == config_version(broken));
    CHECK(c.changes.stages_added.empty());
    CHECK(check("[journey\n").errors.at(0).line == 1);  // TOML syntax
}

TEST_CASE("config change: a node setting is refused, naming its key and line", "[config][change]") {
    const std::string moved = edited("data_dir = \"./data\"", "data_dir = \"/elsewhere\"");
    const ConfigCheck c = check(moved);
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message == "node.data_dir cannot change without a restart");
    CHECK(c.errors[0].line == line_in(moved, "/elsewhere"));

    // Tables the running text leaves out: the key's line, or its table's.
    const ConfigCheck added =
        check(std::string(kRunning) +
              "[store]\nsync = false\n[cluster]\nmembers = [\"n1@127.0.0.1:7410\"]\n");
    std::set<std::string> refused;
    for (const ConfigError& e : added.errors) refused.insert(e.message);
    CHECK(refused == std::set<std::string>{"store.sync cannot change without a restart",
                                           "cluster.members cannot change without a restart"});
    // The new text leaving a key out changes it back to its default: refused at line 0.
    const ConfigCheck dropped = check(edited("data_dir = \"./data\"\n", ""));
    REQUIRE(dropped.errors.size() == 1);
    CHECK(dropped.errors[0].message == "node.data_dir cannot change without a restart");
    CHECK(dropped.errors[0].line == 1);  // [node], still there
}

TEST_CASE("config change: every per-process setting is one that needs a restart",
          "[config][change]") {
    const std::set<std::string_view> process_tables = {"[node]",     "[cluster]", "[admin]",
                                                       "[ingest]",   "[store]",   "[runtime]",
                                                       "[delivery]", "[identity]"};
    std::set<std::string> expected;
    for (const TableKeys& table : known_config_keys()) {
        if (process_tables.count(table.table) == 0) continue;
        const std::string prefix(table.table.substr(1, table.table.size() - 2));
        for (std::string_view key : table.keys) expected.insert(prefix + "." + std::string(key));
    }
    const std::vector<std::string_view> keys = restart_setting_keys();
    CHECK(std::set<std::string>(keys.begin(), keys.end()) == expected);
}

TEST_CASE("config change: stages added, and an empty stage removed", "[config][change]") {
    const std::string text =
        edited(R"(stages        = ["new", "browsing", "active"])",
               R"(stages        = ["new", "browsing", "active", "loyal"])",
               edited("in    = [\"browsing\", \"active\"]", "in    = [\"browsing\"]"));
    const ConfigCheck added = check(text);
    INFO(describe(added));
    CHECK(added.ok());
    CHECK(added.changes.stages_added == Names{"loyal"});
    // The timer no longer runs in "active": its customers are affected.
    CHECK(added.customers_affected == std::map<std::string, int64_t>{{"active", 0}});

    // "active" removed along with what names it; no customer is in it.
    std::string without = edited(R"(stages        = ["new", "browsing", "active"])",
                                 R"(stages        = ["new", "browsing"])");
    without = edited("to   = \"active\"", "to   = \"browsing\"", without);
    without = edited("in    = [\"browsing\", \"active\"]", "in    = [\"browsing\"]", without);
    const ConfigCheck removed = check(without, {{{"browsing", 2}, {"new", 1}}, {}});
    INFO(describe(removed));
    CHECK(removed.ok());
    CHECK(removed.changes.stages_removed == Names{"active"});
    // "new" and "browsing" now move to "browsing" on ad_placed; "browsing"'s timer did not change
    // but its transition did.
    CHECK(removed.customers_affected ==
          std::map<std::string, int64_t>{{"active", 0}, {"browsing", 2}, {"new", 1}});
}

TEST_CASE("config change: a removed stage that holds customers is refused, naming it",
          "[config][change]") {
    std::string without = edited(R"(stages        = ["new", "browsing", "active"])",
                                 R"(stages        = ["new", "browsing"])");
    without = edited("to   = \"active\"", "to   = \"browsing\"", without);
    without = edited("in    = [\"browsing\", \"active\"]", "in    = [\"browsing\"]", without);
    const ConfigCheck c = check(without, {{{"active", 12}}, {}});
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].line == line_in(without, "stages "));
    CHECK(c.errors[0].message.find("stage \"active\" is removed but holds 12 customer(s)") == 0);
    CHECK(c.errors[0].message.find("[journey.migrate] (active = \"STAGE\")") != std::string::npos);
    CHECK(c.customers_affected.at("active") == 12);

    // Mapped to the stage they move to, it passes.
    const std::string migrated = without + "\n[journey.migrate]\nactive = \"browsing\"\n";
    const ConfigCheck moved = check(migrated, {{{"active", 12}}, {}});
    INFO(describe(moved));
    CHECK(moved.ok());
    CHECK(moved.changes.stages_removed == Names{"active"});
    CHECK(moved.customers_affected.at("active") == 12);
}

TEST_CASE("config change: a stage migrated earlier stays mapped while records still name it",
          "[config][change]") {
    // "gone" was removed by an earlier change; 3 stored customers have not been moved yet.
    const ConfigCheck forgotten = check(std::string(kRunning), {{{"gone", 3}, {"new", 1}}, {}});
    REQUIRE(forgotten.errors.size() == 1);
    CHECK(forgotten.errors[0].message ==
          "stage \"gone\", migrated by the configuration in force, still holds 3 customer(s) "
          "not yet moved: keep it in [journey.migrate]");
    CHECK(
        check(std::string(kRunning) + "\n[journey.migrate]\ngone = \"new\"\n", {{{"gone", 3}}, {}})
            .ok());
    CHECK(check(std::string(kRunning), {{{"gone", 0}}, {}}).ok());  // all moved
}

TEST_CASE("config change: programs added, removed and changed, by name", "[config][change]") {
    std::string text = edited("template = \"welcome-1\"", "template = \"welcome-2\"");
    text = edited("name     = \"nudge\"", "name     = \"nudge_v2\"", text);
    text += R"(
[[program]]
name     = "thanks"
on_event = "sale"
channel  = "email"
priority = "lifecycle"
template = "thanks-1"
)";
    const ConfigCheck c = check(text);
    INFO(describe(c));
    CHECK(c.ok());
    CHECK(c.changes.programs_added == Names{"nudge_v2", "thanks"});
    CHECK(c.changes.programs_removed == Names{"nudge"});
    CHECK(c.changes.programs_changed == Names{"welcome"});
    CHECK(c.customers_affected.empty());

    // What a program's settings mean, not the file's words: another delay is a change.
    CHECK(check(edited("delay    = \"1d\"", "delay    = \"2d\"")).changes.programs_changed ==
          Names{"nudge"});
    CHECK(
        check(edited("delay    = \"1d\"", "delay    = \"24h\"")).changes.programs_changed.empty());
}

TEST_CASE("config change: indices are read as names; moving a definition is no change",
          "[config][change]") {
    // A stage inserted first shifts every stage's index; a priority class inserted first, every
    // class's. The programs name the same stages and classes.
    std::string shifted = edited(R"(stages        = ["new", "browsing", "active"])",
                                 R"(stages        = ["vip", "new", "browsing", "active"])");
    shifted = edited(R"(hierarchy = ["service", "lifecycle", "promotional"])",
                     R"(hierarchy = ["legal", "service", "lifecycle", "promotional"])", shifted);
    const ConfigCheck c = check(shifted);
    INFO(describe(c));
    CHECK(c.ok());
    CHECK(c.changes.stages_added == Names{"vip"});
    CHECK(c.changes.programs_changed.empty());
    CHECK(c.changes.actions_changed.empty());
    CHECK(c.customers_affected.empty());

    // The program "welcome" written last instead of first.
    const std::string welcome = R"([[program]]
name     = "welcome"
on_enter = "new"
channel  = "email"
priority = "lifecycle"
template = "welcome-1"
)";
    const std::string reordered = edited(welcome, "") + "\n" + welcome;
    CHECK(check(reordered).changes.programs_changed.empty());

    // A program's trigger moved to another stage is a change.
    CHECK(check(edited("on_enter = \"browsing\"", "on_enter = \"active\""))
              .changes.programs_changed == Names{"nudge"});
}

TEST_CASE("config change: segments and actions added, removed or redefined", "[config][change]") {
    const std::string redefined = edited("min = 2, within = \"7d\"", "min = 3, within = \"7d\"",
                                         edited("value    = 5", "value    = 6"));
    const ConfigCheck c = check(redefined);
    INFO(describe(c));
    CHECK(c.ok());
    CHECK(c.changes.segments_changed == Names{"viewers"});
    CHECK(c.changes.actions_changed == Names{"sell"});
    // The program whose condition names the segment still names the same segment.
    CHECK(c.changes.programs_changed.empty());

    const std::string more = std::string(kRunning) + R"(
[[segment]]
name = "sellers"
when = [ { event = "ad_placed", min = 1, within = "90d" } ]
)";
    std::string fewer(kRunning);  // without its one [[action]]
    const size_t action = fewer.find("[[action]]");
    fewer.erase(action, fewer.find("[[program]]") - action);
    CHECK(check(more).changes.segments_changed == Names{"sellers"});
    CHECK(check(fewer).changes.actions_changed == Names{"sell"});
}

TEST_CASE("config change: a cluster member that did not answer fails the check, named",
          "[config][change]") {
    const ConfigCheck c = check(kRunning, {{}, {"node-c"}});
    REQUIRE(c.errors.size() == 1);
    CHECK(c.errors[0].message.find("cluster member node-c did not answer") == 0);
    CHECK(c.errors[0].line == 0);
}
