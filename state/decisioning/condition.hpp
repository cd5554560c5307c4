// The condition language of segments, program eligibility and next best actions
// (docs/configuration.md, "Conditions"): a list of entries that must all hold.
//
// The config loader compiles each `when = [...]` once into a Condition: stages and segments
// resolved to ids, event counts to windows. Evaluating one reads the customer's state and
// allocates nothing. next_flip() says the next instant at which time alone can change an
// answer (an event leaving a `within` window, `in_stage_for` being reached), so the customer
// actor arms one timer instead of re-evaluating on every tick.
//
// Event windows: every event type the configuration counts is one EventWindow. A customer
// keeps, per window, only the newest `keep` event times (the most any entry on the type needs:
// `min`, or `max` + 1) younger than the longest `within` of those entries, in
// JourneyState::condition_hits, so a flood of events costs no memory, and entries on one type
// with different `within`s share the times (each counts those inside its own).
//
// Thread-safety: plain values; everything here is const and may be called from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/duration.hpp"

namespace journeyd {

struct CustomerState;
struct JourneyState;
using StageId = uint16_t;

enum class EntryKind : uint8_t {
    stage,         // { stage = [...] }
    attr_equals,   // { attr, eq }
    attr_in,       // { attr, in = [...] }
    attr_compare,  // { attr, gt | gte | lt | lte }
    attr_exists,   // { attr, exists }
    event_count,   // { event, min | max, within }
    in_stage_for,  // { in_stage_for }
    segment,       // { segment }
    not_segment,   // { not_segment }
};

enum class Comparison : uint8_t { gt, gte, lt, lte };

struct ConditionEntry {
    EntryKind kind = EntryKind::stage;
    std::vector<StageId> stages;         // stage
    std::string attr;                    // attr_*
    std::vector<nlohmann::json> values;  // attr_equals (one), attr_in
    Comparison comparison = Comparison::gte;
    double number = 0;        // attr_compare
    bool exists = true;       // attr_exists
    uint16_t window = 0;      // event_count: index into ConditionModel::windows (its type's)
    bool at_least = true;     // event_count: `min` (else `max`)
    uint32_t count = 0;       // event_count: the min or the max
    DurationMs duration = 0;  // in_stage_for; event_count: the window's within
    uint16_t segment = 0;     // segment, not_segment: index into ConditionModel::segments
    int line = 0;             // where it was written
};

// Holds when every entry holds; an empty one always holds.
struct Condition {
    std::vector<ConditionEntry> entries;
};

struct EventWindow {
    std::string type;
    DurationMs within = 0;  // the longest `within` of the entries counting this type
    uint32_t keep = 0;      // newest event times a customer keeps for it
};

struct SegmentRule {
    std::string name;
    Condition when;
    int line = 0;
};

struct ConditionModel {
    std::vector<EventWindow> windows;
    // Every segment after those its condition refers to (the loader refuses cycles), so one
    // pass in this order evaluates them all.
    std::vector<SegmentRule> segments;

    std::optional<uint16_t> segment_id(std::string_view name) const;
};

// Which segments a customer is in, by index, and when time alone may change one: what
// evaluate_segments() fills. Reused from one evaluation to the next, so that evaluating
// allocates only the first time.
struct SegmentMembership {
    std::vector<bool> member;
    std::vector<std::optional<TimeMs>> flips;  // per segment: next_flip() of its condition
    std::optional<TimeMs> next_flip;           // the earliest of them
};

bool holds(const Condition& condition, const CustomerState& customer,
           const SegmentMembership& segments, TimeMs now);

// The earliest instant after `now` at which the passing of time alone may change whether
// `condition` holds (none: only an event or a profile change can). It may come early (the
// answer then stays), never late.
std::optional<TimeMs> next_flip(const Condition& condition, const CustomerState& customer,
                                const SegmentMembership& segments, TimeMs now);

void evaluate_segments(const ConditionModel& model, const CustomerState& customer, TimeMs now,
                       SegmentMembership& out);

// The memberships the customer's state holds (JourneyState::segments), which the engine keeps
// current after every event and timer: for conditions evaluated between those (ranking next best
// actions), at the cost of copying bits instead of evaluating every segment again. No flips.
void stored_membership(const ConditionModel& model, const JourneyState& journey,
                       SegmentMembership& out);

// Keeps an event at event time `ts` in the customer's `windows` (those counting its type).
void record_condition_event(const ConditionModel& model, JourneyState& journey,
                            const std::vector<uint16_t>& windows, TimeMs ts);

}  // namespace journeyd
