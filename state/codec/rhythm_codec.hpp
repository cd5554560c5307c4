// A customer's engagement hours and the population's as bytes for the store: a version byte
// (kRhythmRecordVersion) and one msgpack array [decayed_at, [24 hours]], the hours as the
// histogram keeps them (bucket units for a customer, events for the population).
//
// decode never trusts its input: a wrong version, a malformed body, a bucket outside uint16 or a
// population weight that is negative or not finite gives nullopt and `error` naming the field.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "state/rhythm/engagement_hours.hpp"

namespace journeyd {

inline constexpr uint8_t kRhythmRecordVersion = 1;

std::string encode_engagement_hours(const EngagementHours& hours);
std::optional<EngagementHours> decode_engagement_hours(std::string_view record, std::string& error);

std::string encode_population_hours(const PopulationHours& hours);
std::optional<PopulationHours> decode_population_hours(std::string_view record, std::string& error);

}  // namespace journeyd
