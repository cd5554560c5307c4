#include "config/config_change.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include <toml++/toml.h>

#include "config/config_version.hpp"

namespace journeyd {
namespace {

using nlohmann::json;

// A setting that needs a restart: its TOML key, and its value in a Config.
struct RestartSetting {
    std::string_view key;
    json (*value)(const Config&);
};

const std::vector<RestartSetting>& restart_settings() {
    static const std::vector<RestartSetting> settings = {
        {"node.name", [](const Config& c) -> json { return c.node.name; }},
        {"node.data_dir", [](const Config& c) -> json { return c.node.data_dir; }},
        {"node.ingest", [](const Config& c) -> json { return c.node.ingest; }},
        {"node.admin", [](const Config& c) -> json { return c.node.admin; }},
        {"cluster.members",
         [](const Config& c) -> json {
             json members = json::array();
             for (const ClusterMember& m : c.cluster.members)
                 members.push_back({m.name, m.host, m.port});
             return members;
         }},
        {"cluster.listen", [](const Config& c) -> json { return c.cluster.listen; }},
        {"cluster.connect_timeout",
         [](const Config& c) -> json { return c.cluster.connect_timeout; }},
        {"cluster.forward_timeout",
         [](const Config& c) -> json { return c.cluster.forward_timeout; }},
        {"admin.token", [](const Config& c) -> json { return c.admin.token; }},
        {"admin.max_body", [](const Config& c) -> json { return c.admin.max_body; }},
        {"admin.max_connections", [](const Config& c) -> json { return c.admin.max_connections; }},
        {"admin.read_timeout", [](const Config& c) -> json { return c.admin.read_timeout; }},
        {"admin.tls_cert", [](const Config& c) -> json { return c.admin.tls.cert; }},
        {"admin.tls_key", [](const Config& c) -> json { return c.admin.tls.key; }},
        {"ingest.max_connections",
         [](const Config& c) -> json { return c.ingest.max_connections; }},
        {"ingest.max_frame", [](const Config& c) -> json { return c.ingest.max_frame; }},
        {"ingest.max_pending_frames",
         [](const Config& c) -> json { return c.ingest.max_pending_frames; }},
        {"ingest.max_unsent_bytes",
         [](const Config& c) -> json { return c.ingest.max_unsent_bytes; }},
        {"ingest.io_threads", [](const Config& c) -> json { return c.ingest.io_threads; }},
        {"ingest.idle_timeout", [](const Config& c) -> json { return c.ingest.idle_timeout; }},
        {"ingest.token", [](const Config& c) -> json { return c.ingest.token; }},
        {"ingest.tls_cert", [](const Config& c) -> json { return c.ingest.tls.cert; }},
        {"ingest.tls_key", [](const Config& c) -> json { return c.ingest.tls.key; }},
        {"delivery.sink", [](const Config& c) -> json { return c.delivery.sink; }},
        {"store.sync", [](const Config& c) -> json { return c.store.sync; }},
        {"store.applied_ids_retention",
         [](const Config& c) -> json { return c.store.applied_ids_retention; }},
        {"store.max_size", [](const Config& c) -> json { return c.store.max_size; }},
        {"runtime.idle_after", [](const Config& c) -> json { return c.runtime.idle_after; }},
        {"runtime.realtime_coordinator",
         [](const Config& c) -> json { return c.runtime.realtime_coordinator; }},
        {"identity.max_aliases", [](const Config& c) -> json { return c.identity.max_aliases; }},
    };
    return settings;
}

template <class T>
bool contains(const std::vector<T>& items, const T& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

// Where the key "a.b" is written in the new text, else its table "a"; 0 where neither is.
int line_of(const toml::table& root, std::string_view key) {
    if (const toml::node* node = root.at_path(key).node())
        return static_cast<int>(node->source().begin.line);
    if (const toml::node* table = root.at_path(key.substr(0, key.find('.'))).node())
        return static_cast<int>(table->source().begin.line);
    return 0;
}

// Names for the indices a compiled model holds, so that two models compare by meaning. An index
// out of range (no loaded model has one) reads as "".
class Names {
  public:
    Names(const JourneyModel& model, const PressurePolicy& policy)
        : model_(model), policy_(policy) {}

    std::string stage(StageId id) const { return at(model_.stages, id); }
    std::string priority(PriorityClass id) const { return at(policy_.hierarchy, id); }
    std::string segment(uint16_t id) const {
        return id < model_.conditions.segments.size() ? model_.conditions.segments[id].name : "";
    }
    std::string window_event(uint16_t id) const {
        return id < model_.conditions.windows.size() ? model_.conditions.windows[id].type : "";
    }
    std::string action(ActionId id) const {
        return id < model_.actions.size() ? model_.actions[id].name : "";
    }

    json stages(const std::vector<StageId>& ids) const {
        json names = json::array();
        for (StageId id : ids) names.push_back(stage(id));
        return names;
    }

  private:
    static std::string at(const std::vector<std::string>& names, size_t id) {
        return id < names.size() ? names[id] : "";
    }

    const JourneyModel& model_;
    const PressurePolicy& policy_;
};

// Each entry as written, its line left out: where it stands in the file is no part of it.
json condition_definition(const Condition& condition, const Names& names) {
    json entries = json::array();
    for (const ConditionEntry& e : condition.entries) {
        const bool counts_events = e.kind == EntryKind::event_count;
        const bool names_segment = e.kind == EntryKind::segment || e.kind == EntryKind::not_segment;
        entries.push_back({{"kind", static_cast<int>(e.kind)},
                           {"stages", names.stages(e.stages)},
                           {"attr", e.attr},
                           {"values", e.values},
                           {"comparison", static_cast<int>(e.comparison)},
                           {"number", e.number},
                           {"exists", e.exists},
                           {"event", counts_events ? names.window_event(e.window) : ""},
                           {"at_least", e.at_least},
                           {"count", e.count},
                           {"duration", e.duration},
                           {"segment", names_segment ? names.segment(e.segment) : ""}});
    }
    return entries;
}

json goal_definition(const Goal& goal) {
    return {{"event", goal.event}, {"within", goal.within}};
}

json program_definition(const Program& p, const Names& names) {
    auto optional_name = [](const auto& id, auto name_of) -> json {
        return id ? json(name_of(*id)) : json(nullptr);
    };
    auto segment_name = [&](uint16_t id) { return names.segment(id); };
    json candidates = json::array();
    for (ActionId id : p.candidates) candidates.push_back(names.action(id));
    return {{"on_enter", optional_name(p.on_enter, [&](StageId id) { return names.stage(id); })},
            {"on_event", p.on_event},
            {"on_segment_enter", optional_name(p.on_segment_enter, segment_name)},
            {"on_segment_exit", optional_name(p.on_segment_exit, segment_name)},
            {"delay", p.delay},
            {"channel", p.channel},
            {"priority", names.priority(p.priority)},
            {"template", p.template_name},
            {"when", condition_definition(p.when, names)},
            {"best_action", p.best_action},
            {"candidates", std::move(candidates)},
            {"goal", goal_definition(p.goal)},
            {"holdout", p.holdout},
            {"send_at", p.send_at_best_hour ? "best_hour" : "now"},
            {"send_within", p.send_within}};
}

json action_definition(const Action& a, const Names& names) {
    return {{"channel", a.channel},
            {"priority", names.priority(a.priority)},
            {"template", a.template_name},
            {"value", a.value},
            {"weight", a.weight},
            {"when", condition_definition(a.when, names)},
            {"goal", goal_definition(a.goal)},
            {"holdout", a.holdout},
            {"cooldown", a.cooldown}};
}

// What moves a customer out of the stage: the transitions that apply in it, in order, and the
// timers that run in it.
json stage_rules(const JourneyModel& model, StageId stage, const Names& names) {
    json transitions = json::array();
    for (const TransitionRule& t : model.transitions)
        if (t.from.empty() || contains(t.from, stage))
            transitions.push_back({{"on", t.on},
                                   {"count", t.count},
                                   {"within", t.within},
                                   {"to", names.stage(t.to)}});
    json timers = json::array();
    for (const TimerRule& timer : model.timers)
        if (contains(timer.in, stage))
            timers.push_back(
                {{"name", timer.name}, {"after", timer.after}, {"to", names.stage(timer.to)}});
    return {{"transitions", std::move(transitions)}, {"timers", std::move(timers)}};
}

// One configuration's definitions of one kind, by name.
using Definitions = std::map<std::string, json>;

struct Compared {
    std::vector<std::string> added, removed, changed;
};

Compared compare(const Definitions& before, const Definitions& after) {
    Compared result;
    for (const auto& [name, definition] : before) {
        auto found = after.find(name);
        if (found == after.end())
            result.removed.push_back(name);
        else if (found->second != definition)
            result.changed.push_back(name);
    }
    for (const auto& [name, definition] : after)
        if (before.count(name) == 0) result.added.push_back(name);
    return result;
}

std::vector<std::string> all_of(const Compared& compared) {
    std::set<std::string> names(compared.added.begin(), compared.added.end());
    names.insert(compared.removed.begin(), compared.removed.end());
    names.insert(compared.changed.begin(), compared.changed.end());
    return {names.begin(), names.end()};
}

// The definitions of one configuration, resolved to names.
struct Described {
    Definitions stages, programs, segments, actions;
};

Described describe(const Config& config) {
    const JourneyModel& model = config.journey;
    const Names names(model, config.pressure);
    Described out;
    for (size_t s = 0; s < model.stages.size(); ++s)
        out.stages[model.stages[s]] = stage_rules(model, static_cast<StageId>(s), names);
    for (const Program& p : model.programs) out.programs[p.name] = program_definition(p, names);
    for (const SegmentRule& s : model.conditions.segments)
        out.segments[s.name] = condition_definition(s.when, names);
    for (const Action& a : model.actions) out.actions[a.name] = action_definition(a, names);
    return out;
}

int64_t customers_in(const StageCounts& counts, const std::string& stage) {
    auto found = counts.customers_in_stage.find(stage);
    return found == counts.customers_in_stage.end() ? 0 : found->second;
}

}  // namespace

std::vector<std::string_view> restart_setting_keys() {
    std::vector<std::string_view> keys;
    for (const RestartSetting& setting : restart_settings()) keys.push_back(setting.key);
    return keys;
}

ConfigCheck check_config_change(const Config& running, std::string_view proposed_text,
                                const std::string& source_name, const StageCounts& counts,
                                RestartSettingsCheck restart_settings_check) {
    ConfigCheck check;
    check.version = config_version(proposed_text);
    ConfigResult loaded = load_config_text(proposed_text, source_name);
    check.errors = std::move(loaded.errors);
    if (!loaded.config) return check;
    const Config& proposed = *loaded.config;
    // The loader parsed this text already: only the lines of keys are wanted here.
    const toml::table root = toml::parse(proposed_text, std::string_view(source_name));
    auto refuse = [&](int line, std::string message) {
        check.errors.push_back(ConfigError{source_name, line, 0, std::move(message)});
    };

    for (const RestartSetting& setting : restart_settings())
        if (restart_settings_check == RestartSettingsCheck::compared &&
            setting.value(running) != setting.value(proposed))
            refuse(line_of(root, setting.key),
                   std::string(setting.key) + " cannot change without a restart");

    const Described before = describe(running), after = describe(proposed);
    const Compared stages = compare(before.stages, after.stages);
    const Compared programs = compare(before.programs, after.programs);
    check.changes = ConfigChanges{stages.added,
                                  stages.removed,
                                  programs.added,
                                  programs.removed,
                                  programs.changed,
                                  all_of(compare(before.segments, after.segments)),
                                  all_of(compare(before.actions, after.actions))};

    // Every stage the store counts customers in is one of the new text's or migrated by it:
    // else their records could not be read under it.
    const JourneyModel& journey = proposed.journey;
    for (const std::string& stage : stages.removed) {
        const int64_t customers = customers_in(counts, stage);
        check.customers_affected[stage] = customers;
        if (customers > 0 && !journey.stage_or_migrated(stage))
            refuse(line_of(root, "journey.stages"),
                   "stage \"" + stage + "\" is removed but holds " + std::to_string(customers) +
                       " customer(s): name the stage they move to in [journey.migrate] (" + stage +
                       " = \"STAGE\"), or keep the stage until it is empty");
    }
    for (const auto& [stage, customers] : counts.customers_in_stage) {
        if (customers <= 0 || journey.stage_or_migrated(stage) || before.stages.count(stage))
            continue;
        refuse(line_of(root, "journey.migrate"),
               "stage \"" + stage + "\", migrated by the configuration in force, still holds " +
                   std::to_string(customers) +
                   " customer(s) not yet moved: keep it in [journey.migrate]");
    }
    for (const std::string& stage : stages.changed)
        check.customers_affected[stage] = customers_in(counts, stage);
    for (const std::string& member : counts.uncounted_members)
        refuse(0, "cluster member " + member +
                      " did not answer: its customers are not counted, so the change cannot be "
                      "checked; check again once every member is up");
    return check;
}

}  // namespace journeyd
