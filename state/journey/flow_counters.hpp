// Journey flow and drivers of advancement as store counters (docs/architecture.md, "Counters").
//
// A customer's record carries, in StoreRecord::counter_changes, what its stage changes and
// closed driver episodes add: committed with the record, they are exactly as durable as the
// customer's own state, and cluster members sum them like every other counter. Keys, each
// under its own NUL-prefixed namespace (no stage name starts with NUL):
//   kFlowCount    + from + NUL + to                    moves since the store was created;
//                                                      from "" is a creation in the initial stage
//   kFlowDayCount + utc day + NUL + from + NUL + to    the same, per UTC day of processing time
//   kStayCount    + stage + NUL + bucket               stays ended, by stay_bucket
//   (stay_sketch.hpp) kDriverCount  + driver name + NUL + cell [+ event] closed episodes of a
//   driver: cell 'N' all,
//                                                      'A' advanced, 'n' exposed to event, 'a'
//                                                      exposed and advanced
//
// Number of keys: moves (S stages: at most S·(S-1) + 1 pairs; in practice the transitions and
// timers the journey declares) plus that many per UTC day in which customers moved, at most
// 133 stay buckets per stage, and 2 + 2·E per driver for the E event types its episodes saw.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "state/journey/journey_engine.hpp"
#include "state/journey/journey_model.hpp"
#include "state/journey/odds_ratio.hpp"

namespace journeyd {

inline const std::string kFlowCount{"\0flow:", 6};
inline const std::string kFlowDayCount{"\0flowday:", 9};
inline const std::string kStayCount{"\0stay:", 6};
inline const std::string kDriverCount{"\0driver:", 8};
inline constexpr TimeMs kDayMs = 86'400'000;

// The counter changes of `effects` (an event's or timers' firing, processed at `now`): one move
// per stage change, the stay it ended, and the cells of each closed episode.
void add_flow_counters(const JourneyModel& model, const Effects& effects, TimeMs now,
                       std::vector<std::pair<std::string, int64_t>>& changes);

struct StageFlow {
    std::string name;
    int64_t customers = 0;
    int64_t entered = 0;
    int64_t left = 0;
    std::optional<double> median_time_in_stage_ms;  // none: no stay ended yet
};

struct FlowTransition {
    std::string from;
    std::string to;
    int64_t count = 0;
};

struct JourneyFlow {
    std::vector<StageFlow> stages;            // the model's, in order, then any others counted
    std::vector<FlowTransition> transitions;  // by count, most first
    std::optional<TimeMs> since;              // the instant the counts start at (a UTC midnight)
};

// The flow read from `counters` (StoreStats::counters, or those summed over a cluster): since
// the store was created, or with `since` from the start of its UTC day. `customers` and the
// medians are always those of now and of all time.
JourneyFlow journey_flow(const JourneyModel& model, const std::map<std::string, int64_t>& counters,
                         std::optional<TimeMs> since = std::nullopt);

struct DriverCells {
    int64_t episodes = 0;
    int64_t advanced = 0;
};

struct DriverRow {
    std::string event;
    DriverCells exposed;
    DriverCells unexposed;
    OddsRatio odds;
};

// Every event type seen in closed episodes of `driver`, ranked by the lower bound of its odds
// ratio, highest first (ties: higher ratio, then name).
std::vector<DriverRow> driver_rows(const JourneyModel& model, size_t driver,
                                   const std::map<std::string, int64_t>& counters);

}  // namespace journeyd
