// Next best actions: which of a program's candidate actions suits a customer now
// (docs/configuration.md, "Next best actions").
//
// An eligible action (its `when` holds; a segment it names by the customer's membership as the
// engine last evaluated it, after the event or timer that led here) scores propensity × value ×
// weight. The propensity is read from the action's outcome counts as a Beta(1 + successes, 1 +
// failures): with Explore::thompson a draw from it, from a generator seeded by the decision id and
// the action's name (a replay of the decision after a crash ranks the same way, and adding an
// action to the catalogue changes no other action's draw); with Explore::greedy its mean. Open goal
// windows count as neither.
//
// The coordinator then sends the best ranked action that the contact-pressure rules allow
// (PressureLedger); ranking here knows nothing of pressure.
//
// Thread-safety: plain functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/decisioning/action_outcome.hpp"
#include "state/journey/customer_state.hpp"
#include "state/journey/journey_model.hpp"

namespace journeyd {

struct RankedAction {
    ActionId action = 0;
    double propensity = 0;
    double score = 0;  // propensity × value × weight

    bool operator==(const RankedAction& o) const {
        return action == o.action && propensity == o.propensity && score == o.score;
    }
};

// The mean of Beta(1 + successes, 1 + failures).
double propensity_mean(const ActionCounts& counts);
// Its central 95% interval (the 2.5% and 97.5% quantiles).
std::pair<double, double> propensity_interval(const ActionCounts& counts);
// One draw from it, the same for the same counts and seed.
double propensity_draw(const ActionCounts& counts, uint64_t seed);
// The seed of `action`'s draw for the decision `decision_id`.
uint64_t draw_seed(std::string_view decision_id, std::string_view action);

// The program's eligible candidates, best first (ties: catalogue order). `totals` holds every
// action's counts by ActionId.
std::vector<RankedAction> rank_actions(const CustomerState& customer, const JourneyModel& model,
                                       const Program& program,
                                       const std::vector<ActionCounts>& totals,
                                       std::string_view decision_id, TimeMs now);

// An action of the catalogue as it stands for one customer now (GET /customers/{id}/actions).
struct ActionStanding {
    ActionId action = 0;
    bool eligible = false;
    std::string reason;     // when not eligible: "not_eligible" (its when), "consent", "cooldown"
    double propensity = 0;  // the mean
    double score = 0;
};

// Every action of the catalogue: the eligible ones first, best first by the mean propensity,
// then the others in catalogue order. `sent` are the customer's recent sends (action, time),
// for cooldowns; consent is read from the profile.
std::vector<ActionStanding> rank_catalogue(const CustomerState& customer, const JourneyModel& model,
                                           const std::vector<ActionCounts>& totals,
                                           const std::vector<std::pair<ActionId, TimeMs>>& sent,
                                           TimeMs now);

}  // namespace journeyd
