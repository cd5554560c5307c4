// PopulationRhythm: the engagement hours of all this node's customers together
// (PopulationHours), shared by every customer actor: each engagement event a customer records
// is recorded here too, and a request of a `send_at = "best_hour"` program of a customer with
// too little history of their own is sent by these hours (rhythm_weights).
//
// Durable but not exact: the daemon stores it every few seconds and at shutdown (Table::rhythm,
// runtime/daemon), so a crash loses the engagement of the last few seconds from the prior, never
// anything of a customer's own. In a cluster each member keeps the hours of its own customers.
//
// Thread-safe: one mutex, held for a few dozen arithmetic operations per call.
#pragma once

#include <mutex>
#include <optional>

#include "state/rhythm/engagement_hours.hpp"

namespace journeyd {

class PopulationRhythm {
  public:
    explicit PopulationRhythm(PopulationHours stored = {}) : hours_(stored) {}

    // An engagement event at `at` whose local hour, in its customer's zone, is `hour`.
    void record(TimeMs at, int hour, DurationMs half_life);
    // The hours to send `customer` by (rhythm_weights): their own, or these.
    HourWeights weights_for(const EngagementHours& customer, TimeMs now,
                            DurationMs half_life) const;
    // The hours as they are, when they changed since the last call (for storing).
    std::optional<PopulationHours> take_changed();

  private:
    mutable std::mutex mutex_;
    PopulationHours hours_;
    bool changed_ = false;
};

}  // namespace journeyd
