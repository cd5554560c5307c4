// Control groups: which customers are kept from a program, so that what the program changes can
// be measured against them (docs/configuration.md, "Goals and control groups").
//
// A customer's bucket is a stable hash of `[experiment] salt`, the customer id and, for a
// program's own holdout, the program's name, into kHoldoutBuckets buckets; the customer is held
// out when the bucket is below share × kHoldoutBuckets. The same customer stays in the same
// group across events, restarts and cluster members, until the salt changes; a program's own
// assignment is independent of the global one and of other programs'. Exempt classes are never
// held out: the ledger asks only for the others.
//
// Pure functions of their arguments; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "state/journey/journey_model.hpp"
#include "state/pressure/pressure_policy.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {

inline constexpr uint32_t kHoldoutBuckets = 10'000;

// FNV-1a's low bits follow the ids' last characters too closely (ids counting up would fill
// the buckets unevenly); a 64-bit finaliser spreads every input bit over the bucket number.
inline uint32_t holdout_bucket(std::string_view salt, std::string_view customer,
                               std::string_view program = {}) {
    constexpr std::string_view kSeparator("\0", 1);
    uint64_t h = stable_hash(salt);
    h = stable_hash(customer, stable_hash(kSeparator, h));
    if (!program.empty()) h = stable_hash(program, stable_hash(kSeparator, h));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<uint32_t>(h % kHoldoutBuckets);
}

inline bool in_share(uint32_t bucket, double share) {
    return bucket < share * kHoldoutBuckets;
}

enum class Holdout : uint8_t { none, global, program, action };

inline bool in_global_holdout(const JourneyModel& model, std::string_view customer) {
    const Experiment& experiment = model.experiment;
    return experiment.global_holdout > 0 &&
           in_share(holdout_bucket(experiment.salt, customer), experiment.global_holdout);
}

inline bool in_program_holdout(const JourneyModel& model, ProgramId program,
                               std::string_view customer) {
    const Program& p = model.programs[program];
    return p.holdout > 0 &&
           in_share(holdout_bucket(model.experiment.salt, customer, p.name), p.holdout);
}

// An action's own holdout: assigned apart from any program's (the action's name is hashed
// behind a NUL, which no program name starts with).
inline bool in_action_holdout(const JourneyModel& model, ActionId action,
                              std::string_view customer) {
    const Action& a = model.actions[action];
    if (a.holdout <= 0) return false;
    std::string key(1, '\0');
    key += a.name;
    return in_share(holdout_bucket(model.experiment.salt, customer, key), a.holdout);
}

// Why the customer is kept from the program, if it is (the global holdout first).
inline Holdout holdout_of(const JourneyModel& model, ProgramId program, std::string_view customer) {
    if (in_global_holdout(model, customer)) return Holdout::global;
    if (in_program_holdout(model, program, customer)) return Holdout::program;
    return Holdout::none;
}

// The share of the program's requests held out: the global holdout and the program's own are
// assigned independently. 0 for a program of an exempt class (a "best" program's class is its
// chosen action's, so it is counted as held out as configured).
inline double held_out_share(const JourneyModel& model, const PressurePolicy& policy,
                             ProgramId program) {
    const Program& p = model.programs[program];
    if (!p.best_action && policy.exempt[p.priority]) return 0;
    const double global = model.experiment.global_holdout;
    return global + p.holdout - global * p.holdout;
}

}  // namespace journeyd
