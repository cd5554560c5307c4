#include "actors/coordinator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "actors/customer_shard.hpp"
#include "actors/messages.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/decisioning/program_counts.hpp"
#include "state/pressure/decision_log.hpp"
#include "state/pressure/passivated_customers.hpp"
#include "state/pressure/pending_decisions.hpp"
#include "state/store/test_kill_point.hpp"

namespace journeyd {
namespace {

struct CoordinatorState {
    explicit CoordinatorState(CoordinatorSetup s)
        : setup(std::move(s)),
          ledger(setup.policy, setup.model),
          log(setup.decisions_per_customer) {}

    CoordinatorSetup setup;
    PressureLedger ledger;
    DecisionLog log;
    CoordinatorStats stats;
    std::deque<Delivery> outbox;
    std::vector<Decision> decided;   // scratch: what the ledger decided in one message
    PendingDecisions pending;        // decided, not yet committed
    PassivatedCustomers passivated;  // to forget once their decisions are committed
    // Dead letters whose move back to the outbox is being committed: a second retry of one
    // must not queue it twice.
    std::unordered_set<std::string> redelivering;
    std::optional<TimeMs> wakeup_at;
    bool outbox_retry_scheduled = false;
    bool publish_gather_armed = false;  // a gathered publish is due within kPublishGather
    bool publish_backlog_sent = false;  // a publish of the backlog is in the mailbox
    // Requests sent in this process that still wait for their first decision, and when they
    // were sent: event_to_decision measures the way to a request's first decision only.
    // Recovered requests were sent by an earlier process and are not measured.
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> undecided;
    std::optional<ShardRouter> shards;    // where notices go, once the daemon said
    std::vector<GoalNotice> unannounced;  // notices committed before it did
};

using Self = caf::event_based_actor*;
using StatePtr = std::shared_ptr<CoordinatorState>;

Delivery delivery_of(const Decision& d, const CoordinatorSetup& setup) {
    const JourneyModel& model = setup.model;
    return {d.decision_id,
            d.customer,
            model.programs[d.program].name,
            model.channel_of(d.program, d.action),
            model.template_of(d.program, d.action),
            setup.policy.hierarchy[model.priority_of(d.program, d.action)],
            d.at,
            model.action_name(d.action),
            d.config_version};
}

void announce(Self self, CoordinatorState& s, std::vector<GoalNotice> notices) {
    if (!s.shards) {
        s.unannounced.insert(s.unannounced.end(), std::make_move_iterator(notices.begin()),
                             std::make_move_iterator(notices.end()));
        return;
    }
    for (GoalNotice& notice : notices)
        self->send(s.shards->shard_for(notice.customer), notice_atom::value, std::move(notice));
}

PressureHistory stored_history(const CoordinatorState& s, const std::string& customer) {
    auto bytes = s.setup.store->read(Table::pressure, customer);
    if (!bytes) return {};
    std::string error;
    auto history = decode_history(*bytes, customer, s.setup.model, error);
    if (history) return std::move(*history);
    spdlog::error("contact history unreadable customer={} error={}", customer, error);
    return {};
}

// Before the ledger sees anything of a customer, it learns their durable sends: caps count
// what was sent before a restart. A customer just created has none to read.
void remember(CoordinatorState& s, const std::string& customer, bool new_customer = false) {
    if (s.ledger.knows(customer)) return;
    PressureHistory history = new_customer ? PressureHistory{} : stored_history(s, customer);
    s.ledger.restore(customer, std::move(history.sends));
    s.log.restore(customer, history.decisions);
}

bool settled(const CoordinatorState& s, const std::string& customer) {
    return !s.ledger.holds(customer) && !s.pending.contains(customer);
}

void forget(CoordinatorState& s, const std::string& customer) {
    s.ledger.forget(customer);
    s.log.forget(customer);
    s.passivated.forgot(customer);
}

// Offers the outbox in order; stops at the first refusal so order per customer holds.
void drain_outbox(Self self, CoordinatorState& s) {
    while (!s.outbox.empty() && s.setup.offer(s.outbox.front())) s.outbox.pop_front();
    s.stats.outbox = s.outbox.size();
    if (!s.outbox.empty() && !s.outbox_retry_scheduled) {
        s.outbox_retry_scheduled = true;
        self->delayed_send(self, s.setup.retry_every, reoffer_atom::value);
    }
}

// The store writer answers in commit order, so sends reach the outbox in decision order.
void commit_then_offer(Self self, const StatePtr& s, StoreRecord decisions,
                       std::vector<Delivery> sends, std::vector<GoalNotice> notices) {
    auto offer = [self, s, sends, notices]() mutable {
        s->outbox.insert(s->outbox.end(), sends.begin(), sends.end());
        drain_outbox(self, *s);
        announce(self, *s, std::move(notices));
    };
    s->passivated.sent_commit();
    self->request(s->setup.store_writer, caf::infinite, commit_atom::value, std::move(decisions),
                  EventOutcome::accepted)
        .then(
            [s, offer](EventOutcome) mutable {
                offer();
                for (const std::string& customer : s->passivated.answered(true))
                    if (settled(*s, customer)) forget(*s, customer);
            },
            [s, count = sends.size()](caf::error& e) {
                s->passivated.answered(false);
                // Only at the store writer's end (it retries a refused commit until then). The
                // requests stay stored, so the next start decides them again; offering the
                // sends now could deliver them twice.
                spdlog::error("decisions not durable sends={} error={}; decided again at start",
                              count, caf::to_string(e));
            });
}

// The goal windows a decision opens, if any: the action's and the program's when sent (the
// treated arm); when held out and it would have been sent (the control arm), the action's alone
// if the action's holdout kept it, else the program's.
std::optional<GoalNotice> notice_of(const Decision& d, const JourneyModel& model) {
    const bool program_goal = model.programs[d.program].goal.set();
    if (d.outcome == Outcome::send && (d.action != kNoAction || program_goal))
        return GoalNotice{d.decision_id, d.customer, d.action, d.at, d.program, false};
    if (d.would_have == Outcome::send && d.held_out == Holdout::action)
        return GoalNotice{d.decision_id, d.customer, d.action, d.at, d.program, true};
    if (d.would_have == Outcome::send && program_goal)
        return GoalNotice{d.decision_id, d.customer, kNoAction, d.at, d.program, true};
    return std::nullopt;
}

// The program's counter of this decision (program_counts.hpp).
std::string decision_counter(const Decision& d, const JourneyModel& model) {
    const std::string& program = model.programs[d.program].name;
    switch (d.outcome) {
        case Outcome::send:
            return program_decision_key("sent", {}, program);
        case Outcome::defer:
            return program_decision_key("deferred", {}, program);
        case Outcome::suppress:
            break;
    }
    return program_decision_key("suppressed", d.reason, program);
}

// Decisions, their customers' histories, the outbox entries of their sends, the notices of
// goal windows to open and the programs' counts, committed as one: a restart finds either all
// of them or none. `decisions` come from PendingDecisions, each customer's together, so a
// history is encoded once its customer's last one is logged.
void publish(Self self, const StatePtr& sp, const std::vector<Decision>& decisions) {
    CoordinatorState& s = *sp;
    if (decisions.empty()) return;
    const JourneyModel& model = s.setup.model;
    StoreRecord commit;
    std::vector<TableWrite>& writes = commit.writes;
    std::map<std::string, int64_t> counts;
    std::vector<Delivery> sends;
    std::vector<GoalNotice> notices;
    for (size_t i = 0; i < decisions.size(); ++i) {
        const Decision& d = decisions[i];
        s.log.record(d);
        switch (d.outcome) {
            case Outcome::send:
                ++s.stats.send;
                sends.push_back(delivery_of(d, s.setup));
                writes.push_back({Table::outbox, d.decision_id, encode_delivery(sends.back())});
                break;
            case Outcome::defer:
                ++s.stats.defer;
                break;
            case Outcome::suppress:
                ++s.stats.suppress;
                break;
        }
        ++counts[decision_counter(d, model)];
        if (auto notice = notice_of(d, model)) {
            writes.push_back({Table::notices, d.decision_id, encode_notice(*notice, model)});
            notices.push_back(std::move(*notice));
        }
        if (d.outcome != Outcome::defer)
            writes.push_back({Table::requests, d.decision_id, std::nullopt});
        spdlog::debug(
            "decision id={} customer={} program={} action={} outcome={} reason={} detail={}",
            d.decision_id, d.customer, model.programs[d.program].name, model.action_name(d.action),
            to_string(d.outcome), d.reason, d.detail);
        for (const SkippedAction& skipped : d.skipped)
            spdlog::debug("action skipped id={} customer={} action={} reason={}", d.decision_id,
                          d.customer, model.actions[skipped.action].name, skipped.reason);
        if (i + 1 == decisions.size() || decisions[i + 1].customer != d.customer) {
            writes.push_back({Table::pressure, d.customer,
                              encode_history(s.ledger.contacts(d.customer),
                                             s.log.entries_of(d.customer), model)});
            if (s.passivated.waiting(d.customer))
                s.passivated.committing(d.customer, settled(s, d.customer));
        }
    }
    commit.counter_changes.assign(counts.begin(), counts.end());
    commit_then_offer(self, sp, std::move(commit), std::move(sends), std::move(notices));
}

void publish_all(Self self, const StatePtr& sp) {
    publish(self, sp, sp->pending.take_all());
}

// At most kPublishSlice decisions at a time: encoding a burst of 1,500 customers' histories
// took 3-5 ms, which every request that arrived meanwhile waited for. The rest go after the
// requests that arrived while this slice was encoded.
constexpr size_t kPublishSlice = 256;

// Decisions wait up to kPublishGather to be committed together, so each customer's history is
// encoded once for all of them and the store writer gets one write instead of one a request.
// Woken promptly for each request, the coordinator decides requests one at a time, and
// committing each at once doubled the messages and wake-ups of the coordinator and the store
// writer (docs/performance.md). Only sends wait for it; a decision is made and measured at once.
constexpr auto kPublishGather = std::chrono::milliseconds(2);

// publish_atom's argument: whether it publishes the backlog (sent at once) or what was
// gathered (sent after kPublishGather).
constexpr bool kBacklog = true;
constexpr bool kGathered = false;

void publish_soon(Self self, CoordinatorState& s) {
    if (s.pending.empty()) return;
    if (s.pending.size() >= kPublishSlice) {
        if (s.publish_backlog_sent) return;
        s.publish_backlog_sent = true;
        self->send(self, publish_atom::value, kBacklog);
    } else if (!s.publish_gather_armed) {
        s.publish_gather_armed = true;
        self->delayed_send(self, kPublishGather, publish_atom::value, kGathered);
    }
}

// After a slice, what is still pending has waited long enough: it goes next, behind the
// requests that arrived meanwhile.
void publish_slice(Self self, const StatePtr& sp, bool backlog) {
    CoordinatorState& s = *sp;
    (backlog ? s.publish_backlog_sent : s.publish_gather_armed) = false;
    publish(self, sp, s.pending.take(kPublishSlice));
    if (s.pending.empty() || s.publish_backlog_sent) return;
    s.publish_backlog_sent = true;
    self->send(self, publish_atom::value, kBacklog);
}

void schedule_wakeup(Self self, CoordinatorState& s) {
    auto next = s.ledger.next_wakeup();
    if (!next || (s.wakeup_at && *s.wakeup_at <= *next)) return;
    s.wakeup_at = *next;
    const TimeMs wait = std::max<TimeMs>(0, *next - s.setup.now());
    self->delayed_send(self, std::chrono::milliseconds(wait), wakeup_atom::value, *next);
}

// What the ledger just decided goes to the pending commit, and event_to_decision observes the
// first decisions of requests: here, right after the ledger decided, not at publish, which
// waits behind the burst in the mailbox and is no part of deciding.
void queue_decided(CoordinatorState& s) {
    if (!s.undecided.empty()) {
        const auto now = std::chrono::steady_clock::now();
        for (const Decision& d : s.decided) {
            auto waiting = s.undecided.find(d.decision_id);
            if (waiting == s.undecided.end()) continue;
            s.setup.metrics->event_to_decision.observe(
                std::chrono::duration_cast<std::chrono::microseconds>(now - waiting->second));
            s.undecided.erase(waiting);
        }
    }
    for (Decision& d : s.decided) d.config_version = s.setup.config_version;
    s.pending.add(s.decided);
}

// The caller remembered the customer first (it checked the request against their log).
void submit(CoordinatorState& s, ContactRequest request) {
    s.ledger.submit(std::move(request), s.setup.now(), s.decided);
    queue_decided(s);
}

// The customer's logged decision of this id, if any (deferrals included).
const Decision* logged(const CoordinatorState& s, const ContactRequest& r) {
    for (const Decision& d : s.log.entries_of(r.customer))
        if (d.decision_id == r.decision_id) return &d;
    return nullptr;
}

// A request whose final decision is logged was asked for again: an event applied again once
// its customer was restored after a failed commit (store_writer.hpp) asks with the same
// decision ids. Deciding it twice could send twice. Its record wrote the request entry
// again; that entry goes, so that a restart does not submit it. (An id pushed out of the
// bounded decision log is not recognised.)
bool decided_before(Self self, CoordinatorState& s, const ContactRequest& r, const Decision* d) {
    if (d == nullptr || d->outcome == Outcome::defer) return false;
    spdlog::debug("request decided before id={} customer={}", r.decision_id, r.customer);
    self->send(s.setup.store_writer, commit_atom::value,
               table_writes({{Table::requests, r.decision_id, std::nullopt}}),
               EventOutcome::accepted);
    return true;
}

// A request asked for again while the first is still held: deferred (logged), decided and not
// yet committed, or in an open arbitration window. The first one's entry is the one stored.
bool held_already(const CoordinatorState& s, const ContactRequest& r, const Decision* d) {
    return d != nullptr || s.pending.contains(r.customer, r.decision_id) ||
           s.ledger.contends(r.customer, r.decision_id);
}

// An identify's merge: the alias's contacts, decision log and held requests become the
// canonical customer's, and the merged history is committed in the batch of the customers'
// records (one durable step). Decisions not yet committed go first, so that a history of the
// alias written by them cannot land after the merge erased it. A failed commit leaves the
// merge in memory: caps then count the alias's sends for both ids, never fewer.
// `handover`: an alias of another cluster member, whose coordinator handed its history and held
// requests over (encode_handover); they are the canonical customer's from this commit on, and
// its held requests are decided here once it is durable. Empty: the alias is this member's.
caf::result<EventOutcome> merge(Self self, const StatePtr& s, const std::string& alias,
                                const std::string& canonical, std::vector<StoreRecord> records,
                                const std::string& handover) {
    const JourneyModel& model = s->setup.model;
    publish_all(self, s);
    remember(*s, canonical);
    std::vector<ContactRequest> moved;
    if (handover.empty()) {
        remember(*s, alias);
    } else {
        std::string error;
        auto handed = decode_handover(handover, alias, model, error);
        if (!handed) return caf::make_error(caf::sec::runtime_error, "identify: " + error);
        s->ledger.restore(alias, std::move(handed->history.sends));
        s->log.restore(alias, handed->history.decisions);
        for (ContactRequest& request : handed->held) {
            request.customer = canonical;
            moved.push_back(std::move(request));
        }
    }
    std::vector<ContactRequest> held = s->ledger.merge(alias, canonical);
    s->log.merge(alias, canonical);
    forget(*s, alias);
    if (records.empty()) records.emplace_back();
    std::vector<TableWrite>& writes = records.front().writes;
    writes.push_back(
        {Table::pressure, canonical,
         encode_history(s->ledger.contacts(canonical), s->log.entries_of(canonical), model)});
    if (handover.empty()) writes.push_back({Table::pressure, alias, std::nullopt});
    for (const auto* requests : {&held, &moved})
        for (const ContactRequest& request : *requests)
            writes.push_back(
                {Table::requests, request.decision_id, encode_request(request, model)});
    auto promise = self->make_response_promise<EventOutcome>();
    self->request(s->setup.store_writer, caf::infinite, commit_atom::value, std::move(records),
                  EventOutcome::accepted)
        .then(
            [self, s, promise, moved](EventOutcome outcome) mutable {
                kill_point("identify_committed");
                for (ContactRequest& request : moved) submit(*s, std::move(request));
                publish_soon(self, *s);
                schedule_wakeup(self, *s);
                promise.deliver(outcome);
            },
            [promise, alias, canonical](caf::error& e) mutable {
                spdlog::error("identify not durable alias={} canonical={} error={}", alias,
                              canonical, caf::to_string(e));
                promise.deliver(std::move(e));
            });
    return promise;
}

// The alias's pressure state leaves for another member's coordinator (an identify across
// members): its decisions so far are committed first, then its history and held requests go
// with the merge, and nothing of it is decided here any more.
std::string hand_over(Self self, const StatePtr& s, const std::string& alias) {
    publish_all(self, s);
    remember(*s, alias);
    Handover handover;
    handover.history.sends = s->ledger.contacts(alias);
    handover.history.decisions = s->log.entries_of(alias);
    handover.held = s->ledger.hand_over(alias);
    forget(*s, alias);
    return encode_handover(handover, s->setup.model);
}

// The other member refused the merge: the alias's held requests are decided here again (its
// history is in the store, read when it is next remembered).
void take_back(Self self, const StatePtr& s, const std::string& alias,
               const std::string& handover) {
    std::string error;
    auto handed = decode_handover(handover, alias, s->setup.model, error);
    if (!handed) {
        spdlog::error("identify handover unreadable alias={} error={}", alias, error);
        return;
    }
    remember(*s, alias);
    for (ContactRequest& request : handed->held) submit(*s, std::move(request));
    publish_soon(self, *s);
    schedule_wakeup(self, *s);
}

void recover(Self self, const StatePtr& s) {
    Unfinished unfinished = std::move(s->setup.unfinished);
    spdlog::info("coordinator recovered outbox={} requests={} notices={}", unfinished.outbox.size(),
                 unfinished.requests.size(), unfinished.notices.size());
    s->outbox.insert(s->outbox.end(), unfinished.outbox.begin(), unfinished.outbox.end());
    announce(self, *s, std::move(unfinished.notices));
    for (ContactRequest& request : unfinished.requests) {
        // No actor of theirs is live yet: forgotten once decided, unless one sends a request.
        s->passivated.passivated(request.customer, false);
        remember(*s, request.customer);
        if (decided_before(self, *s, request, logged(*s, request))) continue;
        submit(*s, std::move(request));
    }
    drain_outbox(self, *s);
    publish_all(self, s);
    schedule_wakeup(self, *s);
}

}  // namespace

Unfinished read_unfinished(const RecordStore& store, const JourneyModel& model) {
    Unfinished unfinished;
    std::string error;
    for (const auto& [id, bytes] : store.read_all(Table::outbox)) {
        if (auto delivery = decode_delivery(bytes, error))
            unfinished.outbox.push_back(std::move(*delivery));
        else
            spdlog::error("outbox entry unreadable id={} error={}", id, error);
    }
    // An alias whose merge into another member's customer is unsettled handed its held
    // requests over: the merge, resumed at start, settles them.
    std::set<std::string> handed_over;
    for (const auto& [alias, intent] : store.read_all(Table::merges)) handed_over.insert(alias);
    for (const auto& [id, bytes] : store.read_all(Table::requests)) {
        auto request = decode_request(bytes, model, error);
        if (!request)
            spdlog::error("contact request unreadable id={} error={}", id, error);
        else if (handed_over.count(request->customer) == 0)
            unfinished.requests.push_back(std::move(*request));
    }
    for (const auto& [id, bytes] : store.read_all(Table::notices)) {
        if (auto notice = decode_notice(bytes, model, error))
            unfinished.notices.push_back(std::move(*notice));
        else
            spdlog::error("action notice unreadable id={} error={}", id, error);
    }
    std::stable_sort(unfinished.requests.begin(), unfinished.requests.end(),
                     [](const ContactRequest& a, const ContactRequest& b) { return a.at < b.at; });
    return unfinished;
}

caf::behavior coordinator(caf::event_based_actor* self, CoordinatorSetup setup) {
    auto s = std::make_shared<CoordinatorState>(std::move(setup));
    self->send(self, recover_atom::value);
    return {
        [self, s](recover_atom) { recover(self, s); },
        [self, s](contact_atom, ContactRequest& request) {
            s->passivated.active(request.customer);
            remember(*s, request.customer, request.new_customer);
            const Decision* before = logged(*s, request);  // one pass over the log for both
            if (decided_before(self, *s, request, before) || held_already(*s, request, before))
                return;
            s->undecided.emplace(request.decision_id, request.sent);
            submit(*s, std::move(request));
            publish_soon(self, *s);
            schedule_wakeup(self, *s);
        },
        [self, s](publish_atom, bool backlog) { publish_slice(self, s, backlog); },
        [self, s](merge_atom, const std::string& alias, const std::string& canonical,
                  std::vector<StoreRecord>& records, const std::string& handover) {
            return merge(self, s, alias, canonical, std::move(records), handover);
        },
        [self, s](handover_atom, const std::string& alias) { return hand_over(self, s, alias); },
        [self, s](handed_atom, const std::string& alias, bool merged, const std::string& handover) {
            if (!merged) take_back(self, s, alias, handover);
        },
        [self, s](shards_atom, std::vector<caf::actor>& shards) {
            s->shards.emplace(std::move(shards));
            announce(self, *s, std::exchange(s->unannounced, {}));
        },
        [s](passivate_atom, const std::string& customer) {
            if (s->ledger.knows(customer) &&
                s->passivated.passivated(customer, settled(*s, customer)))
                forget(*s, customer);
        },
        // Remembering the customer here read their history from the store and kept it, for
        // every profile event of anyone, though no request of theirs was waiting.
        [s](preferences_atom, const std::string& customer, ContactPreferences& preferences) {
            if (s->ledger.knows(customer))
                s->ledger.set_preferences(customer, std::move(preferences));
        },
        [self, s](wakeup_atom, TimeMs scheduled_for) {
            if (s->wakeup_at == scheduled_for) s->wakeup_at.reset();
            s->ledger.advance(s->setup.now(), s->decided);
            queue_decided(*s);
            publish_soon(self, *s);
            schedule_wakeup(self, *s);
        },
        [self, s](reoffer_atom) {
            s->outbox_retry_scheduled = false;
            drain_outbox(self, *s);
        },
        // Reads do not make the coordinator remember a customer: an operator browsing many
        // customers should not fill its memory.
        [s](decisions_atom, const std::string& customer) {
            if (s->ledger.knows(customer)) return s->log.newest_first(customer);
            return stored_history(*s, customer).decisions;
        },
        [s](contacts_atom, const std::string& customer) {
            if (s->ledger.knows(customer)) return s->ledger.contacts(customer);
            return stored_history(*s, customer).sends;
        },
        // In one commit the dead letter leaves and its send enters the outbox again; it is
        // offered once that commit is answered, with the same decision id.
        [self, s](redeliver_atom, const std::string& decision_id) -> caf::result<bool> {
            if (s->redelivering.count(decision_id) > 0) return false;
            const auto bytes = s->setup.store->read(Table::dead_letters, decision_id);
            if (!bytes) return false;
            std::string error;
            const auto dead = decode_dead_letter(*bytes, error);
            if (!dead) {
                spdlog::error("dead letter unreadable id={} error={}", decision_id, error);
                return false;
            }
            s->redelivering.insert(decision_id);
            std::vector<TableWrite> writes;
            writes.push_back({Table::dead_letters, decision_id, std::nullopt});
            writes.push_back({Table::outbox, decision_id, encode_delivery(dead->delivery)});
            auto promise = self->make_response_promise<bool>();
            self->request(s->setup.store_writer, caf::infinite, commit_atom::value,
                          table_writes(std::move(writes)), EventOutcome::accepted)
                .then(
                    [self, s, promise, delivery = dead->delivery](EventOutcome) mutable {
                        s->redelivering.erase(delivery.decision_id);
                        spdlog::info("dead letter re-queued decision_id={} customer={}",
                                     delivery.decision_id, delivery.customer);
                        s->outbox.push_back(std::move(delivery));
                        drain_outbox(self, *s);
                        promise.deliver(true);
                    },
                    [s, promise, decision_id](caf::error& e) mutable {
                        s->redelivering.erase(decision_id);
                        promise.deliver(std::move(e));
                    });
            return promise;
        },
        [s](stats_atom) {
            CoordinatorStats stats = s->stats;
            stats.customers = s->ledger.customers();
            return stats;
        },
        // This node's share of the rate budgets, and what was asked of them (rate_borrower).
        [s](rate_atom, const ChannelRates& rates) {
            for (const auto& [channel, per_second] : rates) s->ledger.set_rate(channel, per_second);
        },
        [s](demand_atom) { return s->ledger.take_rate_demand(); },
        [self, s](config_atom, CoordinatorRules& rules) {
            // Decided under the old rules, so their deliveries are made from them (template,
            // channel, class), as their config_version says.
            publish_all(self, s);
            s->ledger.reconfigure(rules.policy, rules.model);
            s->setup.policy = std::move(rules.policy);
            s->setup.model = std::move(rules.model);
            s->setup.config_version = std::move(rules.config_version);
            spdlog::info("coordinator follows configuration version={}", s->setup.config_version);
            return true;
        },
        [self, s](drain_atom) {
            s->ledger.close_arbitration(s->setup.now(), s->decided);
            queue_decided(*s);
            publish_all(self, s);
            // Answered after every commit requested before it, and so after their offers.
            auto finish = [self, s] {
                drain_outbox(self, *s);
                if (!s->outbox.empty())
                    spdlog::warn(
                        "coordinator stopping with sends the sink did not accept count={}; "
                        "they stay in the store's outbox for the next start",
                        s->outbox.size());
                self->quit();
            };
            self->request(s->setup.store_writer, caf::infinite, commit_atom::value,
                          store_barrier({}), EventOutcome::accepted)
                .then([finish](EventOutcome) { finish(); }, [finish](caf::error&) { finish(); });
        },
    };
}

}  // namespace journeyd
