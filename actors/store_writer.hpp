// The store writer: the one actor that writes to the RecordStore.
//
// Customer actors send it (commit_atom, StoreRecord, EventOutcome, Ticket, reply-to) for the
// events of their shards' batches and (commit_atom, StoreRecord, EventOutcome) for the rest;
// it gathers records from many customers into one batch (group commit: up to `max_batch`
// records or `max_delay` after the first, whichever comes first), commits the batch, and only
// then answers each record with its EventOutcome, so "acknowledged" means "committed". A record
// with an empty body writes nothing but is answered in the same order, behind the batch it joined.
// When the writer ends, it commits what it gathered; (drain_atom) ends it after everything sent to
// it before.
//
// A record sent with a Ticket and a reply-to actor (an event of a shard's batch, through
// its customer) gets no answer of its own: after the commit that holds it, each reply-to
// actor gets one (committed_atom, CommittedTickets) with the outcomes of all its tickets in
// that commit, or the commit's error. One message per shard and commit instead of one
// response per event.
//
// Commits run on a thread of the writer's own, one batch at a time: while one commits (and
// fsyncs), the actor gathers the next, which is committed as soon as the first is done,
// whatever its size. So a slow disk makes batches larger, not the scheduler's threads idle,
// and answers still leave in commit order.
//
// A failed commit (the store is full, or its disk failed) never loses what others decided and
// never acknowledges an event:
// - A customer's records in it are refused: their events are answered with the error, and
//   the customer actor is told to restore its state from the store (restore_atom), since
//   what it holds is ahead of what is stored. Its records sent before it answers
//   (restored_atom) rest on that state and are refused too.
// - Table writes alone (the coordinator's decisions, the sinks' confirmations and dead
//   letters) are kept, in order, ahead of what is gathered next: their senders wait, and a
//   send is offered only once its decision is durable.
// - A barrier (a record that writes nothing) is refused, so that no one waits for a store
//   that may never take a commit again (the coordinator ending, a customer passivating).
// - The next attempt comes after a back-off (50 ms, doubling to 1 s), an empty batch if
//   nothing waits, and until one succeeds everything but table writes is refused at once.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "state/pressure/delivery.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct GroupCommit {
    size_t max_batch = 1024;
    std::chrono::milliseconds max_delay{2};
};

// The history of applied event ids is kept this long (then purged a slice at a time,
// between batches, so purging never holds up a commit for long).
struct AppliedIdRetention {
    DurationMs keep = 7 * 86'400'000;
    std::function<TimeMs()> now;
    std::chrono::milliseconds purge_every{60'000};
    size_t purge_slice = 10'000;
};

caf::behavior store_writer(caf::event_based_actor* self, std::shared_ptr<RecordStore> store,
                           GroupCommit limits, AppliedIdRetention retention);

// What a delivery sink calls with the decision ids it delivered (SinkOptions::on_delivered):
// their outbox entries are erased in the writer's next batch. Callable from any thread.
std::function<void(std::vector<std::string>)> forget_delivered(caf::actor store_writer);

// What a delivery sink calls with a send the endpoint refused for good
// (SinkOptions::on_dead_letter): in one commit it enters the dead letters and leaves the
// outbox, so a restart neither offers it again nor loses it. Callable from any thread.
std::function<void(DeadLetter)> park_dead_letter(caf::actor store_writer);

}  // namespace journeyd
