#include "actors/customer_shard.hpp"

#include "actors/customer_router.hpp"

#include <spdlog/spdlog.h>
#include <unordered_map>

#include "actors/messages.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/journey/identity.hpp"
#include "state/stable_hash.hpp"
#include "state/store/test_kill_point.hpp"

namespace journeyd {

namespace {

// A message that arrived while its customer was passivating or merging: handled again, in order,
// once the old actor is gone (so two actors never hold one customer) or the merge is over (it
// then finds the customer's actor, or its canonical customer).
using Waiting = std::function<void()>;

struct Entry {
    caf::actor actor;
    TimeMs last_used = 0;
    bool passivating = false;
    bool merging = false;  // its state is on its way to the customer an identify named
    std::vector<Waiting> waiting;

    bool held() const { return passivating || merging; }
};

// The canonical ids of aliases this shard forwarded to lately, so that an alias's events do
// not read its alias record each time. Cleared when full: an entry is never wrong, only a hop
// short when its canonical customer merged on (that customer's shard forwards again).
class AliasCache {
  public:
    static constexpr size_t kCapacity = 16384;

    const std::string* find(const std::string& alias) const {
        auto it = canonical_.find(alias);
        return it == canonical_.end() ? nullptr : &it->second;
    }
    void remember(const std::string& alias, const std::string& canonical) {
        if (canonical_.size() >= kCapacity) canonical_.clear();
        canonical_[alias] = canonical;
    }

  private:
    std::unordered_map<std::string, std::string> canonical_;
};

// A batch of events (one request), answered together once every event's result is in.
// Its events travel as tickets {batch id, slot}; their outcomes come back from the store
// writer, several to a message (committed_atom).
struct Batch {
    caf::response_promise promise;
    bool single = false;  // one event asked alone: answered with its EventOutcome
    std::vector<EventResult> results;
    // Per slot: the id of the customer actor its ticket went to, so that the tickets of an
    // actor that ends unexpectedly can be failed; 0 while it waits for a successor actor.
    std::vector<caf::actor_id> held_by;
    std::vector<bool> done;
    size_t outstanding = 0;
};

struct Registry {
    std::unordered_map<std::string, Entry> by_id;
    // By the actor's id, not its address: a plain integer hashes without a cached hash and
    // holds no weak reference to the ended actor's memory. The customer id is by_id's key
    // (an element of an unordered_map stays where it is when the map grows), not a third
    // copy of it.
    std::unordered_map<caf::actor_id, const std::string*> id_of;
};

// A merge whose outcome on another member is unknown is sent again this often.
constexpr std::chrono::seconds kMergeRetry{1};
// The ticket of a merge resumed at start: no client waits for it.
constexpr Ticket kNoTicket{UINT64_MAX, 0};

class Shard {
  public:
    Shard(caf::event_based_actor* self, std::shared_ptr<const CustomerContext> context)
        : self_(self), context_(std::move(context)) {}

    // Where an alias's messages go to reach its canonical customer: this node's shards, or in a
    // cluster the member that owns it.
    void set_router(CustomerRouter router) { router_ = std::move(router); }

    // For an alias, the request to make of its canonical customer instead (whose shard answers
    // it), or why there is none.
    using ForCanonical = std::function<caf::expected<caf::message>(const std::string& canonical)>;

    // Routes a request for `id` to its actor, activating one if needed; the answer comes from
    // the actor or, for an alias, from its canonical customer (delegation), later while the
    // customer is passivating or merging.
    caf::result<caf::message> route(const std::string& id, caf::message request,
                                    IfUnknown if_unknown, ForCanonical for_canonical) {
        auto promise = self_->make_response_promise();
        dispatch(id, std::move(request), if_unknown, std::move(for_canonical), promise);
        return promise;
    }

    // A merge into in.into (from the alias's shard), resolved like any id. Refused while that
    // customer is itself being merged: two ids merging into each other would wait for each other.
    caf::result<caf::message> merge_into(MergeIn& in) {
        auto live = registry_.by_id.find(in.into);
        if (live != registry_.by_id.end() && live->second.merging)
            return identify_error(in.into + " is being merged into another customer; retry");
        const std::string into = in.into;
        caf::message message = caf::make_message(merge_atom::value, in);
        return route(into, message, IfUnknown::create,
                     [in](const std::string& canonical) mutable -> caf::expected<caf::message> {
                         if (canonical == in.alias)
                             return identify_error(identify_target(in.identify) +
                                                   " is already an alias of " + in.alias +
                                                   ": the merge would make a cycle");
                         in.into = canonical;
                         return caf::make_message(merge_atom::value, in);
                     });
    }

    // A batch of events: each goes to its customer with a ticket; the batch is answered
    // with one EventResult per event, in batch order, once all are in. `single`: one event
    // asked alone, answered with its EventOutcome (or error).
    caf::response_promise batch(std::vector<Event>& events, bool single = false) {
        auto promise = self_->make_response_promise();
        if (events.empty()) {
            promise.deliver(std::vector<EventResult>());
            return promise;
        }
        const uint64_t id = next_batch_++;
        Batch& batch = batches_[id];
        batch.promise = promise;
        batch.single = single;
        batch.results.resize(events.size());
        batch.held_by.assign(events.size(), caf::invalid_actor_id);
        batch.done.assign(events.size(), false);
        batch.outstanding = events.size();
        // `batch` is not used below: the last event may complete (and erase) it at once.
        for (size_t i = 0; i < events.size(); ++i)
            deliver(std::move(events[i]), Ticket{id, static_cast<uint32_t>(i)});
        return promise;
    }

    // The store writer's outcomes for tickets of this shard, after a commit.
    void committed(CommittedTickets& committed) {
        for (const TicketOutcome& outcome : committed.outcomes) {
            EventResult result;
            // The commit's own text, as the single-event path answers it (describe()).
            if (!committed.error.empty())
                result.error = committed.error;
            else
                result.duplicate = outcome.outcome == EventOutcome::duplicate;
            finish(outcome.ticket, std::move(result));
        }
    }

    // From the timer sweeper: the customer, activated from its record if need be, is told to
    // fire what is due. It schedules wake-ups only within its idle horizon
    // (customer_actor.cpp), and an index entry may be early (StoreRecord::index_lower_bound):
    // its answer to the call puts the entry right.
    void wake(const std::string& id) {
        auto live = registry_.by_id.find(id);
        if (live != registry_.by_id.end() && live->second.held()) return;
        if (live == registry_.by_id.end()) {
            auto found = find(id, IfUnknown::skip);
            if (!found) {
                spdlog::warn("timer cannot fire customer={} error={}", id,
                             caf::to_string(found.error()));
                return;
            }
            live = found->live;  // an alias has no timers of its own
            if (live == registry_.by_id.end()) return;
        }
        self_->send(live->second.actor, wakeup_atom::value, kSweeperWakeup);
    }

    // Unlike a due timer, which the successor finds in its record, a notice held back here
    // would wait for the next start: one for a passivating or merging customer goes to its
    // successor, or to the customer it merged into.
    void announce(GoalNotice notice) {
        auto live = registry_.by_id.find(notice.customer);
        if (live != registry_.by_id.end() && live->second.held()) {
            live->second.waiting.push_back(
                [this, notice]() mutable { announce(std::move(notice)); });
            return;
        }
        if (live == registry_.by_id.end()) {
            auto found = find(notice.customer, IfUnknown::skip);
            if (!found) {
                spdlog::warn("action notice not taken customer={} decision_id={} error={}",
                             notice.customer, notice.decision_id, caf::to_string(found.error()));
                return;
            }
            if (!found->canonical.empty()) {
                notice.customer = found->canonical;
                // A notice is this node's coordinator's: one for an alias that merged into a
                // customer of another member opens no window there.
                if (!router_.is_local(notice.customer)) {
                    spdlog::warn("action notice not taken customer={} decision_id={} error={}",
                                 notice.customer, notice.decision_id,
                                 "its alias merged into a customer of another member");
                    return;
                }
                self_->send(router_.customer(notice.customer), notice_atom::value,
                            std::move(notice));
                return;
            }
            live = found->live;
            if (live == registry_.by_id.end()) return;
        }
        self_->send(live->second.actor, notice_atom::value, std::move(notice));
    }

    // Asks every customer idle since before `idle_since` to passivate.
    void passivate_idle(TimeMs idle_since) {
        size_t asked = 0;
        for (auto& [id, entry] : registry_.by_id) {
            if (entry.held() || entry.last_used >= idle_since) continue;
            entry.passivating = true;
            self_->send(entry.actor, passivate_atom::value);
            ++asked;
        }
        if (asked > 0) spdlog::debug("passivating customers={}", asked);
    }

    void on_down(const caf::down_msg& down) {
        if (down.source == context_->store_writer.address()) return writer_ended(down.reason);
        auto id = registry_.id_of.find(down.source.id());
        if (id == registry_.id_of.end()) return;
        --context_->metrics->customers_live;
        const std::string& customer = *id->second;
        auto entry = registry_.by_id.find(customer);
        const bool passivated = entry->second.passivating;
        if (passivated) ++context_->metrics->passivations;
        if (!passivated)
            spdlog::warn("customer actor ended customer={} reason={}", customer,
                         caf::to_string(down.reason));
        // A passivated actor ended normally only after the store writer committed all it was
        // sent, so its tickets' outcomes are on their way. Otherwise some may never come.
        if (!passivated || down.reason)
            fail_tickets_of(
                down.source.id(),
                caf::make_error(caf::sec::runtime_error,
                                "customer " + customer + " ended before its event was committed: " +
                                    caf::to_string(down.reason)));
        auto waiting = std::move(entry->second.waiting);
        registry_.by_id.erase(entry);
        registry_.id_of.erase(id);
        for (Waiting& again : waiting) again();
    }

    void end_all() {
        for (auto& [id, entry] : registry_.by_id)
            caf::anon_send_exit(entry.actor, caf::exit_reason::user_shutdown);
    }

  private:
    static caf::error identify_error(std::string text) {
        return caf::make_error(caf::sec::runtime_error, "identify: " + std::move(text));
    }

    // What the store holds for an id without a live actor here: an activated actor, or the
    // canonical id of an alias, or neither (an unknown id with IfUnknown::skip).
    struct Found {
        std::unordered_map<std::string, Entry>::iterator live;
        std::string canonical;
    };
    caf::expected<Found> find(const std::string& id, IfUnknown if_unknown) {
        Found found{registry_.by_id.end(), {}};
        if (const std::string* canonical = alias_cache_.find(id)) {
            found.canonical = *canonical;
            return found;
        }
        auto stored = stored_customer(*context_, id, if_unknown);
        if (!stored) return stored.error();
        if (!stored->alias_of.empty()) {
            alias_cache_.remember(id, stored->alias_of);
            found.canonical = std::move(stored->alias_of);
        } else if (stored->state) {
            found.live = activate(std::move(*stored));
        }
        return found;
    }

    void dispatch(const std::string& id, caf::message request, IfUnknown if_unknown,
                  const ForCanonical& for_canonical, caf::response_promise promise) {
        auto it = registry_.by_id.find(id);
        if (it != registry_.by_id.end() && it->second.held()) {
            it->second.waiting.push_back(
                [=]() mutable { dispatch(id, request, if_unknown, for_canonical, promise); });
            return;
        }
        if (it == registry_.by_id.end()) {
            auto found = find(id, if_unknown);
            if (!found) {
                promise.deliver(found.error());
                return;
            }
            if (!found->canonical.empty()) {
                auto redirected = for_canonical(found->canonical);
                if (!redirected)
                    promise.deliver(redirected.error());
                else
                    promise.delegate(router_.customer(found->canonical), std::move(*redirected));
                return;
            }
            if (found->live == registry_.by_id.end()) {
                promise.deliver(CustomerLookup{});
                return;
            }
            it = found->live;
        }
        it->second.last_used = context_->now();
        promise.delegate(it->second.actor, std::move(request));
    }

    // One event of a batch: sent to its customer with its ticket, so that its outcome comes
    // back in the store writer's message for the commit; an alias's goes to its canonical
    // customer, and an identify starts a merge.
    void deliver(Event event, Ticket ticket) {
        // Its commit would go nowhere: a plain message to an ended actor is dropped unanswered.
        if (writer_gone_) return finish(ticket, failed(writer_gone_));
        const std::string id = event.customer;
        auto it = registry_.by_id.find(id);
        if (it != registry_.by_id.end() && it->second.held()) {
            auto shared = std::make_shared<Event>(std::move(event));
            it->second.waiting.push_back(
                [this, shared, ticket] { deliver(std::move(*shared), ticket); });
            return;
        }
        if (it == registry_.by_id.end()) {
            auto found = find(id, IfUnknown::create);
            if (!found) return finish(ticket, failed(found.error()));
            if (!found->canonical.empty())
                return forward(std::move(event), ticket, found->canonical);
            it = found->live;
        }
        it->second.last_used = context_->now();
        if (event.type == kIdentifyEventType) {
            std::string into = identify_target(event);
            // Naming its own customer it is refused at decode, or answered where the alias is
            // (forward): never a merge of a customer into itself.
            if (into != id) return begin_merge(it, std::move(event), ticket, std::move(into));
        }
        send_ticket(it->second.actor, std::move(event), ticket);
    }

    // An alias's event, applied by its canonical customer, through that customer's shard (or
    // member). Its events go there in the order they came, one request each. A retry of an event
    // the alias applied before it merged is a duplicate here, where the alias's history is: its
    // record's window, then the store's older ids. An identify naming the canonical customer
    // has nothing left to merge: a duplicate too.
    void forward(Event event, Ticket ticket, const std::string& canonical) {
        const bool merged_already =
            event.type == kIdentifyEventType && identify_target(event) == canonical;
        if (merged_already || applied_as_alias(event)) {
            EventResult duplicate;
            duplicate.duplicate = true;
            ++context_->metrics->events_duplicate;
            return finish(ticket, std::move(duplicate));
        }
        event.customer = canonical;
        std::vector<Event> one;
        one.push_back(std::move(event));
        self_
            ->request(router_.customer(canonical), caf::infinite, event_atom::value, std::move(one))
            .then(
                [this, ticket](std::vector<EventResult>& results) {
                    if (results.size() == 1) return finish(ticket, std::move(results[0]));
                    EventResult missing;
                    missing.error = "no result from the canonical customer";
                    finish(ticket, std::move(missing));
                },
                [this, ticket](caf::error& error) { finish(ticket, failed(error)); });
    }

    bool applied_as_alias(const Event& event) const {
        const uint64_t fingerprint = stable_hash(event.id);
        std::string error;
        const auto record = context_->store->read(event.customer);
        if (const auto alias = record ? decode_alias_record(*record, error) : std::nullopt) {
            const std::vector<uint64_t>& ids = alias->recent_ids;
            if (std::find(ids.begin(), ids.end(), fingerprint) != ids.end()) return true;
            // As for a customer (customer_actor.cpp): nothing older in the store to look up.
            if (!RecentEventIds::wrapped(ids.size())) return false;
        }
        return context_->store->was_applied(event.customer, fingerprint);
    }

    // The ids among `ids` whose records this member holds.
    std::vector<std::string> owned_here(const std::vector<std::string>& ids) const {
        std::vector<std::string> here;
        for (const std::string& id : ids)
            if (router_.is_local(id)) here.push_back(id);
        return here;
    }

    // The customer of `it` (the alias) merges into `into`: its actor commits what it sent and
    // hands over its state (freeze); the canonical customer's actor merges and commits; then the
    // alias's actor ends and what waited for it goes to the canonical customer. On failure the
    // alias's actor goes on, and so does what waited.
    void begin_merge(std::unordered_map<std::string, Entry>::iterator it, Event event,
                     Ticket ticket, std::string into) {
        const std::string id = it->first;
        it->second.merging = true;
        const caf::actor actor = it->second.actor;
        auto held = batches_.find(ticket.batch);
        if (held != batches_.end()) held->second.held_by[ticket.slot] = actor.id();
        auto failed_merge = [this, id, actor, ticket](caf::error& error) {
            end_merge(id, actor, ticket, {}, error);
        };
        self_->request(actor, caf::infinite, freeze_atom::value)
            .then(
                [this, id, actor, ticket, failed_merge, into, event](std::string& record) mutable {
                    kill_point("identify_frozen");
                    MergeIn in;
                    in.alias = id;
                    in.into = into;
                    in.record = std::move(record);
                    in.aliases = stored_aliases(*context_->store, id);
                    in.identify = std::move(event);
                    if (!router_.is_local(into)) return hand_over(std::move(in), actor, ticket);
                    in.repoint = owned_here(in.aliases);
                    self_
                        ->request(router_.customer(into), caf::infinite, merge_atom::value,
                                  std::move(in))
                        .then(
                            [this, id, actor, ticket](MergeDone& done) {
                                end_merge(id, actor, ticket, done.canonical, {});
                            },
                            failed_merge);
                },
                failed_merge);
    }

    // Across members the merge is committed twice, on the canonical customer's member first;
    // an intent kept here (Table::merges) makes the two one step: until it is settled the alias
    // stays frozen, and a daemon that crashed meanwhile resumes it at start (resume_merge).
    // The alias's coordinator hands its contact history and held requests over first.
    void hand_over(MergeIn in, const caf::actor& actor, Ticket ticket) {
        const std::string id = in.alias;
        auto failed_merge = [this, id, actor, ticket](caf::error& error) {
            end_merge(id, actor, ticket, {}, error);
        };
        self_->request(context_->coordinator, caf::infinite, handover_atom::value, id)
            .then(
                [this, in, actor, ticket, failed_merge](std::string& handover) mutable {
                    in.handover = std::move(handover);
                    self_
                        ->request(context_->store_writer, caf::infinite, commit_atom::value,
                                  table_writes({{Table::merges, in.alias, encode_merge_in(in)}}),
                                  EventOutcome::accepted)
                        .then(
                            [this, in, actor, ticket](EventOutcome) {
                                kill_point("identify_intent");
                                send_merge(in, actor, ticket, false);
                            },
                            [this, in, actor, ticket](caf::error& error) {
                                settle(in, actor, ticket, {}, error);
                            });
                },
                failed_merge);
    }

    // Whether an error of the peer (actors/cluster_peer.cpp) is `code`: request_timeout for a
    // question sent and not answered, request_receiver_down for one not sent (member not up).
    static bool peer_error(const caf::error& error, caf::sec code) {
        return error.category() == caf::atom("system") &&
               error.code() == static_cast<uint8_t>(code);
    }

  public:
    // A merge sent again after an unknown outcome, or resumed at start from its intent.
    void resume_or_resend(const std::string& alias, const std::string& intent) {
        auto frozen = registry_.by_id.find(alias);
        if (frozen == registry_.by_id.end() || !frozen->second.merging) return resume_merge(intent);
        std::string error;
        if (auto in = decode_merge_in(intent, error))
            send_merge(*in, frozen->second.actor, kNoTicket, true);
    }

  private:
    // A merge whose intent a crash left: the alias is frozen (no actor until it is settled) and
    // the merge is sent again; the canonical member answers one it already committed at once.
    void resume_merge(const std::string& intent) {
        std::string error;
        auto in = decode_merge_in(intent, error);
        if (!in) {
            spdlog::error("identify intent unreadable error={}", error);
            return;
        }
        spdlog::info("identify resumed alias={} into={}", in->alias, in->into);
        registry_.by_id[in->alias] = Entry{caf::actor(), context_->now(), false, true, {}};
        send_merge(std::move(*in), caf::actor(), kNoTicket, true);
    }

    // Sent until the canonical member answers. Without an answer the outcome there is unknown:
    // the identify fails (sending it again is safe), the merge is sent again every kMergeRetry
    // and the alias's events wait. Refused unsent (the member is not up), it is refused for good
    // only if it was never sent before (`maybe_sent`: after no answer, or resumed at start).
    void send_merge(const MergeIn& in, const caf::actor& actor, Ticket ticket, bool maybe_sent) {
        self_->request(router_.customer(in.into), caf::infinite, merge_atom::value, in)
            .then([this, in, actor,
                   ticket](MergeDone& done) { settle(in, actor, ticket, done.canonical, {}); },
                  [this, in, actor, ticket, maybe_sent](caf::error& error) {
                      const bool unanswered = peer_error(error, caf::sec::request_timeout);
                      const bool unsent = peer_error(error, caf::sec::request_receiver_down);
                      if (!unanswered && !(unsent && maybe_sent))
                          return settle(in, actor, ticket, {}, error);
                      spdlog::warn(
                          "identify outcome unknown alias={} into={} error={}; asking again",
                          in.alias, in.into, describe(self_->system(), error));
                      finish(ticket, failed(error));
                      self_->delayed_send(self_, kMergeRetry, merge_atom::value, in.alias,
                                          encode_merge_in(in));
                  });
    }

    // The canonical member answered: merged (`canonical`), its alias record and the end of its
    // pressure state committed here with the intent's erasure; or refused (`error`): the
    // intent goes and the coordinator takes the held requests back.
    void settle(const MergeIn& in, const caf::actor& actor, Ticket ticket,
                const std::string& canonical, const caf::error& error) {
        const std::string id = in.alias;
        const std::shared_ptr<const LiveConfig> config = context_->configs->current();
        const JourneyModel& model = config->engine->model();
        std::vector<StoreRecord> records;
        if (canonical.empty()) {
            records.push_back(table_writes({{Table::merges, id, std::nullopt}}));
            self_->send(context_->coordinator, handed_atom::value, id, false, in.handover);
        } else {
            std::string problem;
            auto alias = decode_customer(in.record, model, problem);
            auto handover = decode_handover(in.handover, id, model, problem);
            if (!alias || !handover) {
                spdlog::error("identify cannot settle alias={} error={}", id, problem);
                return;
            }
            const AliasLeave leave = alias_leave(*alias, model);
            StoreRecord gone;
            gone.customer = id;
            gone.record = encode_alias_record({canonical, leave.recent_ids});
            gone.stage_move = leave.move;
            gone.counter_changes = leave.counter_changes;
            gone.writes = {{Table::merges, id, std::nullopt},
                           {Table::aliases, id, std::nullopt},
                           {Table::pressure, id, std::nullopt}};
            for (const ContactRequest& request : handover->held)
                gone.writes.push_back({Table::requests, request.decision_id, std::nullopt});
            records.push_back(std::move(gone));
            repoint_aliases(owned_here(in.aliases), canonical, *context_->store, records);
            self_->send(context_->coordinator, handed_atom::value, id, true, std::string());
        }
        self_
            ->request(context_->store_writer, caf::infinite, commit_atom::value, std::move(records),
                      EventOutcome::accepted)
            .then([this, id, actor, ticket, canonical,
                   error](EventOutcome) { end_merge(id, actor, ticket, canonical, error); },
                  [this, id, actor, ticket](caf::error& failure) {
                      // Unsettled: the intent stays, and the next start resumes the merge.
                      spdlog::error("identify not settled alias={} error={}", id,
                                    describe(self_->system(), failure));
                      finish(ticket, failed(failure));
                  });
    }

    void end_merge(const std::string& id, const caf::actor& actor, Ticket ticket,
                   const std::string& canonical, const caf::error& error) {
        auto it = registry_.by_id.find(id);
        // Else the actor ended meanwhile; on_down failed its ticket and let the waiting go on.
        const bool ours = it != registry_.by_id.end() && it->second.actor == actor;
        if (!canonical.empty()) {
            alias_cache_.remember(id, canonical);
            finish(ticket, EventResult{});
        } else {
            finish(ticket, failed(error));
        }
        if (actor) self_->send(actor, merged_atom::value, !canonical.empty());
        if (!ours) return;
        std::vector<Waiting> waiting = std::exchange(it->second.waiting, {});
        if (canonical.empty() && actor) {
            it->second.merging = false;
        } else {
            // Merged, or a resumed merge refused: no actor goes on (a refused alias's next
            // message activates it from its record).
            if (actor) {
                registry_.id_of.erase(actor.id());
                --context_->metrics->customers_live;
            }
            registry_.by_id.erase(it);
        }
        for (Waiting& again : waiting) again();
    }

    void send_ticket(const caf::actor& customer, Event event, Ticket ticket) {
        auto batch = batches_.find(ticket.batch);
        if (batch == batches_.end() || batch->second.done[ticket.slot]) return;
        batch->second.held_by[ticket.slot] = customer.id();
        self_->send(customer, event_atom::value, std::move(event), ticket);
    }

    // The result of a ticket's event; the batch is answered once it has all of them. A
    // ticket already failed (its customer actor ended) keeps its failure.
    void finish(Ticket ticket, EventResult result) {
        auto it = batches_.find(ticket.batch);
        if (it == batches_.end()) return;
        Batch& batch = it->second;
        if (ticket.slot >= batch.done.size() || batch.done[ticket.slot]) return;
        batch.done[ticket.slot] = true;
        batch.held_by[ticket.slot] = caf::invalid_actor_id;
        batch.results[ticket.slot] = std::move(result);
        if (--batch.outstanding > 0) return;
        if (!batch.single) {
            batch.promise.deliver(std::move(batch.results));
        } else if (!batch.results[0].error.empty()) {
            batch.promise.deliver(caf::make_error(caf::sec::runtime_error, batch.results[0].error));
        } else {
            batch.promise.deliver(batch.results[0].duplicate ? EventOutcome::duplicate
                                                             : EventOutcome::accepted);
        }
        batches_.erase(it);
    }

    // Only when a customer actor ends unexpectedly, so a scan of every batch in flight.
    void fail_tickets_of(caf::actor_id actor, const caf::error& error) {
        std::vector<Ticket> held;
        for (const auto& [id, batch] : batches_)
            for (size_t slot = 0; slot < batch.held_by.size(); ++slot)
                if (batch.held_by[slot] == actor) held.push_back({id, static_cast<uint32_t>(slot)});
        for (const Ticket& ticket : held) finish(ticket, failed(error));
    }

    // The store writer ends after the shards when the daemon stops, so this is a failure: no
    // ticket with a customer will be answered, nor any later one.
    void writer_ended(const caf::error& reason) {
        spdlog::error("store writer ended reason={}", caf::to_string(reason));
        writer_gone_ = caf::make_error(caf::sec::runtime_error,
                                       "the store writer ended: " + caf::to_string(reason));
        std::vector<Ticket> held;
        for (const auto& [id, batch] : batches_)
            for (size_t slot = 0; slot < batch.held_by.size(); ++slot)
                if (batch.held_by[slot] != caf::invalid_actor_id)
                    held.push_back({id, static_cast<uint32_t>(slot)});
        for (const Ticket& ticket : held) finish(ticket, failed(writer_gone_));
    }

    EventResult failed(const caf::error& error) const {
        EventResult result;
        result.error = describe(self_->system(), error);
        return result;
    }

    std::unordered_map<std::string, Entry>::iterator activate(StoredCustomer initial) {
        std::string id = initial.state->id;
        auto actor = self_->spawn(customer_actor, context_, std::move(initial));
        self_->monitor(actor);
        ++context_->metrics->customers_live;
        const caf::actor_id actor_id = actor.id();
        auto entry =
            registry_.by_id
                .emplace(std::move(id), Entry{std::move(actor), context_->now(), false, false, {}})
                .first;
        registry_.id_of.emplace(actor_id, &entry->first);
        return entry;
    }

    caf::event_based_actor* self_;
    std::shared_ptr<const CustomerContext> context_;
    Registry registry_;
    std::unordered_map<uint64_t, Batch> batches_;
    uint64_t next_batch_ = 0;
    caf::error writer_gone_;  // set once the store writer ended
    CustomerRouter router_;   // shards_atom
    AliasCache alias_cache_;
};

}  // namespace

caf::behavior customer_shard(caf::event_based_actor* self,
                             std::shared_ptr<const CustomerContext> context) {
    auto shard = std::make_shared<Shard>(self, context);
    self->set_down_handler([shard](caf::down_msg& down) { shard->on_down(down); });
    // Tickets are answered by the store writer alone: if it ends, the shard must fail them.
    if (context->store_writer) self->monitor(context->store_writer);
    // Customers are not linked to their shard (one failing customer must not take its shard
    // down), so the shard ends them itself when it ends.
    self->attach_functor([shard] { shard->end_all(); });
    const DurationMs idle_after = context->idle_after;
    // A quarter of idle_after between checks: a customer ends at most 1.25 × idle_after after
    // its last message.
    const auto check_idle_later = [self, every = std::max<DurationMs>(idle_after / 4, 50)] {
        self->delayed_send(self, std::chrono::milliseconds(every), passivate_idle_atom::value);
    };
    if (idle_after > 0) check_idle_later();
    return {
        [shard](event_atom, Event& event) {
            std::vector<Event> one;
            one.push_back(std::move(event));
            return shard->batch(one, true);
        },
        [shard](event_atom, std::vector<Event>& events) { return shard->batch(events); },
        [shard](committed_atom, CommittedTickets& committed) { shard->committed(committed); },
        [shard](lookup_atom atom, const std::string& id) {
            return shard->route(
                id, caf::make_message(atom), IfUnknown::skip,
                [atom](const std::string& canonical) -> caf::expected<caf::message> {
                    return caf::make_message(atom, canonical);
                });
        },
        [shard](merge_atom, MergeIn& in) { return shard->merge_into(in); },
        // An intent left by a crash (at start), or a merge sent again.
        [shard](merge_atom, const std::string& alias, const std::string& intent) {
            shard->resume_or_resend(alias, intent);
        },
        [shard](shards_atom, CustomerRouter& router) { shard->set_router(std::move(router)); },
        [shard](timer_due_atom, const std::string& id) { shard->wake(id); },
        [shard](notice_atom, GoalNotice& notice) { shard->announce(std::move(notice)); },
        [shard, context, idle_after, check_idle_later](passivate_idle_atom) {
            shard->passivate_idle(context->now() - idle_after);
            check_idle_later();
        },
    };
}

ShardRouter::ShardRouter(caf::actor_system& system, std::shared_ptr<const CustomerContext> context,
                         size_t shard_count) {
    for (size_t i = 0; i < std::max<size_t>(1, shard_count); ++i)
        shards_.push_back(system.spawn(customer_shard, context));
    // Each shard forwards an alias's messages to the shard of its canonical customer.
    const CustomerRouter local{ShardRouter(shards_), caf::actor()};
    for (const caf::actor& shard : shards_) caf::anon_send(shard, shards_atom::value, local);
}

const caf::actor& ShardRouter::shard_for(std::string_view customer) const {
    // Salted so shard choice is independent of other uses of the same hash.
    return shards_[stable_hash(customer, stable_hash("shard")) % shards_.size()];
}

}  // namespace journeyd
