// The journey as the engine sees it: stages, transitions, inactivity timers and programs,
// already validated and resolved to indices. Built by the config loader (config/), read by
// JourneyEngine; it never changes while the daemon runs, so every customer shares one.
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
};

struct JourneyModel {
    std::vector<std::string> stages;
    StageId initial_stage = 0;
    std::vector<TransitionRule> transitions;
    std::vector<TimerRule> timers;
    std::vector<Program> programs;  // in file order: ties in arbitration go to the first
    ConditionModel conditions;      // segments and the event windows conditions count in

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
};

}  // namespace journeyd
