#include "state/rhythm/population_rhythm.hpp"

namespace journeyd {

void PopulationRhythm::record(TimeMs at, int hour, DurationMs half_life) {
    std::lock_guard<std::mutex> lock(mutex_);
    hours_.record_hour(at, hour, half_life);
    changed_ = true;
}

HourWeights PopulationRhythm::weights_for(const EngagementHours& customer, TimeMs now,
                                          DurationMs half_life) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rhythm_weights(customer, hours_, now, half_life);
}

std::optional<PopulationHours> PopulationRhythm::take_changed() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!changed_) return std::nullopt;
    changed_ = false;
    return hours_;
}

}  // namespace journeyd
