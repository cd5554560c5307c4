// The contact-pressure coordinator: the single authority every customer actor asks before
// a program contacts anyone. It delivers requests and its own wake-ups to the
// PressureLedger, logs every decision (DecisionLog), and hands each send to the delivery
// sink through `offer`. offer() may refuse (the sink's queue is full): the delivery then
// waits in the coordinator's outbox and is offered again every `retry_every`, in order,
// so deciding never blocks on a slow endpoint and no send is lost.
//
// Messages:
//   (contact_atom, ContactRequest)                       decided now or when held ends
//   (preferences_atom, std::string customer, ContactPreferences)  tz and consent
//   (decisions_atom, std::string customer)  -> std::vector<Decision>, newest first
//   (contacts_atom, std::string customer)   -> std::vector<Contact>
//   (stats_atom)                            -> CoordinatorStats
//   (drain_atom)                            ends it after the requests sent before
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>

#include "actors/metrics.hpp"
#include "state/delivery.hpp"
#include "state/journey_model.hpp"
#include "state/pressure_ledger.hpp"
#include "state/pressure_policy.hpp"

namespace journeyd {

struct CoordinatorStats {
    uint64_t send = 0;
    uint64_t defer = 0;
    uint64_t suppress = 0;
    uint64_t outbox = 0;  // sends waiting for the sink to accept them
};

struct CoordinatorSetup {
    PressurePolicy policy;
    JourneyModel model;
    std::function<bool(Delivery)> offer;
    std::function<TimeMs()> now;
    std::shared_ptr<Metrics> metrics;  // event_to_decision: request to final outcome
    size_t decisions_per_customer = 32;
    std::chrono::milliseconds retry_every{100};
};

caf::behavior coordinator(caf::event_based_actor* self, CoordinatorSetup setup);

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CoordinatorStats)
