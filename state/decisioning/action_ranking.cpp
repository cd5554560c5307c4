#include "state/decisioning/action_ranking.hpp"

#include <algorithm>
#include <boost/math/special_functions/beta.hpp>
#include <random>

#include "state/decisioning/condition.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {
namespace {

double alpha(const ActionCounts& c) {
    return 1.0 + static_cast<double>(std::max<int64_t>(0, c.successes));
}
double beta(const ActionCounts& c) {
    return 1.0 + static_cast<double>(std::max<int64_t>(0, c.failures));
}

// A generator cheap to seed, one per draw: std::mt19937_64's seeding fills 312 words, which
// cost more than the draw itself. SplitMix64 (Steele, Lea, Flood 2014).
class SplitMix64 {
  public:
    using result_type = uint64_t;
    explicit SplitMix64(uint64_t seed) : state_(seed) {}
    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return ~uint64_t(0); }
    result_type operator()() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }

  private:
    uint64_t state_;
};

// The customer's segments as the engine last evaluated them, reused per thread.
const SegmentMembership& membership_of(const CustomerState& customer, const JourneyModel& model) {
    thread_local SegmentMembership membership;
    stored_membership(model.conditions, customer.journey, membership);
    return membership;
}

}  // namespace

double propensity_mean(const ActionCounts& counts) {
    return alpha(counts) / (alpha(counts) + beta(counts));
}

std::pair<double, double> propensity_interval(const ActionCounts& counts) {
    return {boost::math::ibeta_inv(alpha(counts), beta(counts), 0.025),
            boost::math::ibeta_inv(alpha(counts), beta(counts), 0.975)};
}

// X / (X + Y) of X ~ Gamma(alpha), Y ~ Gamma(beta) is Beta(alpha, beta).
double propensity_draw(const ActionCounts& counts, uint64_t seed) {
    SplitMix64 random(seed);
    std::gamma_distribution<double> x(alpha(counts), 1.0);
    std::gamma_distribution<double> y(beta(counts), 1.0);
    const double a = x(random);
    const double b = y(random);
    return a + b > 0 ? a / (a + b) : 0.5;
}

uint64_t draw_seed(std::string_view decision_id, std::string_view action) {
    return stable_hash(action, stable_hash(decision_id, stable_hash("thompson")));
}

std::vector<RankedAction> rank_actions(const CustomerState& customer, const JourneyModel& model,
                                       const Program& program,
                                       const std::vector<ActionCounts>& totals,
                                       std::string_view decision_id, TimeMs now) {
    std::vector<RankedAction> ranked;
    const SegmentMembership& segments = membership_of(customer, model);
    for (ActionId id : program.candidates) {
        if (!holds(model.actions[id].when, customer, segments, now)) continue;
        const Action& action = model.actions[id];
        const ActionCounts counts = id < totals.size() ? totals[id] : ActionCounts{};
        const double propensity = model.explore == Explore::thompson
                                      ? propensity_draw(counts, draw_seed(decision_id, action.name))
                                      : propensity_mean(counts);
        ranked.push_back({id, propensity, propensity * action.value * action.weight});
    }
    std::stable_sort(
        ranked.begin(), ranked.end(),
        [](const RankedAction& a, const RankedAction& b) { return a.score > b.score; });
    return ranked;
}

std::vector<ActionStanding> rank_catalogue(const CustomerState& customer, const JourneyModel& model,
                                           const std::vector<ActionCounts>& totals,
                                           const std::vector<std::pair<ActionId, TimeMs>>& sent,
                                           TimeMs now) {
    const std::vector<std::string> refused = customer.profile.refused_channels();
    const SegmentMembership& segments = membership_of(customer, model);
    std::vector<ActionStanding> standings;
    for (size_t i = 0; i < model.actions.size(); ++i) {
        const auto id = static_cast<ActionId>(i);
        const Action& action = model.actions[i];
        ActionStanding standing;
        standing.action = id;
        standing.propensity = propensity_mean(i < totals.size() ? totals[i] : ActionCounts{});
        standing.score = standing.propensity * action.value * action.weight;
        const bool cooling = std::any_of(sent.begin(), sent.end(), [&](const auto& s) {
            return s.first == id && action.cooldown > 0 && s.second > now - action.cooldown;
        });
        if (!holds(action.when, customer, segments, now))
            standing.reason = "not_eligible";
        else if (std::find(refused.begin(), refused.end(), action.channel) != refused.end())
            standing.reason = "consent";
        else if (cooling)
            standing.reason = "cooldown";
        standing.eligible = standing.reason.empty();
        standings.push_back(std::move(standing));
    }
    std::stable_sort(standings.begin(), standings.end(),
                     [](const ActionStanding& a, const ActionStanding& b) {
                         if (a.eligible != b.eligible) return a.eligible;
                         return a.eligible && a.score > b.score;
                     });
    return standings;
}

}  // namespace journeyd
