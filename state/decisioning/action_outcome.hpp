// How a send of a next-best-action ends, and what the store counts of an action's sends: the
// terms the customer actors, the store and the admin port share (docs/protocol.md, "Next best
// actions"). Plain values; thread-safe as values are.
#pragma once

#include <cstdint>

namespace journeyd {

enum class ActionOutcome : uint8_t {
    sent,     // its goal window opened
    success,  // the goal event came inside the window
    failure,  // the window closed without it
};

// An action's counts: sends whose goal window opened, and how those windows closed.
struct ActionCounts {
    int64_t sent = 0;
    int64_t successes = 0;
    int64_t failures = 0;

    int64_t open() const { return sent - successes - failures; }
    ActionCounts& operator+=(const ActionCounts& other) {
        sent += other.sent;
        successes += other.successes;
        failures += other.failures;
        return *this;
    }
};

}  // namespace journeyd
