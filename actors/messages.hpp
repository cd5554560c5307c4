// The messages journeyd's actors exchange, and their atoms.
//
// Event path, batches (ingest relay, gateway): --(event_atom, std::vector<Event>)--> shard,
//              which gives each event a Ticket --(event_atom, Event, Ticket)--> customer
//              --(commit_atom, StoreRecord, EventOutcome, Ticket, reply-to)--> store writer,
//              which after each commit sends each shard ONE (committed_atom, CommittedTickets)
//              for all of its tickets in that commit; the shard answers a batch once all of
//              its tickets are in. No request per event: CAF 0.17 keeps pending responses in a
//              flat map with linear lookup and erase, which thousands in flight make costly.
// Event path, single events (admin API, tests): (event_atom, Event) --> shard, which sends it
//              on as a batch of one and answers with its EventOutcome.
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

#include "state/cluster/remote_counters.hpp"
#include "state/codec/event_codec.hpp"
#include "state/journey/customer_state.hpp"
#include "state/journey/event.hpp"
#include "state/journey/identity.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/pressure/contact_request.hpp"
#include "state/pressure/goal_notice.hpp"
#include "state/pressure/pressure_ledger.hpp"
#include "state/pressure/rate_lease.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

// One atom per meaning. The comment above each lists the messages it heads: what follows the
// atom, the answer if any, then sender -> receiver. "Wire" marks what crosses the middleman
// between cluster members: the node-to-node protocol, so a rename changes both sides at once
// (all members run the same build).
//
// The names live in namespace journeyd, beside CAF's own (caf::flush_atom, caf::publish_atom,
// caf::contact_atom...): no `using namespace caf` where ours are used. An atom's type is its
// text alone, so those three are also CAF's types; a new atom takes a text CAF does not
// predefine (caf/type_id.hpp), so that no message of CAF's can match one of our handlers.

// ---- Events and customers

// Apply events; each is answered once committed (or failed).
//   (Event) -> EventOutcome: admin API -> shard, delegated to the customer actor; the store
//       writer answers after the commit.
//   (std::vector<Event>) -> std::vector<EventResult>, in batch order: ingest relay, gateway
//       -> shard; ingest relay, admin API -> peer: one batch of a frame's events for that
//       shard or member.
//   (Event, Ticket): shard -> customer actor, no answer: one event of a shard's batch; the
//       store writer reports its outcome to the shard with committed_atom.
//   Wire: (std::string pack_events) -> std::string encode_event_results: peer -> gateway.
using event_atom = caf::atom_constant<caf::atom("event")>;
// A customer's live state, activating a stored customer (found = false for an unknown id).
//   (std::string id) -> CustomerLookup: admin API -> shard or peer; gateway -> shard.
//   () -> CustomerLookup: shard -> customer actor, delegated.
//   Wire: (std::string id) -> (bool found, std::string encode_customer): peer -> gateway.
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
// A customer's stored record, without activating the customer.
//   (std::string id) -> StoredRecord: admin API -> peer (this node's store is read directly).
//   Wire: (std::string id) -> (bool found, std::string record): peer -> gateway.
using record_atom = caf::atom_constant<caf::atom("record")>;
// An identify event merges its customer (the alias) into the customer it names (docs/
// architecture.md "Identify"):
//   (MergeIn) -> MergeDone: the alias's shard -> the named customer's shard, which resolves
//       that id and delegates to the canonical customer's actor; the actor commits the merge
//       through the coordinator: (std::string alias, std::string canonical,
//       std::vector<StoreRecord>) -> EventOutcome, answered once all of it is durable.
using merge_atom = caf::atom_constant<caf::atom("merge")>;
// Across cluster members (the alias's coordinator hands the alias's pressure state over):
//   (std::string alias) -> std::string encode_handover: the alias's shard -> its coordinator,
//       which lets go of the alias's history and held requests;
//   (MergeIn) -> MergeDone: the alias's shard -> the peer of the canonical id's member; wire:
//       (std::string encode_merge_in) -> std::string canonical: peer -> gateway -> shard;
//   (std::string alias, std::string intent): to the alias's shard: send the merge of an
//       intent (Table::merges) again, or resume it at start.
using handover_atom = caf::atom_constant<caf::atom("handover")>;
// (std::string alias, bool merged, std::string handover): the alias's shard -> its coordinator
//   once the other member answered: merged, it forgets the alias; refused, it takes the held
//   requests of the handover back.
using handed_atom = caf::atom_constant<caf::atom("handed")>;
// () -> std::string record: shard -> the alias's actor, which takes no message but
//   (merged_atom) from then on and answers once all it sent the store writer is committed.
using freeze_atom = caf::atom_constant<caf::atom("freeze")>;
// (bool merged): shard -> a frozen actor: merged, it ends without writing; else it goes on.
using merged_atom = caf::atom_constant<caf::atom("merged")>;
// (TimeMs scheduled_for): the wake-up the receiver scheduled for then is due. Customer actor
// -> itself, delayed: fire the due timers (and shard -> customer with kSweeperWakeup, below).
// Coordinator -> itself, delayed: the deferrals and arbitration windows due by now.
using wakeup_atom = caf::atom_constant<caf::atom("wakeup")>;
// (std::string id): timer sweeper -> shard: the store's timer index says this customer has a
// timer due; the shard activates it if need be and sends it a wakeup_atom.
using timer_due_atom = caf::atom_constant<caf::atom("timer_due")>;
// () and (DueTimer after): timer sweeper -> itself, every interval or, after a full slice,
// soon: wake the customers of the next slice of due index entries (after `after`).
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
// (): shard -> customer actor: end once everything sent to the store writer is committed.
// (std::string id): customer actor -> coordinator: this customer passivates; forget what you
// hold of them once it is committed.
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
// (): shard -> itself, every idle_after / 4 (50 ms at least): ask the customers idle for
// idle_after to passivate.
using passivate_idle_atom = caf::atom_constant<caf::atom("pass_idle")>;

// ---- The store writer

// Commit a record.
//   (StoreRecord, EventOutcome) -> EventOutcome once the record is committed: customer actor
//       (sent for fired timers; requested before passivating), coordinator (decisions; a
//       barrier at drain) and the delivery sinks (anonymous sends: delivered ids, dead
//       letters) -> store writer.
//   (StoreRecord, EventOutcome, Ticket, caf::actor reply_to): customer actor -> store writer,
//       for an event of a shard's batch: no answer of its own; the outcome goes to reply_to
//       (the shard) in the committed_atom message of the commit that holds the record.
using commit_atom = caf::atom_constant<caf::atom("commit")>;
// (): store writer -> itself, max_delay after a batch's first record: commit what was gathered.
// (): population keeper -> itself, every few seconds: store the population's hours if changed.
using flush_atom = caf::atom_constant<caf::atom("flush")>;
// What was handed over is committed (or failed).
//   (std::string error, "" if none): the committer's thread -> store writer: the batch it
//       was handed.
//   (CommittedTickets): store writer -> shard, one per commit and shard that had tickets in
//       it: the outcomes of those tickets' events, or the commit's error for all of them.
using committed_atom = caf::atom_constant<caf::atom("committed")>;
// (): store writer -> itself, every purge_every, or at once after a full slice: forget a
// slice of applied event ids older than the retention.
using purge_atom = caf::atom_constant<caf::atom("purge")>;
// (): store writer -> customer actor: a commit of its records failed, so its state in memory
// is ahead of the store: it reads its last committed state back (customer_actor.hpp).
using restore_atom = caf::atom_constant<caf::atom("restore")>;
// (std::string customer): customer actor -> store writer, once restored: its records after
// this one rest on stored state again.
using restored_atom = caf::atom_constant<caf::atom("restored")>;
// (): store writer -> itself, after a back-off: try again a commit the store refused.
using retry_atom = caf::atom_constant<caf::atom("retry")>;

// ---- The coordinator

// (ContactRequest): customer actor -> coordinator: a program asks to contact the customer.
using contact_atom = caf::atom_constant<caf::atom("contact")>;
// (std::string customer, ContactPreferences): customer actor -> coordinator, after a profile
// event: time zone and consent for requests still held.
using preferences_atom = caf::atom_constant<caf::atom("prefs")>;
// (): coordinator -> itself, behind the first decision of a burst: commit the burst's
// decisions, then offer its sends.
using publish_atom = caf::atom_constant<caf::atom("publish")>;
// (): coordinator -> itself, retry_every after the sink refused: offer the outbox again.
using reoffer_atom = caf::atom_constant<caf::atom("reoffer")>;
// (): coordinator -> itself, once at start: offer the stored outbox, submit stored requests.
using recover_atom = caf::atom_constant<caf::atom("recover")>;
// A customer's decision log, newest first.
//   (std::string customer) -> std::vector<Decision>: admin API -> coordinator or peer;
//       gateway -> coordinator.
//   Wire: (std::string customer) -> std::string encode_history: peer -> gateway.
using decisions_atom = caf::atom_constant<caf::atom("decisions")>;
// A customer's contact history, as decisions_atom with std::vector<Contact>.
using contacts_atom = caf::atom_constant<caf::atom("contacts")>;
// () -> CoordinatorStats: admin API -> coordinator.
using stats_atom = caf::atom_constant<caf::atom("stats")>;
// (std::string decision_id) -> bool: admin API -> coordinator: send a dead letter again;
// false when there is none of that id (or it is being re-queued already).
using redeliver_atom = caf::atom_constant<caf::atom("redeliver")>;
// (GoalNotice): a next best action was sent, durably: coordinator -> shard -> customer
// actor, which opens the action's goal window.
using notice_atom = caf::atom_constant<caf::atom("notice")>;
// (std::vector<caf::actor>): daemon -> coordinator, once: the shards to send notices to (they
// are spawned after the coordinator, whose handle their customers need).
using shards_atom = caf::atom_constant<caf::atom("shards")>;

// ---- Cluster members (actors/cluster_gateway.hpp, actors/cluster_peer.hpp)

// Wire: (std::string from, uint64_t fingerprint) -> (std::string name, uint64_t fingerprint):
// connector -> gateway at each connect attempt; peer -> gateway every heartbeat, to learn the
// member still answers.
using hello_atom = caf::atom_constant<caf::atom("hello")>;
// (caf::actor gateway, std::string name, uint64_t fingerprint): connector -> peer: the
// member's gateway answered hello.
using connected_atom = caf::atom_constant<caf::atom("connected")>;
// (std::string reason): connector -> peer: the attempt failed.
using unreachable_atom = caf::atom_constant<caf::atom("unreach")>;
// (): peer -> itself, retry_after a failed attempt or a lost connection: connect again.
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
// (uint64_t generation): peer -> itself, every heartbeat while up: say hello (stale
// generations, of a connection since lost, are ignored).
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
// A member's store counters (StoreStats::counters), for sums over the cluster.
//   () -> StoreCounters: admin API -> peer: the member's, for GET /segments.
//   Wire: () -> std::string encode_counters: peer -> gateway, for the admin API and for every
//       exchange (state/cluster/remote_counters.hpp).
using counters_atom = caf::atom_constant<caf::atom("counters")>;
// (uint64_t generation): peer -> itself, every 2 s while up: ask the member's counters for
// this node's RemoteCounters (stale generations are ignored, as heartbeats').
using exchange_atom = caf::atom_constant<caf::atom("exchange")>;

// ---- Rate budgets in a cluster (state/pressure/rate_lease.hpp, actors/rate_borrower.hpp)

// (uint64_t member, std::string encode_rates demand) -> std::string encode_rates lease: rate
// borrower -> the lender: this node's gateway on the first member, else the first member's
// peer, which forwards it. Wire: the same, peer -> gateway.
using lease_atom = caf::atom_constant<caf::atom("lease")>;
// (): rate borrower -> itself, every `every`: ask the coordinator's demand, then a lease.
using renew_lease_atom = caf::atom_constant<caf::atom("renewlease")>;
// () -> ChannelRates: rate borrower -> coordinator: slot requests per channel since last asked.
using demand_atom = caf::atom_constant<caf::atom("demand")>;
// (ChannelRates): rate borrower -> coordinator: this node's rate budgets from now on.
using rate_atom = caf::atom_constant<caf::atom("rate")>;

// ---- Configuration changes (config/live_config.hpp)

// (CoordinatorRules) -> bool: daemon -> coordinator, before the customers see the change: the
// rules and version decisions follow from now on. Answered once taken, so a request made under
// the new configuration never reaches a coordinator that does not know it.
using config_atom = caf::atom_constant<caf::atom("config")>;

// A change posted to one cluster member is applied on every member or none
// (docs/cluster.md), in two steps over the peers and gateways, each answered with "" for done or
// why not:
//   (config_prepare_atom, std::string text) -> std::string: checked against the member's own
//       customers and compiled, not applied
//   (config_commit_atom, std::string version) -> std::string: the prepared change applied
//   (config_abort_atom, std::string version) -> std::string: the prepared change dropped
// The gateway hands them to the member's configuration applier (runtime/daemon), a thread of
// its own since applying writes files and waits for the coordinator.
using config_prepare_atom = caf::atom_constant<caf::atom("cfgprepare")>;
using config_commit_atom = caf::atom_constant<caf::atom("cfgcommit")>;
using config_abort_atom = caf::atom_constant<caf::atom("cfgabort")>;

struct CoordinatorRules {
    PressurePolicy policy;
    JourneyModel model;  // aligned to the running one (model_alignment.hpp)
    std::string config_version;
};

// ---- Shutdown

// Finish what came before it, then end; an ordinary message, so it is handled after
// everything sent before it.
//   () -> caf::unit_t: Cluster -> gateway, answered once every request taken is answered.
//   (): daemon -> population keeper (stores the hours once more), coordinator, then store
//       writer. (The timer sweeper has nothing to finish:
//       the daemon ends it with an exit message; the ingest port is no actor and drains on
//       its own, runtime/ingest/ingest_server.hpp.)
using drain_atom = caf::atom_constant<caf::atom("drain")>;

// (wakeup_atom, TimeMs scheduled_for) to a customer: from its own delayed message, the due
// time it was scheduled for; from the timer sweeper through the shard, this.
constexpr TimeMs kSweeperWakeup = 0;

enum class EventOutcome : uint8_t { accepted, duplicate };

// Names one event of a shard's batch on its way through customer and store writer, so that
// its outcome comes back to the shard in a message shared with other events rather than as
// the response to a request of its own. Meaningful only to the shard that issued it.
struct Ticket {
    uint64_t batch = 0;  // the shard's id for the batch, never reused by that shard
    uint32_t slot = 0;   // the event's place in the batch
};

struct TicketOutcome {
    Ticket ticket;
    EventOutcome outcome = EventOutcome::accepted;
};

// Store writer -> shard after a commit: every ticket of that shard whose record was in it.
// A non-empty error means the commit failed and none of them is durable.
struct CommittedTickets {
    std::vector<TicketOutcome> outcomes;
    std::string error;
};

// The answer to (lookup_atom, customer id): the live state, if the customer exists, and its
// aliases (an alias's id answers its canonical customer).
struct CustomerLookup {
    bool found = false;
    CustomerState state;
    std::vector<std::string> aliases;
    // The engine `state` is held under: its ids index that model (null when not found).
    std::shared_ptr<const JourneyEngine> under;
};

struct MergeDone {
    std::string canonical;
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
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::StoreCounters)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::Event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::Event>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::EventResult>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::EventOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::Ticket)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CommittedTickets)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::StoreRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CustomerLookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::CoordinatorRules)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::MergeIn)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::MergeDone)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::StoreRecord>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::ContactRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::GoalNotice)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(journeyd::ContactPreferences)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::Decision>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<journeyd::Contact>)
