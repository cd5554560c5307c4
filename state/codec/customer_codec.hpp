// The store record of one customer: a version byte, then one msgpack array.
//
// Stages and timers are recorded by name, not by index, so that a record written under one
// configuration reads back under an edited one (stages added, programs reordered); a name
// the new configuration lacks makes decode fail with a message naming it, and the caller
// decides what to do with that customer. Window hits are keyed by the position of their
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

std::optional<CustomerState> decode_customer(std::string_view record, const JourneyModel& model,
                                             std::string& error);

}  // namespace journeyd
