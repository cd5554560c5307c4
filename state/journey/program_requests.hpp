// What a customer's journey effects ask of the contact-pressure coordinator: one
// ContactRequest per program requested or dropped (JourneyEngine's Effects), carrying the
// customer's preferences as they are after the change. Shared by the customer actor and
// journey-bench's limit run, so both hand the ledger the same requests.
#pragma once

#include <vector>

#include "state/decisioning/action_totals.hpp"
#include "state/journey/customer_state.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/pressure/contact_request.hpp"
#include "state/rhythm/population_rhythm.hpp"

namespace journeyd {

ContactPreferences preferences_of(const Profile& profile);

// The reason of a request of a program with action = "best" none of whose actions is eligible.
inline constexpr std::string_view kReasonNoAction = "no_action";

// Requests first, then drops (the coordinator records those as suppressed). A program with
// action = "best" gets its eligible actions ranked with `totals` (none: every action at its
// prior); with none eligible it is dropped, reason kReasonNoAction. A program with send_at =
// "best_hour" gets the hours to send by: the customer's own, or `population`'s when theirs are
// too few (no `population`: their own, however few).
std::vector<ContactRequest> contact_requests(const CustomerState& customer,
                                             const JourneyModel& model, const Effects& effects,
                                             const ActionTotals* totals = nullptr,
                                             const PopulationRhythm* population = nullptr);

}  // namespace journeyd
