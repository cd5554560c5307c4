#include "state/decisioning/condition.hpp"

#include <algorithm>

#include "state/journey/customer_state.hpp"

namespace journeyd {
namespace {

// The entry's window's event times still inside it at `now`, newest last.
std::pair<const WindowHit*, const WindowHit*> in_window(const ConditionEntry& entry,
                                                        const JourneyState& journey, TimeMs now) {
    const auto [first, last] = hits_of(journey.condition_hits, entry.window);
    auto inside =
        std::find_if(first, last, [&](const WindowHit& h) { return h.ts > now - entry.duration; });
    if (inside == last) return {nullptr, nullptr};
    return {&*inside, &*inside + (last - inside)};
}

bool attr_holds(const ConditionEntry& entry, const nlohmann::json& attrs) {
    const auto found = attrs.find(entry.attr);
    const bool present = found != attrs.end();
    switch (entry.kind) {
        case EntryKind::attr_exists:
            return present == entry.exists;
        case EntryKind::attr_equals:
        case EntryKind::attr_in:
            return present && std::find(entry.values.begin(), entry.values.end(), *found) !=
                                  entry.values.end();
        case EntryKind::attr_compare: {
            if (!present || !found->is_number()) return false;
            const double value = found->get<double>();
            switch (entry.comparison) {
                case Comparison::gt:
                    return value > entry.number;
                case Comparison::gte:
                    return value >= entry.number;
                case Comparison::lt:
                    return value < entry.number;
                case Comparison::lte:
                    return value <= entry.number;
            }
            return false;
        }
        default:
            return false;
    }
}

// Whether the entry holds now, and the earliest instant time alone may change that (see
// next_flip()): one pass over the customer's state for both.
struct Answer {
    bool holds = false;
    std::optional<TimeMs> flip;
};

Answer answer_of(const ConditionEntry& entry, const CustomerState& customer,
                 const SegmentMembership& segments, TimeMs now) {
    const JourneyState& journey = customer.journey;
    switch (entry.kind) {
        case EntryKind::stage:
            return {journey.created && std::find(entry.stages.begin(), entry.stages.end(),
                                                 journey.stage) != entry.stages.end(),
                    std::nullopt};
        case EntryKind::event_count: {
            const auto [first, last] = in_window(entry, journey, now);
            const auto seen = static_cast<uint32_t>(last - first);
            const bool holds = entry.at_least ? seen >= entry.count : seen <= entry.count;
            // Counts only fall with time: `min` may stop holding, `max` may start to.
            if (entry.at_least ? !holds : holds) return {holds, std::nullopt};
            // The oldest times leave first; this many must, for the answer to change.
            const uint32_t must_leave =
                entry.at_least ? seen - entry.count + 1 : seen - entry.count;
            return {holds, first[must_leave - 1].ts + entry.duration};
        }
        case EntryKind::in_stage_for: {
            if (!journey.created) return {false, std::nullopt};
            const TimeMs reached = journey.stage_since + entry.duration;
            if (reached <= now) return {true, std::nullopt};
            return {false, reached};
        }
        case EntryKind::segment:
            return {segments.member[entry.segment], segments.flips[entry.segment]};
        case EntryKind::not_segment:
            return {!segments.member[entry.segment], segments.flips[entry.segment]};
        default:
            return {attr_holds(entry, customer.profile.attrs()), std::nullopt};
    }
}

std::optional<TimeMs> earliest(std::optional<TimeMs> a, std::optional<TimeMs> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

}  // namespace

std::optional<uint16_t> ConditionModel::segment_id(std::string_view name) const {
    for (size_t i = 0; i < segments.size(); ++i)
        if (segments[i].name == name) return static_cast<uint16_t>(i);
    return std::nullopt;
}

bool holds(const Condition& condition, const CustomerState& customer,
           const SegmentMembership& segments, TimeMs now) {
    return std::all_of(
        condition.entries.begin(), condition.entries.end(),
        [&](const ConditionEntry& e) { return answer_of(e, customer, segments, now).holds; });
}

std::optional<TimeMs> next_flip(const Condition& condition, const CustomerState& customer,
                                const SegmentMembership& segments, TimeMs now) {
    std::optional<TimeMs> flip;
    for (const ConditionEntry& entry : condition.entries)
        flip = earliest(flip, answer_of(entry, customer, segments, now).flip);
    return flip;
}

void evaluate_segments(const ConditionModel& model, const CustomerState& customer, TimeMs now,
                       SegmentMembership& out) {
    out.member.assign(model.segments.size(), false);
    out.flips.assign(model.segments.size(), std::nullopt);
    out.next_flip.reset();
    for (size_t i = 0; i < model.segments.size(); ++i) {
        bool member = true;
        std::optional<TimeMs> flip;
        for (const ConditionEntry& entry : model.segments[i].when.entries) {
            const Answer answer = answer_of(entry, customer, out, now);
            member = member && answer.holds;
            flip = earliest(flip, answer.flip);
        }
        out.member[i] = member;
        out.flips[i] = flip;
        out.next_flip = earliest(out.next_flip, flip);
    }
}

void stored_membership(const ConditionModel& model, const JourneyState& journey,
                       SegmentMembership& out) {
    out.member.assign(model.segments.size(), false);
    out.flips.assign(model.segments.size(), std::nullopt);
    out.next_flip.reset();
    for (uint16_t segment : journey.segments)
        if (segment < out.member.size()) out.member[segment] = true;
}

void record_condition_event(const ConditionModel& model, JourneyState& journey,
                            const std::vector<uint16_t>& windows, TimeMs ts) {
    auto& hits = journey.condition_hits;
    for (const uint16_t rule : windows) {
        const EventWindow& window = model.windows[rule];
        const auto [first, last] = hits_of(hits, rule);
        // Times that left the window can never count again, behind the newest one seen.
        const TimeMs newest = first == last ? ts : std::max(ts, std::prev(last)->ts);
        const TimeMs horizon = newest - window.within;
        hits.erase(first,
                   std::find_if(first, last, [&](const WindowHit& h) { return h.ts > horizon; }));
        if (ts <= horizon) continue;
        hits.insert(
            std::upper_bound(hits.begin(), hits.end(), WindowHit{rule, ts}, by_rule_then_ts),
            WindowHit{rule, ts});
        // Only the newest `keep` times matter to any entry on this window.
        auto [run_first, run_last] = hits_of(hits, rule);
        if (static_cast<uint32_t>(run_last - run_first) > window.keep)
            hits.erase(run_first, run_last - window.keep);
    }
}

}  // namespace journeyd
