#include "state/journey/program_requests.hpp"

namespace journeyd {
namespace {

ContactRequest contact_request(const CustomerState& customer, const JourneyModel& model,
                               ProgramId program, const std::string& cause, TimeMs at,
                               std::string dropped_reason) {
    ContactRequest request;
    request.decision_id = make_decision_id(customer.id, model.programs[program].name, cause);
    request.customer = customer.id;
    request.program = program;
    request.cause = cause;
    request.at = at;
    request.dropped_reason = std::move(dropped_reason);
    request.preferences = preferences_of(customer.profile);
    return request;
}

}  // namespace

ContactPreferences preferences_of(const Profile& profile) {
    return {profile.time_zone(), profile.refused_channels()};
}

std::vector<ContactRequest> contact_requests(const CustomerState& customer,
                                             const JourneyModel& model, const Effects& effects,
                                             const ActionTotals* totals,
                                             const PopulationRhythm* population) {
    std::vector<ContactRequest> requests;
    std::vector<ActionCounts> counts;  // read once, for the first program that ranks
    for (const ProgramRequest& r : effects.requests) {
        const Program& program = model.programs[r.program];
        requests.push_back(contact_request(customer, model, r.program, r.cause, r.at, {}));
        if (program.send_at_best_hour) {
            const DurationMs half_life = model.rhythm.half_life;
            requests.back().send_hours = send_hours_of(
                population ? population->weights_for(customer.journey.hours, r.at, half_life)
                           : customer.journey.hours.weights(r.at, half_life));
        }
        if (!program.best_action) continue;
        if (counts.empty())
            counts = totals ? totals->snapshot() : std::vector<ActionCounts>(model.actions.size());
        ContactRequest& request = requests.back();
        request.candidates =
            rank_actions(customer, model, program, counts, request.decision_id, r.at);
        if (request.candidates.empty()) request.dropped_reason = std::string(kReasonNoAction);
    }
    for (const ProgramDrop& d : effects.drops)
        requests.push_back(
            contact_request(customer, model, d.program, d.cause, d.at, std::string(d.reason)));
    const bool created = !effects.stage_changes.empty() && !effects.stage_changes.front().had_stage;
    for (ContactRequest& request : requests) request.new_customer = created;
    return requests;
}

}  // namespace journeyd
