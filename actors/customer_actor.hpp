// One actor per customer: the only place that customer's state is changed.
//
// It delivers events and its own timer wake-ups to the JourneyEngine and routes the
// effects: the new state, as a store record, to the store writer (which acknowledges the
// event once committed); program requests and left_stage drops to the coordinator. It
// keeps at most one wake-up in flight, for its earliest pending timer, so that re-arming
// an inactivity timer on every event does not pile up delayed messages. Every message is
// handled under the configuration in force when it starts (config/live_config.hpp): after a
// change, the state is first carried to the new one and what that changed is committed.
//
// Messages:
//   (event_atom, Event, Ticket) from its shard: no answer; the store writer sends the
//                        outcome to the sender (the shard) with the ticket after commit
//   (wakeup_atom, TimeMs) from itself: fire the timers due by now
//   (lookup_atom)        -> CustomerLookup with the live state, the engine it is held under
//                        and the stored aliases
//   (freeze_atom)        from its shard, for an identify: -> its encoded state once all it sent
//                        the store writer is committed; then it takes nothing but
//                        (merged_atom, bool): true ends it, false thaws it
//   (merge_atom, MergeIn) -> MergeDone, from its shard: merges the alias into this customer
//                        (state/journey/identity.hpp), applies the identify event, and commits
//                        all of it in one batch through the coordinator, which merges the
//                        contact histories; nothing else is handled until that commit answers
//   (passivate_atom)     from its shard: ends the actor once everything it sent to the
//                        store writer is committed (its state is then fully in the store)
//   (restore_atom)       from the store writer: a commit of its records failed; it reads its
//                        last committed state back from the store and answers
//                        (restored_atom, id)
#pragma once

#include <caf/all.hpp>
#include <functional>
#include <memory>

#include "actors/metrics.hpp"
#include "config/live_config.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/journey/customer_state.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/rhythm/population_rhythm.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

// What every customer actor of a process shares.
struct CustomerContext {
    // The configuration in force, with the journey engine and the actions' outcome counts
    // (null counts: no catalogue learns). Each actor follows a change at its next message.
    std::shared_ptr<LiveConfigs> configs;
    caf::actor store_writer;
    caf::actor coordinator;
    std::function<TimeMs()> now;  // wall clock in ms; tests may substitute their own
    std::shared_ptr<Metrics> metrics;
    std::shared_ptr<RecordStore> store;  // read when a stored customer is activated
    DurationMs idle_after = 0;           // passivate customers idle this long; 0: never
    size_t max_aliases = 50;             // [identity] max_aliases
    // Every customer's engagement together: the send-time prior (null: none is kept).
    std::shared_ptr<PopulationRhythm> population;
};

enum class IfUnknown { create, skip };

// What the store holds under an id: a customer's state, or the id's canonical customer when
// it is an alias (state/journey/identity.hpp), or neither.
struct StoredCustomer {
    std::optional<CustomerState> state;       // none for an alias, or an unknown id with skip
    std::string alias_of;                     // set for an alias
    std::shared_ptr<const LiveConfig> under;  // the configuration `state` was read under
    ReadNotes notes;  // what reading it under `under` changed, for the actor to settle
};

// The customer's state to start an actor with, or to restore one to after a failed commit:
// its stored record, or a new customer's (IfUnknown::create). An error when the stored record
// cannot be read back.
caf::expected<StoredCustomer> stored_customer(const CustomerContext& context, const std::string& id,
                                              IfUnknown if_unknown);

// The aliases of a canonical customer as the store lists them (Table::aliases).
std::vector<std::string> stored_aliases(const RecordStore& store, const std::string& canonical);

// What a customer actor needs besides its CustomerState: held in the actor's state, beside the
// customer's, so that its handlers capture nothing but the actor (8 bytes each, not 24) and
// it needs no allocation of its own (docs/performance.md, "A live customer's memory").
struct CustomerRouting {
    std::shared_ptr<const CustomerContext> context;
    std::shared_ptr<const LiveConfig> live;  // the configuration the state is held under
    // A change the state could not be carried to (logged once); it stays under `live`.
    uint64_t refused_generation = 0;
    std::optional<TimeMs> wakeup_at;  // the earliest wake-up in flight
    // Handed its state to an identify's merge: its timers wait for the merge's outcome, and
    // its shard holds its other messages.
    bool frozen = false;
};

struct CustomerActorState : CustomerState {
    CustomerRouting routing;
};
using CustomerSelf = caf::stateful_actor<CustomerActorState>*;

// `initial` (its state set): a new customer (only the id set) or one read from its store
// record; the actor settles what reading it under another configuration changed, and arms a
// wake-up for the earliest timer it holds.
caf::behavior customer_actor(CustomerSelf self, std::shared_ptr<const CustomerContext> context,
                             StoredCustomer initial);

// The wall clock in ms since the Unix epoch (JOURNEYD_TEST_CLOCK_SKEW_MS moves it, for tests).
TimeMs system_now_ms();

}  // namespace journeyd
