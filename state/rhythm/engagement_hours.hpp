// Send time by the customer's own rhythm (docs: DECISIONING.md, "Send time (Rhythm)"): how a
// customer's engagement spreads over the 24 hours of their local day, decayed by `half_life`,
// and the best hour to send within `send_within` that quiet hours allow.
//
// Decay is exponential: an event `Δt` old weighs 2^(−Δt / half_life), so one half-life halves it.
// Each histogram keeps its weights as of one instant, `decayed_at`, and decays them to `now` on
// reading (an earlier `now` reads them grown: weights as of then). record(at) adds the event's
// weight as of `decayed_at`, 2^((at − decayed_at) / half_life): 1 when they coincide, less for an
// event older than `decayed_at` (out of order: the clock never moves backwards), a little more for
// a newer one the clock has not moved to. An event's hour is the local hour of `at` in the
// customer's zone: on a fall-back night both 02:00 hours are bucket 2; on a spring-forward night
// bucket 2 gets nothing.
//
// EngagementHours, one per customer, is 56 bytes: 24 uint16 buckets in 1/kEngagementScale
// events and the int64 `decayed_at`. A bucket's finest step, 1/256 event, is what an event is
// worth after 8 half-lives. A bucket that would pass 65535 (≈ 256 events) shrinks every bucket
// by the same factor and moves `decayed_at` on by the time decay takes to shrink them as much,
// so every reading stays what it was: a heavy user loses resolution in their quietest hours,
// never the shape or weight of their day, and `decayed_at` may lie ahead of their last event.
// Rounding to the grid could cancel a decay too small to move a bucket by half a unit, so the
// clock moves to an event only once it is kDecayStepsPerHalfLife-th of a half-life behind; a
// bucket of at most 11 units (0.04 events) may then stay where it is.
//
// Too little history: a customer whose decayed total is below kOwnRhythmMinEvents (3 events'
// worth) is sent by the population's hours instead of their own (rhythm_weights).
//
// best_hour's candidates are `now` itself, standing for the rest of the current local hour, and
// the start of every later local hour up to now + send_within. A local hour that does not exist
// (spring forward) is no candidate; one that occurs twice (fall back) is a candidate at its first
// occurrence only. A candidate inside quiet hours is never chosen; of the others, the one whose
// hour weighs most wins, the earliest on a tie, so `now` when the current hour is as good as any.
//
// `zone` is never null (TimeZones::find_or_utc); `half_life` > 0.
// Thread-safety: plain values and functions of their arguments; a histogram is changed by one
// owner, like the standard containers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "state/duration.hpp"
#include "state/pressure/pressure_policy.hpp"

namespace date {
class time_zone;
}

namespace journeyd {

inline constexpr int kHoursPerDay = 24;
inline constexpr int kEngagementScale = 256;  // bucket units per event
inline constexpr int kDecayStepsPerHalfLife = 16;
inline constexpr double kOwnRhythmMinEvents = 3;

// Engagement per local hour, 0 (00:00–01:00) to 23, in events.
using HourWeights = std::array<double, kHoursPerDay>;

class EngagementHours {
  public:
    using Buckets = std::array<uint16_t, kHoursPerDay>;

    EngagementHours() = default;
    // The stored state, as buckets() and decayed_at() gave it.
    EngagementHours(const Buckets& buckets, TimeMs decayed_at)
        : buckets_(buckets), decayed_at_(decayed_at) {}

    // Returns the local hour it recorded the event in.
    int record(TimeMs at, const date::time_zone* zone, DurationMs half_life);
    HourWeights weights(TimeMs now, DurationMs half_life) const;
    double total(TimeMs now, DurationMs half_life) const;

    const Buckets& buckets() const { return buckets_; }
    TimeMs decayed_at() const { return decayed_at_; }

    bool operator==(const EngagementHours& o) const {
        return buckets_ == o.buckets_ && decayed_at_ == o.decayed_at_;
    }

  private:
    void add(int hour, int64_t units, DurationMs half_life);

    Buckets buckets_{};
    TimeMs decayed_at_ = 0;
};
static_assert(sizeof(EngagementHours) == 56, "one per customer: keep it a few dozen bytes");

// All customers' engagement together, each event in its customer's zone: the hours of a
// customer with too little history of their own. Unquantized, since there is one.
class PopulationHours {
  public:
    PopulationHours() = default;
    // The stored state, as stored_weights() and decayed_at() gave it.
    PopulationHours(const HourWeights& weights, TimeMs decayed_at)
        : weights_(weights), decayed_at_(decayed_at) {}

    void record(TimeMs at, const date::time_zone* zone, DurationMs half_life);
    // An event at `at` whose local hour, in its customer's zone, is `hour` (0..23).
    void record_hour(TimeMs at, int hour, DurationMs half_life);
    HourWeights weights(TimeMs now, DurationMs half_life) const;

    // As of decayed_at().
    const HourWeights& stored_weights() const { return weights_; }
    TimeMs decayed_at() const { return decayed_at_; }

  private:
    HourWeights weights_{};
    TimeMs decayed_at_ = 0;
};

// The hours to send `customer` by: their own, or the population's when theirs total less than
// kOwnRhythmMinEvents.
HourWeights rhythm_weights(const EngagementHours& customer, const PopulationHours& population,
                           TimeMs now, DurationMs half_life);

// The hours a request of a `send_at = "best_hour"` program is sent by: rhythm_weights as of the
// request, scaled so that the heaviest hour is 65535 (all 0: no engagement anywhere). Fixed
// when the request is made and stored with it, so that the hour chosen from them is the same
// however often, and after however many restarts, the request is evaluated. 48 bytes.
using SendHours = std::array<uint16_t, kHoursPerDay>;
SendHours send_hours_of(const HourWeights& weights);
HourWeights weights_of(const SendHours& hours);

// The instant to send at (`now`, or the start of a later local hour), or nullopt when quiet
// hours allow no candidate within the window (the caller then decides now). No `quiet`: quiet
// hours are off. A negative send_within acts as 0. Costs one zone lookup per hour of the window.
std::optional<TimeMs> best_hour(const HourWeights& weights, const date::time_zone* zone, TimeMs now,
                                DurationMs send_within, const std::optional<QuietHours>& quiet);

// The heaviest hour, 0..23, the earliest on a tie (0 when there is no engagement): for display.
int best_local_hour(const HourWeights& weights);

}  // namespace journeyd
