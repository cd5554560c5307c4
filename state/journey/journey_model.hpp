// The journey as the engine sees it: stages, transitions, inactivity timers and programs,
// already validated and resolved to indices. Built by the config loader (config/), read by
// JourneyEngine; it never changes once built, so every customer shares one (a configuration
// change builds another, config/live_config.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/decisioning/condition.hpp"
#include "state/duration.hpp"

namespace journeyd {

using StageId = uint16_t;
using ProgramId = uint16_t;
using PriorityClass = uint8_t;  // index into PressurePolicy::hierarchy, 0 = highest
using ActionId = uint16_t;      // index into JourneyModel::actions
inline constexpr ActionId kNoAction = 0xffff;

// `[[journey.transition]]`: checked in file order, the first that matches wins.
struct TransitionRule {
    std::vector<StageId> from;    // empty: any stage
    std::vector<std::string> on;  // event types; `on = "x"` or `on = ["x", "y"]`
    uint32_t count = 1;           // the count-th matching event ...
    DurationMs within = 0;        // ... inside this rolling window by event ts (0: no window)
    StageId to = 0;
    int line = 0;  // where it was written, for logs

    bool counts() const { return count > 1; }
};

// `[[journey.timer]]`: no event for `after` while in one of `in` moves the customer to `to`.
struct TimerRule {
    std::string name;
    std::vector<StageId> in;
    DurationMs after = 0;
    StageId to = 0;
};

// `goal = { event, within }` of an action or a program: a success when an event of this type
// comes within `within` of the send (or, for a held-out customer, of the send it would have
// been); a failure when the window ends without one.
struct Goal {
    std::string event;  // empty: no goal
    DurationMs within = 0;

    bool set() const { return !event.empty(); }
};

// `[experiment]`: who is kept from programs, to measure what they change
// (state/decisioning/holdout.hpp).
struct Experiment {
    double global_holdout = 0;  // share of customers kept from every non-exempt program
    std::string salt;           // a new salt assigns everyone afresh
};
// `[[journey.driver]]`: track which event types customers do while in `from` (an episode,
// closed by leaving the stage or by `window` passing) and whether the episode ended by moving to
// `to` (docs/configuration.md, "Drivers of advancement").
struct DriverRule {
    StageId from = 0;
    StageId to = 0;
    DurationMs window = 0;
    std::string name;  // driver_name_of(its stages, window), made once: records use it per event
};

// "from>to@window_ms": how a driver is named in store counters and timer records, so a changed
// window starts counting afresh and a removed driver is recognised.
inline std::string driver_name_of(std::string_view from, std::string_view to, DurationMs window) {
    std::string name(from);
    name.append(">").append(to).append("@").append(std::to_string(window));
    return name;
}

// `[[action]]`: a candidate message of the next-best-action catalogue
// (docs/configuration.md, "Next best actions").
struct Action {
    std::string name;
    std::string channel;
    PriorityClass priority = 0;
    std::string template_name;
    double value = 1;         // of one success
    double weight = 1;        // the business's lever
    Condition when;           // eligible only while it holds
    Goal goal;                // required: the action's propensity is learned from it
    double holdout = 0;       // share of customers it is never sent to: its control group
    DurationMs cooldown = 0;  // not sent again to the same customer within this (0: no limit)
    // Removed by a configuration change while the daemon ran (model_alignment.hpp): a candidate
    // of no program, kept so that the contacts and decisions that chose it still name it.
    bool retired = false;
};

// `[decisioning] explore`: how a propensity is read from an action's outcome counts.
enum class Explore : uint8_t {
    thompson,  // a draw from Beta(1 + successes, 1 + failures), seeded by the decision id
    greedy,    // the mean of that distribution
};

// `[[program]]`: what to ask the pressure coordinator to send, and when.
struct Program {
    std::string name;
    // Exactly one trigger is set: on_enter, on_event, on_segment_enter or on_segment_exit.
    std::optional<StageId> on_enter;
    std::string on_event;
    std::optional<uint16_t> on_segment_enter;  // index into ConditionModel::segments
    std::optional<uint16_t> on_segment_exit;
    DurationMs delay = 0;
    std::string channel;
    PriorityClass priority = 0;
    std::string template_name;
    Condition when;  // requested only while it holds (empty: always)
    // `action = "best"`: channel, priority and template are those of the action chosen among
    // `candidates` (every action when the program lists none), not the program's own.
    bool best_action = false;
    std::vector<ActionId> candidates;
    Goal goal;           // optional: measured for the treated and the control arm
    double holdout = 0;  // share of customers kept from this program
    // `send_at = "best_hour"`: the coordinator waits for the customer's best local hour if it
    // starts within `send_within` of the request (state/rhythm/engagement_hours.hpp).
    bool send_at_best_hour = false;
    DurationMs send_within = 24 * 3'600'000LL;
    // Removed by a configuration change while the daemon ran (model_alignment.hpp): kept only
    // so that the contacts and decisions made under it still name it; never requested.
    bool retired = false;
};

// [rhythm]: the events that show when a customer is reachable, and how fast they fade
// (state/rhythm/engagement_hours.hpp). No engagement types: no customer's hours are kept.
struct Rhythm {
    std::vector<std::string> engagement;
    DurationMs half_life = 14 * 86'400'000LL;
};

struct JourneyModel {
    std::vector<std::string> stages;
    StageId initial_stage = 0;
    std::vector<TransitionRule> transitions;
    std::vector<TimerRule> timers;
    std::vector<Program> programs;  // in file order: ties in arbitration go to the first
    ConditionModel conditions;      // segments and the event windows conditions count in
    std::vector<Action> actions;    // the catalogue, in file order
    Explore explore = Explore::thompson;
    Experiment experiment;
    std::vector<DriverRule> drivers;  // in file order
    Rhythm rhythm;
    // [journey.migrate]: stages a change removed, and the stage their customers are in now. A
    // stored record naming one reads as in its stage (customer_codec.hpp).
    std::vector<std::pair<std::string, StageId>> migrations;

    const std::string& driver_name(size_t driver) const { return drivers[driver].name; }

    // The stage of that name, or the one [journey.migrate] moves its customers to.
    std::optional<StageId> stage_or_migrated(std::string_view name) const {
        if (auto stage = stage_id(name)) return stage;
        for (const auto& [removed, to] : migrations)
            if (removed == name) return to;
        return std::nullopt;
    }

    std::optional<uint16_t> driver_id(std::string_view name) const {
        for (size_t i = 0; i < drivers.size(); ++i)
            if (drivers[i].name == name) return static_cast<uint16_t>(i);
        return std::nullopt;
    }

    std::optional<StageId> stage_id(std::string_view name) const {
        for (size_t i = 0; i < stages.size(); ++i)
            if (stages[i] == name) return static_cast<StageId>(i);
        return std::nullopt;
    }

    std::optional<ProgramId> program_id(std::string_view name) const {
        for (size_t i = 0; i < programs.size(); ++i)
            if (programs[i].name == name) return static_cast<ProgramId>(i);
        return std::nullopt;
    }

    std::optional<ActionId> action_id(std::string_view name) const {
        for (size_t i = 0; i < actions.size(); ++i)
            if (actions[i].name == name) return static_cast<ActionId>(i);
        return std::nullopt;
    }

    // What a program sends: its own channel, class and template, or those of the action chosen
    // for it (kNoAction: none chosen).
    const std::string& channel_of(ProgramId program, ActionId action) const {
        return action == kNoAction ? programs[program].channel : actions[action].channel;
    }
    PriorityClass priority_of(ProgramId program, ActionId action) const {
        return action == kNoAction ? programs[program].priority : actions[action].priority;
    }
    const std::string& template_of(ProgramId program, ActionId action) const {
        return action == kNoAction ? programs[program].template_name
                                   : actions[action].template_name;
    }
    const std::string& action_name(ActionId action) const {
        static const std::string none;
        return action == kNoAction ? none : actions[action].name;
    }
};

}  // namespace journeyd
