// Everything journeyd remembers about one customer: profile and journey state. Plain data;
// JourneyEngine holds the rules that change it, customer_codec turns it into a store record.
//
// Kept compact on purpose: millions of these live in memory (one per customer actor), so
// ids of events are remembered as 64-bit fingerprints and count/within windows as bare
// timestamps, never as strings or maps.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/duration.hpp"
#include "state/journey/journey_model.hpp"
#include "state/journey/profile.hpp"
#include "state/rhythm/engagement_hours.hpp"

namespace journeyd {

enum class TimerKind : uint8_t {
    inactivity = 0,     // a [[journey.timer]] rule; `rule` indexes JourneyModel::timers
    program_delay = 1,  // a program's `delay`; `rule` indexes JourneyModel::programs
    segments = 2,       // the next instant a segment's answer can flip by time alone; rule 0
    driver_window = 3,  // the end of a driver's open episode; `rule` indexes JourneyModel::drivers
};

struct PendingTimer {
    uint32_t seq = 0;  // unique per customer, in arming order
    TimerKind kind = TimerKind::inactivity;
    uint16_t rule = 0;
    TimeMs due = 0;
    std::string cause;  // program_delay: what triggered the program (for decision ids)

    bool operator==(const PendingTimer& o) const {
        return seq == o.seq && kind == o.kind && rule == o.rule && due == o.due && cause == o.cause;
    }
};

// One matching event of a counting transition (count/within), by event time.
struct WindowHit {
    uint16_t rule = 0;
    TimeMs ts = 0;

    bool operator==(const WindowHit& o) const { return rule == o.rule && ts == o.ts; }
};

inline bool by_rule_then_ts(const WindowHit& a, const WindowHit& b) {
    return a.rule != b.rule ? a.rule < b.rule : a.ts < b.ts;
}

// The hits of one rule in hits sorted by (rule, ts): a contiguous run [first, last).
template <class Hits>
auto hits_of(Hits& hits, uint16_t rule) {
    auto first =
        std::lower_bound(hits.begin(), hits.end(), WindowHit{rule, INT64_MIN}, by_rule_then_ts);
    auto last = std::find_if(first, hits.end(), [&](const WindowHit& h) { return h.rule != rule; });
    return std::make_pair(first, last);
}

// Whose goal a window measures: an action's or a program's, for the customers it was sent to
// (action, program_treated) or held out from when it would have been sent (the controls).
enum class GoalOf : uint8_t {
    action = 0,
    program_treated = 1,
    program_control = 2,
    action_control = 3
};

inline bool of_action(GoalOf of) {
    return of == GoalOf::action || of == GoalOf::action_control;
}

// A decision waiting for its goal event: a success if one comes by closes_at, a failure then.
struct GoalWindow {
    GoalOf of = GoalOf::action;
    uint16_t id = 0;        // ActionId or ProgramId, as `of` says
    uint64_t decision = 0;  // stable_hash of the decision id
    TimeMs sent_at = 0;     // or when it would have been sent
    TimeMs closes_at = 0;

    bool operator==(const GoalWindow& o) const {
        return of == o.of && id == o.id && decision == o.decision && sent_at == o.sent_at &&
               closes_at == o.closes_at;
    }
};

// An open episode of a [[journey.driver]]: a stay in the driver's `from` stage, with the event
// types done during it (its exposures). Types are told apart by fingerprint, so an event costs a
// hash and a scan of at most kMaxTypes integers; each name is kept once per episode, in one
// string (a NUL after each), for the record and for the counters the episode adds to when it
// closes: two allocations an episode, not one a type.
struct DriverEpisode {
    static constexpr size_t kMaxTypes = 64;  // more distinct types count as `other`

    uint16_t driver = 0;   // index into JourneyModel::drivers
    bool other = false;    // a type beyond the first kMaxTypes (or one holding a NUL) was seen
    TimeMs opened_at = 0;  // processing time; its window timer is due at opened_at + window
    std::vector<uint64_t> seen;  // stable_hash of each type, in the order first seen
    std::string names;           // their names in the same order, each followed by a NUL

    // Adds an exposure to `type` (fingerprint `fingerprint`) unless it is known already.
    void note(std::string_view type, uint64_t fingerprint) {
        if (std::find(seen.begin(), seen.end(), fingerprint) != seen.end()) return;
        if (seen.size() >= kMaxTypes || type.find('\0') != std::string_view::npos) {
            other = true;
            return;
        }
        if (seen.empty()) seen.reserve(4);  // most episodes see a few types
        seen.push_back(fingerprint);
        names.append(type).push_back('\0');
    }

    // Calls f(std::string_view) for each type, in the order first seen.
    template <class F>
    void for_each_type(F f) const {
        for (size_t at = 0; at < names.size();) {
            const size_t end = names.find('\0', at);
            f(std::string_view(names).substr(at, end - at));
            at = end + 1;
        }
    }

    bool operator==(const DriverEpisode& o) const {
        return driver == o.driver && opened_at == o.opened_at && other == o.other &&
               names == o.names;
    }
};

// The ids of the last events applied, as fingerprints, in a ring. It answers "was this id
// already applied?" for retries, which arrive soon after the original; the durable store
// keeps the longer history.
class RecentEventIds {
  public:
    static constexpr size_t kCapacity = 64;

    // Whether the store's history of applied ids may hold ids a window of `size` no longer
    // has: only once it has wrapped, since it holds every id applied until then and the store
    // gets only what a full window pushes out.
    static bool wrapped(size_t size) { return size >= kCapacity; }

    bool contains(uint64_t fingerprint) const;
    // Returns the fingerprint it pushed out of a full window, if any.
    std::optional<uint64_t> remember(uint64_t fingerprint);
    const std::vector<uint64_t>& ring() const { return ring_; }
    uint32_t next_slot() const { return next_; }
    void restore(std::vector<uint64_t> ring, uint32_t next_slot);

    bool operator==(const RecentEventIds& o) const { return ring_ == o.ring_ && next_ == o.next_; }

  private:
    std::vector<uint64_t> ring_;
    uint32_t next_ = 0;
};

struct JourneyState {
    bool created = false;
    StageId stage = 0;
    TimeMs stage_since = 0;
    uint64_t events_seen = 0;
    TimeMs last_event_ts = 0;  // newest event time seen (events may arrive out of order)
    TimeMs last_event_at = 0;  // processing time of the last event: inactivity runs from it
    std::vector<WindowHit> window_hits;  // sorted by (rule, ts)
    // The newest event times of the condition language's event windows: `rule` indexes
    // ConditionModel::windows (state/decisioning/condition.hpp); sorted by (rule, ts).
    std::vector<WindowHit> condition_hits;
    // The segments the customer is in, by index into ConditionModel::segments, ascending.
    std::vector<uint16_t> segments;
    std::vector<PendingTimer> timers;
    uint32_t next_timer_seq = 0;
    RecentEventIds recent_ids;
    std::vector<GoalWindow> goal_windows;  // in the order they opened
    // The open episodes of the drivers whose `from` is the current stage (none elsewhere).
    std::vector<DriverEpisode> episodes;
    // When in their own day they engage ([rhythm] engagement events, in their profile's tz).
    EngagementHours hours;

    bool operator==(const JourneyState& o) const {
        return created == o.created && stage == o.stage && stage_since == o.stage_since &&
               events_seen == o.events_seen && last_event_ts == o.last_event_ts &&
               last_event_at == o.last_event_at && window_hits == o.window_hits &&
               condition_hits == o.condition_hits && segments == o.segments && timers == o.timers &&
               next_timer_seq == o.next_timer_seq && recent_ids == o.recent_ids &&
               goal_windows == o.goal_windows && episodes == o.episodes && hours == o.hours;
    }
};

struct CustomerState {
    std::string id;
    Profile profile;
    JourneyState journey;

    bool operator==(const CustomerState& o) const {
        return id == o.id && profile == o.profile && journey == o.journey;
    }
};

}  // namespace journeyd
