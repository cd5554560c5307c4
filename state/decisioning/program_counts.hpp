// What the store counts of a program's requests and of its goal (GET /programs,
// docs/protocol.md): the keys of those counters in the store's counters table, and the counts
// read back from it. The coordinator counts each decision in the commit that logs it; the
// customer's record counts its goal windows as they open and close, for the treated arm (sent)
// and the control arm (held out, would have been sent).
//
// Keys: kProgramCount + "sent:" | "deferred:" | "suppressed:" REASON ":" | ARM ":" OUTCOME ":",
// then the program's name (names may hold ':'; reasons, arms and outcomes do not).
// Plain functions and values; thread-safe as values are.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "state/decisioning/action_outcome.hpp"

namespace journeyd {

inline const std::string kProgramCount{"\0program:", 9};

enum class Arm : uint8_t { treated, control };

inline std::string program_decision_key(std::string_view outcome, std::string_view reason,
                                        std::string_view program) {
    std::string key = kProgramCount;
    key += outcome;
    key += ':';
    if (!reason.empty()) {
        key += reason;
        key += ':';
    }
    key += program;
    return key;
}

inline std::string program_goal_key(Arm arm, ActionOutcome outcome, std::string_view program) {
    static constexpr std::string_view kOutcomes[] = {"sent", "success", "failure"};
    std::string key = kProgramCount;
    key += arm == Arm::treated ? "treated:" : "control:";
    key += kOutcomes[static_cast<size_t>(outcome)];
    key += ':';
    key += program;
    return key;
}

struct ProgramCounts {
    int64_t sent = 0;
    int64_t deferred = 0;  // deferral decisions: a request deferred twice counts twice
    std::map<std::string, int64_t> suppressed;  // by reason, "holdout" among them
    ActionCounts treated;  // goal windows: opened, converted, closed without the goal
    ActionCounts control;

    // Requests finally decided: each is sent or suppressed once.
    int64_t requests() const {
        int64_t n = sent;
        for (const auto& [reason, count] : suppressed) n += count;
        return n;
    }
};

// The counts of every program named in `counters` (StoreStats::counters), by program name.
inline std::map<std::string, ProgramCounts> program_counts(
    const std::map<std::string, int64_t>& counters) {
    std::map<std::string, ProgramCounts> programs;
    for (auto it = counters.lower_bound(kProgramCount);
         it != counters.end() && it->first.compare(0, kProgramCount.size(), kProgramCount) == 0;
         ++it) {
        std::string_view rest = std::string_view(it->first).substr(kProgramCount.size());
        auto next_word = [&rest]() -> std::string_view {
            const size_t colon = rest.find(':');
            if (colon == std::string_view::npos) return {};
            std::string_view word = rest.substr(0, colon);
            rest.remove_prefix(colon + 1);
            return word;
        };
        const std::string_view kind = next_word();
        const int64_t count = it->second;
        if (kind == "sent") {
            programs[std::string(rest)].sent += count;
        } else if (kind == "deferred") {
            programs[std::string(rest)].deferred += count;
        } else if (kind == "suppressed") {
            const std::string_view reason = next_word();
            programs[std::string(rest)].suppressed[std::string(reason)] += count;
        } else if (kind == "treated" || kind == "control") {
            const std::string_view outcome = next_word();
            ProgramCounts& program = programs[std::string(rest)];
            ActionCounts& arm = kind == "treated" ? program.treated : program.control;
            if (outcome == "sent") arm.sent += count;
            if (outcome == "success") arm.successes += count;
            if (outcome == "failure") arm.failures += count;
        }
    }
    return programs;
}

}  // namespace journeyd
