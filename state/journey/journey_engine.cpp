#include "state/journey/journey_engine.hpp"

#include <algorithm>

#include "state/pressure/quiet_hours.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {
namespace {

bool contains(const std::vector<StageId>& stages, StageId stage) {
    return std::find(stages.begin(), stages.end(), stage) != stages.end();
}

std::string event_cause(const Event& event) {
    return "event:" + event.id;
}

std::string timer_cause(std::string_view timer_name, TimeMs due) {
    return "timer:" + std::string(timer_name) + "@" + std::to_string(due);
}

}  // namespace

void Effects::clear() {
    outcome = ApplyOutcome::applied;
    stage_changes.clear();
    timer_changes.clear();
    requests.clear();
    drops.clear();
    segment_changes.clear();
    closed_episodes.clear();
    outcomes.clear();
    timers_fired = 0;
    forgotten_event.reset();
    engaged_hour = -1;
}

JourneyEngine::JourneyEngine(JourneyModel model)
    : model_(std::move(model)),
      on_enter_(model_.stages.size()),
      timers_in_(model_.stages.size()),
      segment_programs_(model_.conditions.segments.size()),
      drivers_from_(model_.stages.size()) {
    for (size_t d = 0; d < model_.drivers.size(); ++d)
        drivers_from_[model_.drivers[d].from].push_back(static_cast<uint16_t>(d));
    for (size_t r = 0; r < model_.transitions.size(); ++r)
        for (const std::string& type : model_.transitions[r].on)
            by_event_type_[type].transitions.push_back(static_cast<uint16_t>(r));
    for (size_t p = 0; p < model_.programs.size(); ++p) {
        const Program& program = model_.programs[p];
        if (program.retired) continue;
        const auto id = static_cast<ProgramId>(p);
        if (program.on_enter)
            on_enter_[*program.on_enter].push_back(id);
        else if (program.on_segment_enter)
            segment_programs_[*program.on_segment_enter].on_enter.push_back(id);
        else if (program.on_segment_exit)
            segment_programs_[*program.on_segment_exit].on_exit.push_back(id);
        else
            by_event_type_[program.on_event].on_event.push_back(id);
    }
    for (size_t w = 0; w < model_.conditions.windows.size(); ++w)
        by_event_type_[model_.conditions.windows[w].type].condition_windows.push_back(
            static_cast<uint16_t>(w));
    for (const std::string& type : model_.rhythm.engagement) by_event_type_[type].engagement = true;
    for (const Action& action : model_.actions) by_event_type_[action.goal.event].goal = true;
    for (const Program& program : model_.programs)
        if (program.goal.set()) by_event_type_[program.goal.event].goal = true;
    for (size_t t = 0; t < model_.timers.size(); ++t)
        for (StageId stage : model_.timers[t].in)
            timers_in_[stage].push_back(static_cast<uint16_t>(t));
}

void JourneyEngine::apply(CustomerState& customer, const Event& event, TimeMs now,
                          Effects& out) const {
    out.clear();
    JourneyState& journey = customer.journey;
    const uint64_t fingerprint = stable_hash(event.id);
    if (journey.recent_ids.contains(fingerprint)) {
        out.outcome = ApplyOutcome::duplicate;
        return;
    }
    out.forgotten_event = journey.recent_ids.remember(fingerprint);
    const std::string cause = event_cause(event);
    // The event that opens or closes an episode is not one of its exposures (see the contract).
    bool moved = false;
    if (!journey.created) {
        enter_stage(customer, model_.initial_stage, event.ts, cause, now, out);
        journey.created = true;
        moved = true;
    }

    ++journey.events_seen;
    journey.last_event_ts = std::max(journey.last_event_ts, event.ts);
    journey.last_event_at = now;
    if (event.type == kProfileEventType) customer.profile.merge(event.attrs);

    auto rules = by_event_type_.find(event.type);
    if (rules != by_event_type_.end() && rules->second.engagement) {
        // One cache a thread: the engine is shared by every scheduler thread.
        thread_local TimeZones zones;
        out.engaged_hour = journey.hours.record(
            event.ts, zones.find_or_utc(customer.profile.time_zone()), model_.rhythm.half_life);
    }
    if (rules != by_event_type_.end())
        record_condition_event(model_.conditions, journey, rules->second.condition_windows,
                               event.ts);
    if (rules != by_event_type_.end() && rules->second.goal) reach_goals(journey, event, out);
    if (rules != by_event_type_.end()) {
        for (uint16_t r : rules->second.transitions)
            if (model_.transitions[r].counts()) record_hit(journey, r, event.ts);
        for (uint16_t r : rules->second.transitions) {
            const TransitionRule& rule = model_.transitions[r];
            if (rule.to == journey.stage) continue;
            if (!rule.from.empty() && !contains(rule.from, journey.stage)) continue;
            if (rule.counts() && !window_complete(journey, r, event.ts)) continue;
            leave_stage(customer, rule.to, now, out);
            enter_stage(customer, rule.to, event.ts, cause, now, out);
            moved = true;
            break;
        }
    }
    if (!moved && !journey.episodes.empty()) {
        const uint64_t type = stable_hash(event.type);
        for (DriverEpisode& episode : journey.episodes) episode.note(event.type, type);
    }
    arm_inactivity(journey, now, /*restart_running=*/true, out);

    if (rules != by_event_type_.end())
        for (ProgramId p : rules->second.on_event) request_program(customer, p, cause, now, out);
    update_segments(customer, cause, now, out);
}

void JourneyEngine::fire_due(CustomerState& customer, TimeMs now, Effects& out) const {
    out.clear();
    JourneyState& journey = customer.journey;
    std::string cause;  // of the last timer fired: segments changed by these timers use it
    for (;;) {
        auto due = std::min_element(journey.timers.begin(), journey.timers.end(),
                                    [](const PendingTimer& a, const PendingTimer& b) {
                                        return a.due != b.due ? a.due < b.due : a.seq < b.seq;
                                    });
        if (due == journey.timers.end() || due->due > now) break;
        PendingTimer timer = std::move(*due);
        journey.timers.erase(due);
        ++out.timers_fired;
        if (timer.kind == TimerKind::program_delay) {
            cause = timer.cause;
            if (eligible(customer, timer.rule, now))
                out.requests.push_back({timer.rule, std::move(timer.cause), now});
            else
                out.drops.push_back({timer.rule, std::move(timer.cause), kReasonNotEligible, now});
            continue;
        }
        if (timer.kind == TimerKind::segments) {
            cause = timer_cause(kSegmentsTimer, timer.due);
            continue;
        }
        if (timer.kind == TimerKind::driver_window) {
            cause = timer_cause(timer_name(timer), timer.due);
            close_episode(journey, timer.rule, journey.stage, out);
            continue;
        }
        const TimerRule& rule = model_.timers[timer.rule];
        cause = timer_cause(rule.name, timer.due);
        if (rule.to == journey.stage) continue;
        leave_stage(customer, rule.to, now, out);
        enter_stage(customer, rule.to, timer.due, cause, now, out);
        arm_inactivity(journey, now, /*restart_running=*/false, out);
    }
    // Goal windows that reached their end without the goal event.
    auto& windows = journey.goal_windows;
    const auto closed = std::stable_partition(
        windows.begin(), windows.end(), [&](const GoalWindow& w) { return w.closes_at > now; });
    for (auto it = closed; it != windows.end(); ++it) {
        out.outcomes.push_back({it->of, it->id, ActionOutcome::failure});
        ++out.timers_fired;
    }
    windows.erase(closed, windows.end());
    if (out.timers_fired > 0) update_segments(customer, cause, now, out);
}

bool JourneyEngine::open_goal_windows(CustomerState& customer, const GoalNotice& notice,
                                      Effects& out) const {
    out.clear();
    const uint64_t decision = stable_hash(notice.decision_id);
    auto& windows = customer.journey.goal_windows;
    auto open = [&](GoalOf of, uint16_t id) {
        if (std::any_of(windows.begin(), windows.end(),
                        [&](const GoalWindow& w) { return w.decision == decision && w.of == of; }))
            return;
        GoalWindow window{of, id, decision, notice.sent_at, 0};
        window.closes_at = notice.sent_at + goal_of(window).within;
        windows.push_back(window);
        out.outcomes.push_back({of, id, ActionOutcome::sent});
    };
    if (notice.control && notice.action != kNoAction) {
        open(GoalOf::action_control, notice.action);
        return !out.outcomes.empty();
    }
    if (notice.action != kNoAction) open(GoalOf::action, notice.action);
    if (model_.programs[notice.program].goal.set())
        open(notice.control ? GoalOf::program_control : GoalOf::program_treated, notice.program);
    return !out.outcomes.empty();
}

const Goal& JourneyEngine::goal_of(const GoalWindow& window) const {
    return of_action(window.of) ? model_.actions[window.id].goal : model_.programs[window.id].goal;
}

// Every open window with this goal closes as a success: each counts for its own action or
// program, so two actions aiming at one goal both learn from it.
void JourneyEngine::reach_goals(JourneyState& journey, const Event& event, Effects& out) const {
    auto& windows = journey.goal_windows;
    const auto reached =
        std::stable_partition(windows.begin(), windows.end(), [&](const GoalWindow& w) {
            return goal_of(w).event != event.type || event.ts < w.sent_at || event.ts > w.closes_at;
        });
    for (auto it = reached; it != windows.end(); ++it)
        out.outcomes.push_back({it->of, it->id, ActionOutcome::success});
    windows.erase(reached, windows.end());
}

std::optional<TimeMs> JourneyEngine::next_due(const CustomerState& customer) const {
    std::optional<TimeMs> earliest;
    for (const PendingTimer& timer : customer.journey.timers)
        if (!earliest || timer.due < *earliest) earliest = timer.due;
    for (const GoalWindow& window : customer.journey.goal_windows)
        if (!earliest || window.closes_at < *earliest) earliest = window.closes_at;
    return earliest;
}

std::string JourneyEngine::timer_name(const PendingTimer& timer) const {
    if (timer.kind == TimerKind::program_delay) return "delay:" + model_.programs[timer.rule].name;
    if (timer.kind == TimerKind::segments) return std::string(kSegmentsTimer);
    if (timer.kind == TimerKind::driver_window) return "driver:" + model_.driver_name(timer.rule);
    return model_.timers[timer.rule].name;
}

void JourneyEngine::record_hit(JourneyState& journey, uint16_t rule, TimeMs ts) const {
    const TransitionRule& transition = model_.transitions[rule];
    auto& hits = journey.window_hits;
    auto [first, last] = hits_of(hits, rule);
    const TimeMs horizon = std::max(journey.last_event_ts, ts) - transition.within;
    auto keep_from = std::find_if(first, last, [&](const WindowHit& h) { return h.ts > horizon; });
    // A window needs `count` hits; remembering twice that many lets a late event land among
    // them without forgetting hits that arrived in order, and bounds memory under floods.
    const size_t max_hits = static_cast<size_t>(transition.count) * 2;
    if (static_cast<size_t>(last - keep_from) >= max_hits) keep_from = last - (max_hits - 1);
    hits.erase(first, keep_from);
    if (ts <= horizon) return;
    hits.insert(std::upper_bound(hits.begin(), hits.end(), WindowHit{rule, ts}, by_rule_then_ts),
                WindowHit{rule, ts});
}

bool JourneyEngine::window_complete(const JourneyState& journey, uint16_t rule, TimeMs ts) const {
    const TransitionRule& transition = model_.transitions[rule];
    if (ts <= journey.last_event_ts - transition.within) return false;  // forgotten, see record_hit
    const auto [begin, end] = hits_of(journey.window_hits, rule);
    if (begin == end) return false;
    const WindowHit* hits = &*begin;
    const size_t n = end - begin, count = transition.count;
    // Complete when `count` consecutive hits, one of them this event, span less than `within`:
    // a late event can then close a window that events on both sides of it opened.
    const size_t at = std::lower_bound(begin, end, WindowHit{rule, ts}, by_rule_then_ts) - begin;
    for (size_t first = at >= count - 1 ? at - (count - 1) : 0; first <= at; ++first) {
        if (first + count - 1 >= n) break;
        if (hits[first + count - 1].ts - hits[first].ts < transition.within) return true;
    }
    return false;
}

void JourneyEngine::leave_stage(CustomerState& customer, StageId to, TimeMs now,
                                Effects& out) const {
    JourneyState& journey = customer.journey;
    auto& timers = journey.timers;
    auto stays = [&](const PendingTimer& timer) {
        if (timer.kind == TimerKind::inactivity) return contains(model_.timers[timer.rule].in, to);
        if (timer.kind == TimerKind::segments) return true;        // evaluated again after the move
        if (timer.kind == TimerKind::driver_window) return false;  // its episode closes below
        return !model_.programs[timer.rule].on_enter;  // other delays do not depend on stage
    };
    auto gone = std::stable_partition(timers.begin(), timers.end(), stays);
    for (auto it = gone; it != timers.end(); ++it) {
        out.timer_changes.push_back({false, it->kind, it->rule, it->due});
        if (it->kind == TimerKind::program_delay)
            out.drops.push_back({it->rule, std::move(it->cause), kReasonLeftStage, now});
    }
    timers.erase(gone, timers.end());
    while (!journey.episodes.empty())
        close_episode(journey, journey.episodes.back().driver, to, out);
}

void JourneyEngine::open_episodes(JourneyState& journey, TimeMs now, Effects& out) const {
    for (uint16_t d : drivers_from_[journey.stage]) {
        DriverEpisode episode;
        episode.driver = d;
        episode.opened_at = now;
        journey.episodes.push_back(std::move(episode));
        arm(journey, TimerKind::driver_window, d, now + model_.drivers[d].window, {}, out);
    }
}

// `to`: the stage the customer moves to, or the current one when the window passed.
void JourneyEngine::close_episode(JourneyState& journey, uint16_t driver, StageId to,
                                  Effects& out) const {
    auto& episodes = journey.episodes;
    auto open = std::find_if(episodes.begin(), episodes.end(),
                             [&](const DriverEpisode& e) { return e.driver == driver; });
    if (open == episodes.end()) return;
    const bool advanced = to != journey.stage && to == model_.drivers[driver].to;
    out.closed_episodes.push_back({std::move(*open), advanced});
    episodes.erase(open);
}

void JourneyEngine::enter_stage(CustomerState& customer, StageId to, TimeMs at,
                                const std::string& cause, TimeMs now, Effects& out) const {
    JourneyState& journey = customer.journey;
    out.stage_changes.push_back({journey.created, journey.stage, to, at,
                                 std::max<DurationMs>(0, at - journey.stage_since)});
    journey.stage = to;
    journey.stage_since = at;
    open_episodes(journey, now, out);
    for (ProgramId p : on_enter_[to]) request_program(customer, p, cause, now, out);
}

void JourneyEngine::arm_inactivity(JourneyState& journey, TimeMs now, bool restart_running,
                                   Effects& out) const {
    for (uint16_t t : timers_in_[journey.stage]) {
        const TimeMs due = now + model_.timers[t].after;
        auto running = std::find_if(
            journey.timers.begin(), journey.timers.end(), [&](const PendingTimer& timer) {
                return timer.kind == TimerKind::inactivity && timer.rule == t;
            });
        if (running == journey.timers.end()) {
            arm(journey, TimerKind::inactivity, t, due, {}, out);
        } else if (restart_running) {
            running->due = due;
            out.timer_changes.push_back({true, TimerKind::inactivity, t, due});
        }
    }
}

void JourneyEngine::arm_missing_inactivity(CustomerState& customer, TimeMs since,
                                           Effects& out) const {
    if (customer.journey.created)
        arm_inactivity(customer.journey, since, /*restart_running=*/false, out);
}

void JourneyEngine::arm(JourneyState& journey, TimerKind kind, uint16_t rule, TimeMs due,
                        std::string cause, Effects& out) const {
    journey.timers.push_back({journey.next_timer_seq++, kind, rule, due, std::move(cause)});
    out.timer_changes.push_back({true, kind, rule, due});
}

void JourneyEngine::update_segments(CustomerState& customer, const std::string& cause, TimeMs now,
                                    Effects& out) const {
    const std::vector<SegmentRule>& segments = model_.conditions.segments;
    if (segments.empty()) return;
    JourneyState& journey = customer.journey;
    thread_local SegmentMembership membership;
    evaluate_segments(model_.conditions, customer, now, membership);
    size_t held = 0;  // journey.segments is ascending, as the ids below are visited
    thread_local std::vector<uint16_t> now_in;  // reused: no allocation per event
    now_in.clear();
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto id = static_cast<uint16_t>(i);
        const bool was = held < journey.segments.size() && journey.segments[held] == id;
        if (was) ++held;
        if (membership.member[i]) now_in.push_back(id);
        if (was == membership.member[i]) continue;
        out.segment_changes.push_back({id, membership.member[i]});
    }
    journey.segments.assign(now_in.begin(), now_in.end());
    for (const SegmentChange& change : out.segment_changes) {
        const SegmentPrograms& programs = segment_programs_[change.segment];
        for (ProgramId p : change.entered ? programs.on_enter : programs.on_exit)
            request_program(customer, p, cause, now, out);
    }
    // One timer, for the earliest flip.
    auto& timers = journey.timers;
    auto armed = std::find_if(timers.begin(), timers.end(),
                              [](const PendingTimer& t) { return t.kind == TimerKind::segments; });
    if (armed != timers.end() && membership.next_flip == armed->due) return;
    if (armed != timers.end()) {
        out.timer_changes.push_back({false, TimerKind::segments, 0, armed->due});
        timers.erase(armed);
    }
    if (membership.next_flip) arm(journey, TimerKind::segments, 0, *membership.next_flip, {}, out);
}

bool JourneyEngine::eligible(const CustomerState& customer, ProgramId program, TimeMs now) const {
    const Condition& when = model_.programs[program].when;
    if (when.entries.empty()) return true;
    // One per thread: a condition naming segments needs them all evaluated, and reusing the
    // membership's vectors keeps that from allocating.
    thread_local SegmentMembership segments;
    const bool names_segments =
        std::any_of(when.entries.begin(), when.entries.end(), [](const ConditionEntry& e) {
            return e.kind == EntryKind::segment || e.kind == EntryKind::not_segment;
        });
    if (names_segments) evaluate_segments(model_.conditions, customer, now, segments);
    return holds(when, customer, segments, now);
}

void JourneyEngine::request_program(CustomerState& customer, ProgramId program,
                                    const std::string& cause, TimeMs now, Effects& out) const {
    if (!eligible(customer, program, now)) return;
    const DurationMs delay = model_.programs[program].delay;
    if (delay > 0) {
        arm(customer.journey, TimerKind::program_delay, program, now + delay, cause, out);
        return;
    }
    out.requests.push_back({program, cause, now});
}

bool RecentEventIds::contains(uint64_t fingerprint) const {
    return std::find(ring_.begin(), ring_.end(), fingerprint) != ring_.end();
}

std::optional<uint64_t> RecentEventIds::remember(uint64_t fingerprint) {
    if (ring_.size() < kCapacity) {
        ring_.push_back(fingerprint);
        return std::nullopt;
    }
    const uint64_t evicted = std::exchange(ring_[next_], fingerprint);
    next_ = (next_ + 1) % kCapacity;
    return evicted;
}

void RecentEventIds::restore(std::vector<uint64_t> ring, uint32_t next_slot) {
    ring_ = std::move(ring);
    next_ = ring_.empty() ? 0 : next_slot % ring_.size();
}

}  // namespace journeyd
