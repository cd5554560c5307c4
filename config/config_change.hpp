// Checking a configuration change before it is applied (the dry run of POST /config,
// docs/operations.md "Changing the configuration"): what the new text would change, and why
// it cannot be applied as it is.
//
// Contract: check_config_change loads `proposed_text` with the loader and, when it loads,
// compares it with `running` (the configuration in force, before command-line overrides):
// - errors: every loader error with its line; then every setting that cannot change without
//   a restart, named by its TOML key ("node.data_dir cannot change without a restart"), at
//   the key's line in the new text (its table's where the text leaves the key out, 0 where it
//   leaves the table out: the setting goes back to its default, a change too); then every
//   removed stage that holds customers, since moving them ([journey.migrate]) is not built
//   yet; then every cluster member whose customers could not be counted.
// - changes: stages added and removed, programs added, removed and changed, and the segments
//   and actions added, removed or changed, by name, each list in name order. A program,
//   segment or action is changed when its compiled definition differs with stages, segments,
//   actions, priority classes and event windows read as the names they stand for: moving it
//   in the file, or inserting a stage before the one it names, is no change.
// - customers_affected: the customers in each removed stage and in each kept stage whose
//   rules changed: the transitions that apply in it (in their order: the first match wins)
//   and the timers that run in it.
// Nothing is applied; the function only reads its arguments.
//
// Settings that need a restart: every key of [node], [cluster], [admin], [ingest],
// [delivery], [store], [runtime] and [identity]. Each is read once when journeyd starts (the
// ports, their TLS and limits, the store, the sink, the threads, the customers' shared
// context), and nothing takes a new value while it runs. What may change is the journey:
// [journey], [[program]], [[segment]], [[action]], [decisioning], [experiment], [rhythm],
// [pressure].
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace journeyd {

struct ConfigChanges {
    std::vector<std::string> stages_added;
    std::vector<std::string> stages_removed;
    std::vector<std::string> programs_added;
    std::vector<std::string> programs_removed;
    std::vector<std::string> programs_changed;
    std::vector<std::string> segments_changed;  // added, removed or redefined
    std::vector<std::string> actions_changed;   // added, removed or redefined
};

struct ConfigCheck {
    std::string version;  // config_version of the proposed text
    std::vector<ConfigError> errors;
    ConfigChanges changes;
    std::map<std::string, int64_t> customers_affected;  // stage -> customers in it
    bool applied = false;  // set by whoever applies it (the daemon), never by the check

    bool ok() const { return errors.empty(); }
};

// Customers per stage name, as the store counts them (StoreStats::customers_in_stage), summed
// over the cluster; `uncounted_members` names the members that did not answer.
struct StageCounts {
    std::map<std::string, int64_t> customers_in_stage;
    std::vector<std::string> uncounted_members;
};

// `check`: whether the settings that need a restart are compared. Another cluster
// member asked to take a change posted to one member (docs/cluster.md) compares none: the text
// carries the posting member's [node], and each member keeps its own settings, taking only the
// journey of the text.
enum class RestartSettingsCheck { compared, skipped };

ConfigCheck check_config_change(const Config& running, std::string_view proposed_text,
                                const std::string& source_name, const StageCounts& counts,
                                RestartSettingsCheck check = RestartSettingsCheck::compared);

// The TOML keys of the settings that need a restart ("node.data_dir", ...), in the order they
// are checked.
std::vector<std::string_view> restart_setting_keys();

}  // namespace journeyd
