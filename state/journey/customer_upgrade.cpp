#include "state/journey/customer_upgrade.hpp"

#include <algorithm>

#include "state/codec/customer_codec.hpp"

namespace journeyd {
namespace {

bool in_stage_list(const std::vector<StageId>& stages, StageId stage) {
    return std::find(stages.begin(), stages.end(), stage) != stages.end();
}

// Whether an inactivity timer armed under `from` still means the same under `to` for a
// customer in the stage of that name.
bool timer_unchanged(const PendingTimer& timer, const JourneyModel& from, const JourneyModel& to,
                     const std::string& stage) {
    const TimerRule& before = from.timers[timer.rule];
    const auto now_stage = to.stage_id(stage);
    for (const TimerRule& after : to.timers)
        if (after.name == before.name)
            return after.after == before.after && now_stage && in_stage_list(after.in, *now_stage);
    return false;
}

}  // namespace

CustomerUpgrade upgrade_customer(CustomerState& customer, const JourneyEngine& from,
                                 const JourneyEngine& to, TimeMs now, Effects& out) {
    out.clear();
    CustomerUpgrade result;
    const JourneyModel& before = from.model();
    const JourneyModel& after = to.model();
    CustomerState carried = customer;
    auto& timers = carried.journey.timers;
    const std::string& stage = before.stages[carried.journey.stage];
    std::vector<ProgramDrop> drops;
    auto cancelled =
        std::stable_partition(timers.begin(), timers.end(), [&](const PendingTimer& t) {
            if (t.kind == TimerKind::inactivity) return timer_unchanged(t, before, after, stage);
            if (t.kind != TimerKind::program_delay) return true;
            const auto program = after.program_id(before.programs[t.rule].name);
            return program && !after.programs[*program].retired;
        });
    for (auto it = cancelled; it != timers.end(); ++it) {
        if (it->kind != TimerKind::program_delay) continue;
        // Retired programs keep their names (model_alignment.hpp): the drop names it.
        const auto program = after.program_id(before.programs[it->rule].name);
        if (program) drops.push_back({*program, std::move(it->cause), kReasonProgramRemoved, now});
    }
    timers.erase(cancelled, timers.end());
    ReadNotes notes;
    auto upgraded = decode_customer(encode_customer(carried, before), after, result.error, &notes);
    if (!upgraded) return result;
    result.migrated_from = std::move(notes.migrated_from);
    customer = std::move(*upgraded);
    to.arm_missing_inactivity(customer, customer.journey.last_event_at, out);
    out.drops = std::move(drops);
    result.carried = true;
    return result;
}

bool settle_stored(CustomerState& customer, const JourneyEngine& engine, const ReadNotes& notes,
                   TimeMs now, Effects& out) {
    out.clear();
    const JourneyModel& model = engine.model();
    auto& timers = customer.journey.timers;
    const StageId stage = customer.journey.stage;
    const bool restage = !notes.migrated_from.empty() || notes.timers_dropped > 0;
    const size_t before = timers.size();
    auto kept = std::stable_partition(timers.begin(), timers.end(), [&](const PendingTimer& t) {
        if (t.kind == TimerKind::program_delay) return !model.programs[t.rule].retired;
        if (t.kind == TimerKind::inactivity && restage)
            return in_stage_list(model.timers[t.rule].in, stage);
        return true;
    });
    for (auto it = kept; it != timers.end(); ++it)
        if (it->kind == TimerKind::program_delay)
            out.drops.push_back({it->rule, std::move(it->cause), kReasonProgramRemoved, now});
    timers.erase(kept, timers.end());
    if (restage) engine.arm_missing_inactivity(customer, customer.journey.last_event_at, out);
    return restage || timers.size() != before;
}

}  // namespace journeyd
