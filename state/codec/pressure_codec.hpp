// The contact-pressure coordinator's durable state as bytes for the store's Tables
// (state/store/record_store.hpp): a contact request not yet finally decided, a customer's contact
// history with its decision log, and a send the delivery sink has not confirmed. Each is a
// version byte (kPressureRecordVersion) and one msgpack array.
//
// Programs are stored by name, so a record reads back under an edited configuration. A
// request naming a program the configuration no longer has fails to decode (the caller logs
// and drops it); history entries of such programs are skipped, never misattributed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/journey/journey_model.hpp"
#include "state/pressure/contact_request.hpp"
#include "state/pressure/delivery.hpp"
#include "state/pressure/goal_notice.hpp"
#include "state/pressure/pressure_ledger.hpp"

namespace journeyd {

inline constexpr uint8_t kPressureRecordVersion = 1;

std::string encode_request(const ContactRequest& request, const JourneyModel& model);
std::optional<ContactRequest> decode_request(std::string_view record, const JourneyModel& model,
                                             std::string& error);

// What the coordinator remembers of one customer across restarts.
struct PressureHistory {
    std::vector<Contact> sends;       // by time, as PressureLedger::contacts gives them
    std::vector<Decision> decisions;  // newest first, as DecisionLog::newest_first gives them
};

std::string encode_history(const PressureHistory& history, const JourneyModel& model);
// The same bytes, from the coordinator's own containers (PressureLedger::contacts,
// DecisionLog::entries_of): it encodes a history for every customer of every burst it decides,
// and copying each decision log first was a third of that.
std::string encode_history(const std::vector<Contact>& sends,
                           const std::vector<Decision>& newest_first, const JourneyModel& model);
// The decisions' customer is `customer`, the key the history was stored under.
std::optional<PressureHistory> decode_history(std::string_view record, const std::string& customer,
                                              const JourneyModel& model, std::string& error);

// A customer's pressure state leaving its member's coordinator for another member's, when an
// identify merges it into a customer owned there (state/journey/identity.hpp): its history and
// the requests it still held (deferred, or in an arbitration window).
struct Handover {
    PressureHistory history;
    std::vector<ContactRequest> held;
};
std::string encode_handover(const Handover& handover, const JourneyModel& model);
std::optional<Handover> decode_handover(std::string_view bytes, const std::string& customer,
                                        const JourneyModel& model, std::string& error);

std::string encode_delivery(const Delivery& delivery);
std::optional<Delivery> decode_delivery(std::string_view record, std::string& error);
std::string encode_dead_letter(const DeadLetter& dead);
std::optional<DeadLetter> decode_dead_letter(std::string_view record, std::string& error);
// An entry of the notices table; the action and the program by name (one no longer configured:
// error).
std::string encode_notice(const GoalNotice& notice, const JourneyModel& model);
std::optional<GoalNotice> decode_notice(std::string_view record, const JourneyModel& model,
                                        std::string& error);

}  // namespace journeyd
