#include "state/rhythm/engagement_hours.hpp"

#include <date/tz.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "state/pressure/quiet_hours.hpp"

namespace journeyd {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kBucketMax = std::numeric_limits<uint16_t>::max();

// In doubles, so that no pair of instants, however far apart, can overflow.
double half_lives(TimeMs from, TimeMs to, DurationMs half_life) {
    return (static_cast<double>(to) - static_cast<double>(from)) / static_cast<double>(half_life);
}

// What weight as of `from` is as of `to`: less when `to` is later.
double decay(TimeMs from, TimeMs to, DurationMs half_life) {
    return std::exp2(-half_lives(from, to, half_life));
}

int hour_of_day(date::local_time<std::chrono::hours> hour) {
    return static_cast<int>((hour - date::floor<date::days>(hour)).count());
}

date::local_time<std::chrono::hours> local_hour(TimeMs at, const date::time_zone* zone) {
    return date::floor<std::chrono::hours>(
        zone->to_local(date::sys_time<milliseconds>{milliseconds(at)}));
}

}  // namespace

int EngagementHours::record(TimeMs at, const date::time_zone* zone, DurationMs half_life) {
    if (half_lives(decayed_at_, at, half_life) >= 1.0 / kDecayStepsPerHalfLife) {
        const double factor = decay(decayed_at_, at, half_life);
        for (uint16_t& bucket : buckets_)
            bucket = static_cast<uint16_t>(std::lround(bucket * factor));
        decayed_at_ = at;
    }
    const int hour = hour_of_day(local_hour(at, zone));
    add(hour, std::llround(kEngagementScale * decay(at, decayed_at_, half_life)), half_life);
    return hour;
}

void EngagementHours::add(int hour, int64_t units, DurationMs half_life) {
    const int64_t sum = buckets_[hour] + units;
    if (sum <= kBucketMax) {
        buckets_[hour] = static_cast<uint16_t>(sum);
        return;
    }
    const double shrink = static_cast<double>(kBucketMax) / static_cast<double>(sum);
    for (uint16_t& bucket : buckets_) bucket = static_cast<uint16_t>(std::lround(bucket * shrink));
    buckets_[hour] = static_cast<uint16_t>(kBucketMax);
    // Decay over half_life · log2(1 / shrink) shrinks as much: moving the clock on by that
    // keeps what every bucket reads at any instant, and the next event's weight relative to them.
    decayed_at_ += std::llround(static_cast<double>(half_life) * -std::log2(shrink));
}

HourWeights EngagementHours::weights(TimeMs now, DurationMs half_life) const {
    const double per_unit = decay(decayed_at_, now, half_life) / kEngagementScale;
    HourWeights weights{};
    for (int hour = 0; hour < kHoursPerDay; ++hour) weights[hour] = buckets_[hour] * per_unit;
    return weights;
}

double EngagementHours::total(TimeMs now, DurationMs half_life) const {
    const HourWeights hours = weights(now, half_life);
    double sum = 0;
    for (double weight : hours) sum += weight;
    return sum;
}

void PopulationHours::record(TimeMs at, const date::time_zone* zone, DurationMs half_life) {
    record_hour(at, hour_of_day(local_hour(at, zone)), half_life);
}

void PopulationHours::record_hour(TimeMs at, int hour, DurationMs half_life) {
    if (at > decayed_at_) {
        const double factor = decay(decayed_at_, at, half_life);
        for (double& weight : weights_) weight *= factor;
        decayed_at_ = at;
    }
    weights_[hour] += decay(at, decayed_at_, half_life);
}

HourWeights PopulationHours::weights(TimeMs now, DurationMs half_life) const {
    const double factor = decay(decayed_at_, now, half_life);
    HourWeights weights = weights_;
    for (double& weight : weights) weight *= factor;
    return weights;
}

HourWeights rhythm_weights(const EngagementHours& customer, const PopulationHours& population,
                           TimeMs now, DurationMs half_life) {
    if (customer.total(now, half_life) >= kOwnRhythmMinEvents)
        return customer.weights(now, half_life);
    return population.weights(now, half_life);
}

SendHours send_hours_of(const HourWeights& weights) {
    const double heaviest = *std::max_element(weights.begin(), weights.end());
    SendHours hours{};
    if (!(heaviest > 0)) return hours;
    for (int hour = 0; hour < kHoursPerDay; ++hour)
        hours[hour] = static_cast<uint16_t>(std::lround(weights[hour] / heaviest * kBucketMax));
    return hours;
}

HourWeights weights_of(const SendHours& hours) {
    HourWeights weights{};
    for (int hour = 0; hour < kHoursPerDay; ++hour) weights[hour] = hours[hour];
    return weights;
}

std::optional<TimeMs> best_hour(const HourWeights& weights, const date::time_zone* zone, TimeMs now,
                                DurationMs send_within, const std::optional<QuietHours>& quiet) {
    std::optional<TimeMs> best;
    double best_weight = 0;
    auto consider = [&](TimeMs start, int hour) {
        if (quiet && quiet_until(*quiet, zone, start)) return;
        if (best && weights[hour] <= best_weight) return;
        best = start;
        best_weight = weights[hour];
    };
    const auto current = local_hour(now, zone);
    consider(now, hour_of_day(current));
    const TimeMs last = now + send_within;
    for (auto hour = current + std::chrono::hours(1);; hour += std::chrono::hours(1)) {
        const date::local_info info = zone->get_info(hour);
        if (info.result == date::local_info::nonexistent) continue;
        // `first` is the earlier of two offsets that read `hour`: its first occurrence.
        const TimeMs start =
            std::chrono::duration_cast<milliseconds>(hour.time_since_epoch() - info.first.offset)
                .count();
        if (start > last) break;
        // A zone that falls back by more than an hour repeats the next hour too, before `now`.
        if (start > now) consider(start, hour_of_day(hour));
    }
    return best;
}

int best_local_hour(const HourWeights& weights) {
    return static_cast<int>(std::max_element(weights.begin(), weights.end()) - weights.begin());
}

}  // namespace journeyd
