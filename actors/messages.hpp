// The messages journeyd's actors exchange inside one process, and their atoms.
//
// Event path:  ingest --(event_atom, Event)--> shard --delegate--> customer
//              --delegate (commit_atom, StoreRecord, EventOutcome)--> store writer,
//              which answers the ingest's request only once the record is committed.
// Contact path: customer --(contact_atom, ContactRequest)--> coordinator.
//
// These types stay inside the process (CAF_ALLOW_UNSAFE_MESSAGE_TYPE); whatever crosses
// the middleman in a cluster travels as msgpack bytes.
#pragma once

#include <caf/all.hpp>
#include <string>
#include <vector>

#include "state/contact_request.hpp"
#include "state/customer_state.hpp"
#include "state/event.hpp"
#include "state/record_store.hpp"

namespace journeyd {

using event_atom = caf::atom_constant<caf::atom("event")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using wakeup_atom = caf::atom_constant<caf::atom("wakeup")>;
using contact_atom = caf::atom_constant<caf::atom("contact")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using requests_atom = caf::atom_constant<caf::atom("requests")>;

enum class EventOutcome : uint8_t { accepted, duplicate };

// The answer to (lookup_atom, customer id): the live state, if the customer exists.
struct CustomerLookup {
    bool found = false;
    CustomerState state;
};

}  // namespace journeyd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::Event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::EventOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::StoreRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CustomerLookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::ContactRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::ContactRequest>)
