// The store record of one customer: a version byte, then one msgpack array.
//
// Stages and timers are recorded by name, not by index, so that a record written under one
// configuration reads back under an edited one (stages added, programs reordered); a stage
// name the new configuration lacks, and does not migrate, makes decode fail with a message
// naming it, and the caller decides what to do with that customer. Timers of programs and
// rules it lacks are dropped (see ReadNotes). Window hits are keyed by the position of their
// counting transition, since transitions have no names.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "state/journey/customer_state.hpp"
#include "state/journey/journey_model.hpp"

namespace journeyd {

inline constexpr uint8_t kCustomerRecordVersion = 1;

std::string encode_customer(const CustomerState& customer, const JourneyModel& model);

// What reading a record under a configuration other than its writer's changed, for the caller
// to settle (customer_upgrade.hpp: settle_stored).
struct ReadNotes {
    std::string migrated_from;    // the stored stage, when the model migrates it
    uint32_t timers_dropped = 0;  // timers of programs or inactivity rules the model lacks
};

// A stage the model migrates ([journey.migrate]) reads as the stage it moves to. A timer whose
// program or inactivity rule the model lacks is dropped. `notes` (when given) says which.
std::optional<CustomerState> decode_customer(std::string_view record, const JourneyModel& model,
                                             std::string& error, ReadNotes* notes = nullptr);

}  // namespace journeyd
