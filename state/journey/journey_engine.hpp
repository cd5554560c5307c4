// JourneyEngine: the journey rules of a JourneyModel applied to one customer's state.
//
// Contract:
// - apply(customer, event, now) applies one event in full, in the documented order
// (docs/configuration.md): create the
//   customer in the initial stage on its first event (on_enter programs fire), skip an id
//   already applied (outcome duplicate, no other effect), merge `profile` attrs, record
//   count/within hits by event time, take the first matching transition, re-arm inactivity
//   timers; then list the program requests the event triggered (on_enter of every stage
//   entered, on_event of its type), so their decisions see the updated profile.
// - fire_due(customer, now) fires every pending timer due at `now`, earliest first:
//   inactivity timers move the customer, program delays become requests.
// - An on_enter program waiting out its delay is dropped (reason "left_stage") the moment
//   the customer leaves that stage; a later visit of the same stage does not revive it.
// - count/within uses event time: an event completes the window when it and count-1 other
//   matching events fall inside one span shorter than `within`; a late event is counted
//   where it belongs. Events older than one window behind the newest event seen are
//   forgotten and count for nothing. Inactivity uses processing time (`now`): a backfill of old
//   events must not make customers lapse at once.
// - Transitions move to another stage: a rule whose `to` is the current stage does not match.
// - Segments are evaluated after every event and every firing of timers: entering one
//   requests its on_segment_enter programs, leaving one its on_segment_exit programs (after
//   the event's other programs). A segment whose answer can change with time alone arms one
//   timer (TimerKind::segments) for the earliest such instant, when they are evaluated again.
// - A program with `when` is requested only if its condition holds at that moment, after the
//   event's profile and window changes; a delayed one checks again when its delay ends and is
//   dropped (reason "not_eligible") if it no longer holds.
// - open_goal_windows() opens the goal windows of a decision (GoalNotice): an action sent to the
//   customer, a program's goal for its treated or control arm; each once per decision. An event
//   of the goal's type with `ts` inside an open window closes it as a success; fire_due() closes
//   windows that reached their end as failures.
// - An event of a [rhythm] engagement type adds to the customer's engagement hours, at the
//   local hour of its `ts` in the profile's `tz` (after the event's own profile change).
// - Drivers ([[journey.driver]]): entering a driver's `from` stage opens an episode and arms a
//   timer (TimerKind::driver_window) at now + window; every event applied while it is open
//   adds its type to the episode, except the event that opens or closes it (it is the move's
//   cause, not a behaviour before it). Leaving the stage closes the episode (advanced when to
//   the driver's `to`), the timer closes it unadvanced; either way it is in closed_episodes.
//
// The engine holds no per-customer data; one instance serves every customer of a process.
// Thread-safety: immutable once built; customer actors on every scheduler thread, the gateway,
// peers and admin threads call its const methods at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "state/decisioning/action_outcome.hpp"
#include "state/journey/customer_state.hpp"
#include "state/journey/event.hpp"
#include "state/journey/journey_model.hpp"
#include "state/pressure/goal_notice.hpp"

namespace journeyd {

enum class ApplyOutcome : uint8_t { applied, duplicate };

struct StageChange {
    bool had_stage = false;  // false for the customer's creation in the initial stage
    StageId from = 0;
    StageId to = 0;
    TimeMs at = 0;
    // With had_stage: how long the customer was in `from`, at minus when it entered (event
    // times, so 0 when events came out of order).
    DurationMs stayed = 0;
};

// A driver's episode that closed: by leaving its stage (advanced when to its `to`) or by its
// window passing (not advanced).
struct ClosedEpisode {
    DriverEpisode episode;
    bool advanced = false;
};

// A program asking the pressure coordinator to send. `cause` names what triggered it
// ("event:<id>", "timer:<name>@<due>") so that a decision id derived from it is the same
// when the same cause is replayed after a crash.
struct ProgramRequest {
    ProgramId program = 0;
    std::string cause;
    TimeMs at = 0;
};

struct ProgramDrop {
    ProgramId program = 0;
    std::string cause;
    std::string_view reason;
    TimeMs at = 0;
};

struct SegmentChange {
    uint16_t segment = 0;
    bool entered = true;  // false: left
};

struct TimerChange {
    bool armed = true;  // false: cancelled
    TimerKind kind = TimerKind::inactivity;
    uint16_t rule = 0;
    TimeMs due = 0;
};

struct Effects {
    ApplyOutcome outcome = ApplyOutcome::applied;
    // Goal windows opened and closed (the store counts them per action and per program arm).
    struct GoalOutcome {
        GoalOf of = GoalOf::action;
        uint16_t id = 0;
        ActionOutcome outcome = ActionOutcome::sent;

        bool operator==(const GoalOutcome& o) const {
            return of == o.of && id == o.id && outcome == o.outcome;
        }
    };
    std::vector<GoalOutcome> outcomes;
    std::vector<StageChange> stage_changes;
    std::vector<TimerChange> timer_changes;
    std::vector<ProgramRequest> requests;
    std::vector<ProgramDrop> drops;
    std::vector<SegmentChange> segment_changes;
    std::vector<ClosedEpisode> closed_episodes;
    uint32_t timers_fired = 0;
    // The event id (fingerprint) the applied event pushed out of the customer's window of
    // recent ids: from now on only the store's applied ids know it (see record_of).
    std::optional<uint64_t> forgotten_event;
    // The local hour (0..23) the event was recorded in as engagement ([rhythm]); -1: it was not.
    int engaged_hour = -1;

    // After apply: whether the event was applied (not a duplicate).
    bool changed_state() const { return outcome == ApplyOutcome::applied; }
    void clear();
};

inline constexpr std::string_view kReasonLeftStage = "left_stage";
inline constexpr std::string_view kReasonNotEligible = "not_eligible";
// A program waiting out its delay when a configuration change removed it (customer_upgrade.hpp).
inline constexpr std::string_view kReasonProgramRemoved = "program_removed";
// The name of the timer that re-evaluates segments (TimerKind::segments), in records and views.
inline constexpr std::string_view kSegmentsTimer = "segments";

class JourneyEngine {
  public:
    explicit JourneyEngine(JourneyModel model);

    // `out` is cleared first; reusing one Effects across calls saves its allocations.
    void apply(CustomerState& customer, const Event& event, TimeMs now, Effects& out) const;
    void fire_due(CustomerState& customer, TimeMs now, Effects& out) const;
    // Opens the goal windows the notice announces; false (and no effects) when they are open
    // already.
    bool open_goal_windows(CustomerState& customer, const GoalNotice& notice, Effects& out) const;

    // Arms the inactivity timers of the customer's stage that it lacks, as if armed at `since`:
    // after a configuration change (customer_upgrade.hpp) a changed timer runs from the
    // customer's last event under its new definition.
    void arm_missing_inactivity(CustomerState& customer, TimeMs since, Effects& out) const;

    // When the earliest pending timer is due; nullopt when none is pending.
    std::optional<TimeMs> next_due(const CustomerState& customer) const;

    // "lapse" for an inactivity timer, "delay:<program>" for a program waiting out its delay.
    std::string timer_name(const PendingTimer& timer) const;

    const JourneyModel& model() const { return model_; }

  private:
    struct EventTypeRules {
        std::vector<uint16_t> transitions;  // rules whose `on` lists this type, in file order
        std::vector<ProgramId> on_event;
        std::vector<uint16_t> condition_windows;  // event windows of conditions counting it
        bool goal = false;                        // some action's goal event
        bool engagement = false;                  // a [rhythm] engagement type
    };
    struct SegmentPrograms {
        std::vector<ProgramId> on_enter;
        std::vector<ProgramId> on_exit;
    };

    bool window_complete(const JourneyState& journey, uint16_t rule, TimeMs ts) const;
    void record_hit(JourneyState& journey, uint16_t rule, TimeMs ts) const;
    void enter_stage(CustomerState& customer, StageId to, TimeMs at, const std::string& cause,
                     TimeMs now, Effects& out) const;
    void leave_stage(CustomerState& customer, StageId to, TimeMs now, Effects& out) const;
    void open_episodes(JourneyState& journey, TimeMs now, Effects& out) const;
    void close_episode(JourneyState& journey, uint16_t driver, StageId to, Effects& out) const;
    void arm(JourneyState& journey, TimerKind kind, uint16_t rule, TimeMs due, std::string cause,
             Effects& out) const;
    void request_program(CustomerState& customer, ProgramId program, const std::string& cause,
                         TimeMs now, Effects& out) const;
    bool eligible(const CustomerState& customer, ProgramId program, TimeMs now) const;
    void reach_goals(JourneyState& journey, const Event& event, Effects& out) const;
    const Goal& goal_of(const GoalWindow& window) const;
    void update_segments(CustomerState& customer, const std::string& cause, TimeMs now,
                         Effects& out) const;
    // Arms the inactivity timers of the current stage that are not running; an event also
    // restarts the running ones (restart_running), a timer-driven move does not.
    void arm_inactivity(JourneyState& journey, TimeMs now, bool restart_running,
                        Effects& out) const;

    const JourneyModel model_;
    std::unordered_map<std::string, EventTypeRules> by_event_type_;
    std::vector<std::vector<ProgramId>> on_enter_;     // per stage
    std::vector<std::vector<uint16_t>> timers_in_;     // per stage: timer rules active there
    std::vector<SegmentPrograms> segment_programs_;    // per segment
    std::vector<std::vector<uint16_t>> drivers_from_;  // per stage: drivers whose `from` it is
};

}  // namespace journeyd
