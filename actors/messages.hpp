// The messages journeyd's actors exchange inside one process, and their atoms.
//
// Event path:  ingest --(event_atom, Event)--> shard --delegate--> customer
//              --delegate (commit_atom, StoreRecord, EventOutcome)--> store writer,
//              which answers the ingest's request only once the record is committed.
// Contact path: customer --(preferences_atom, ...) on profile changes, then
//              (contact_atom, ContactRequest)--> coordinator --offer--> delivery sink.
//
// These types stay inside the process (CAF_ALLOW_UNSAFE_MESSAGE_TYPE); whatever crosses
// the middleman in a cluster travels as msgpack bytes in std::string, with atoms, integers
// and caf::error, which CAF serializes without announcements.
#pragma once

#include <caf/all.hpp>
#include <optional>
#include <string>
#include <vector>

#include "state/codec/event_codec.hpp"
#include "state/journey/customer_state.hpp"
#include "state/journey/event.hpp"
#include "state/pressure/contact_request.hpp"
#include "state/pressure/pressure_ledger.hpp"
#include "state/pressure/rate_lease.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

using event_atom = caf::atom_constant<caf::atom("event")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using reoffer_atom = caf::atom_constant<caf::atom("reoffer")>;
using take_frames_atom = caf::atom_constant<caf::atom("takeframes")>;
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
using wakeup_atom = caf::atom_constant<caf::atom("wakeup")>;
using timer_due_atom = caf::atom_constant<caf::atom("timer_due")>;
using contact_atom = caf::atom_constant<caf::atom("contact")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using preferences_atom = caf::atom_constant<caf::atom("prefs")>;
using decisions_atom = caf::atom_constant<caf::atom("decisions")>;
using contacts_atom = caf::atom_constant<caf::atom("contacts")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using bind_atom = caf::atom_constant<caf::atom("bind")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using passivate_idle_atom = caf::atom_constant<caf::atom("pass_idle")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using record_atom = caf::atom_constant<caf::atom("record")>;
// Between cluster members (actors/cluster_gateway.hpp, actors/cluster_peer.hpp).
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using connected_atom = caf::atom_constant<caf::atom("connected")>;
using unreachable_atom = caf::atom_constant<caf::atom("unreach")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
// Rate budgets in a cluster (state/pressure/rate_lease.hpp, actors/rate_borrower.hpp).
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using renew_lease_atom = caf::atom_constant<caf::atom("renewlease")>;
using rate_atom = caf::atom_constant<caf::atom("rate")>;
using demand_atom = caf::atom_constant<caf::atom("demand")>;
// Shutdown, sent as an ordinary message so it is handled after everything before it.
using drain_atom = caf::atom_constant<caf::atom("drain")>;

// (wakeup_atom, TimeMs scheduled_for) to a customer: from its own delayed message, the due
// time it was scheduled for; from the timer sweeper through the shard, this.
constexpr TimeMs kSweeperWakeup = 0;

enum class EventOutcome : uint8_t { accepted, duplicate };

// The answer to (lookup_atom, customer id): the live state, if the customer exists.
struct CustomerLookup {
    bool found = false;
    CustomerState state;
};

// The answer to (record_atom, customer id): the customer's stored record, if any.
struct StoredRecord {
    std::optional<std::string> bytes;
};

// An error as an operator should read it: our own errors carry their whole explanation as
// their one string, which CAF's rendering would wrap in "system_error(runtime_error, (...))".
inline std::string describe(const caf::actor_system& system, const caf::error& error) {
    const caf::message& context = error.context();
    if (error.category() == caf::atom("system") && context.match_elements<std::string>())
        return context.get_as<std::string>(0);
    return system.render(error);
}

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::StoredRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::ChannelRates)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::Event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::Event>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::EventResult>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::EventOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::StoreRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CustomerLookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::ContactRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::ContactPreferences)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::Decision>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::Contact>)
