// What a customer's program asks of the pressure coordinator: "may I contact this customer
// on this channel now?". Plain data so that the ledger (state/) and the coordinator
// (actors/) share it without either knowing the other.
//
// decision_id is derived from the cause alone (customer, program, triggering event or
// timer), never from a counter or the clock, so replaying the same cause after a crash
// yields the same id and a sink can drop the second delivery.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "state/decisioning/action_ranking.hpp"
#include "state/duration.hpp"
#include "state/journey/journey_model.hpp"
#include "state/rhythm/engagement_hours.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {

// What the coordinator needs to know of a customer's profile.
struct ContactPreferences {
    std::string time_zone;                      // IANA name; empty: UTC
    std::vector<std::string> refused_channels;  // consent[channel] == false

    bool operator==(const ContactPreferences& other) const {
        return time_zone == other.time_zone && refused_channels == other.refused_channels;
    }
    bool operator!=(const ContactPreferences& other) const { return !(*this == other); }
};

struct ContactRequest {
    std::string decision_id;
    std::string customer;
    ProgramId program = 0;
    std::string cause;
    TimeMs at = 0;
    // Set when the journey already decided against the contact (e.g. "left_stage"): the
    // coordinator records it as a suppress decision with this reason, no rules applied.
    std::string dropped_reason;
    // The customer's preferences when the request was made. They travel with every request
    // because the customer's record is durable and the coordinator's memory is not: after a
    // restart, a refused consent must still be known to the first request's decision.
    ContactPreferences preferences;
    // When the customer actor sent it, on this process's steady clock, for event_to_decision
    // at sub-millisecond resolution (`at` is whole ms). Not stored: recovered requests have
    // none and are not measured.
    std::chrono::steady_clock::time_point sent{};
    // The event that made the request created the customer, so the store holds no contact
    // history of theirs for the coordinator to read first. Not stored: recovered requests
    // are false and read it.
    bool new_customer = false;
    // A program with action = "best": its eligible actions, best first (action_ranking.hpp).
    // The coordinator sends the first the pressure rules allow; `action` is the one chosen
    // (kNoAction until then, and for other programs).
    std::vector<RankedAction> candidates{};
    ActionId action = kNoAction;
    // A program with send_at = "best_hour": the hours to choose its send time by, as of `at`
    // (engagement_hours.hpp). Stored with the request, so a restart chooses the same hour.
    std::optional<SendHours> send_hours{};
};

inline std::string make_decision_id(const std::string& customer, const std::string& program,
                                    const std::string& cause) {
    uint64_t h = stable_hash(customer);
    h = stable_hash(std::string_view("\0", 1), h);
    h = stable_hash(program, h);
    h = stable_hash(std::string_view("\0", 1), h);
    h = stable_hash(cause, h);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return hex;
}

}  // namespace journeyd
