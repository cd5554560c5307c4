// The contact-pressure coordinator: the single authority every customer actor asks before
// a program contacts anyone. It delivers requests and its own wake-ups to the
// PressureLedger, logs every decision (DecisionLog), and hands each send to the delivery
// sink through `offer`. offer() may refuse (the sink's queue is full): the delivery then
// waits in the coordinator's outbox and is offered again every `retry_every`, in order,
// so deciding never blocks on a slow endpoint and no send is lost.
//
// Durability (the store's Tables, state/store/record_store.hpp):
// - A customer's requests reach the store in the customer's own commit, before they reach
//   the coordinator (actors/customer_actor.cpp), so an acknowledged event's requests are
//   never lost.
// - Each batch of decisions is committed through the store writer before any of its sends
//   is offered: a final decision erases its request, a send enters the outbox in the same
//   transaction, and each customer's contact history and decision log are rewritten. A crash
//   therefore forgets no send, and caps count every send made before it.
// - The send of a next best action also writes a notice (Table::notices) in that
//   transaction; once committed it goes to the customer, whose record opening the action's goal
//   window erases it. At start the stored notices are sent again.
// - The sink confirms what it delivered; the daemon erases those outbox entries.
// - At start it offers the stored outbox again and submits the stored requests again, oldest
//   first: deferrals and open arbitration windows start over, decision ids stay the same.
//   Both are read by read_unfinished before anything of this process can write (the
//   coordinator's own start may come after the first customers' commits, whose requests must
//   not be taken for unfinished ones).
// - A customer's history is read from the store when the coordinator first meets them, and
//   again after it forgot them: once their actor passivated and their decisions are committed.
//
// Messages:
//   (recover_atom)                      sent to itself at start: offers and submits `unfinished`
//   (contact_atom, ContactRequest)                       decided now or when held ends
//   (passivate_atom, std::string customer)  the customer's actor passivated: what it holds
//                                       of them goes once nothing of theirs is held or
//                                       uncommitted (state/pressure/passivated_customers.hpp)
//   (preferences_atom, std::string customer, ContactPreferences)  tz and consent, for the
//                                       requests it holds; ignored for a customer it has not
//                                       met, whose next request brings them
//   (decisions_atom, std::string customer)  -> std::vector<Decision>, newest first
//   (contacts_atom, std::string customer)   -> std::vector<Contact>
//   (stats_atom)                            -> CoordinatorStats
//   (redeliver_atom, std::string decision_id) -> bool: a dead letter back to the outbox,
//                                              committed, then offered; false: none such
//   (rate_atom, ChannelRates)               this node's rate budgets from now on
//   (demand_atom)                           -> ChannelRates, slot requests per channel
//                                              since the last time asked
//   (config_atom, CoordinatorRules)         -> bool: a configuration change; decisions from
//                                              now on follow its rules and carry its version
//   (shards_atom, std::vector<caf::actor>)  where notices go from now on (notice_atom,
//                                       actors/customer_shard.hpp); until then they wait
//   (drain_atom)  decides open arbitration, commits, offers, then ends; what the sink
//                 refuses stays in the store's outbox for the next start
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>

#include "actors/metrics.hpp"
#include "state/journey/journey_model.hpp"
#include "state/pressure/contact_request.hpp"
#include "state/pressure/delivery.hpp"
#include "state/pressure/goal_notice.hpp"
#include "state/pressure/pressure_ledger.hpp"
#include "state/pressure/pressure_policy.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct CoordinatorStats {
    uint64_t send = 0;
    uint64_t defer = 0;
    uint64_t suppress = 0;
    uint64_t outbox = 0;     // sends waiting for the sink to accept them
    uint64_t customers = 0;  // customers whose contacts and decisions it holds in memory
};

// What a crash (or a stop with the sink refusing) left: sends the sink never confirmed, and
// requests never finally decided, oldest first. Undecodable entries are logged and skipped.
struct Unfinished {
    std::vector<Delivery> outbox;
    std::vector<ContactRequest> requests;
    std::vector<GoalNotice> notices;  // sent actions whose customers have not heard of them
};
Unfinished read_unfinished(const RecordStore& store, const JourneyModel& model);

struct CoordinatorSetup {
    PressurePolicy policy;
    JourneyModel model;
    std::function<bool(Delivery)> offer;
    std::function<TimeMs()> now;
    std::shared_ptr<Metrics> metrics;          // event_to_decision: request to first decision
    std::shared_ptr<const RecordStore> store;  // read: histories, and at start
    caf::actor store_writer;                   // every write goes through it
    Unfinished unfinished;
    size_t decisions_per_customer = 32;
    std::string config_version;  // stamped on every decision (RELOAD.md)
    std::chrono::milliseconds retry_every{100};
};

caf::behavior coordinator(caf::event_based_actor* self, CoordinatorSetup setup);

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CoordinatorStats)
