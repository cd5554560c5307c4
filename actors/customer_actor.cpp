#include "actors/customer_actor.hpp"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include <optional>

#include "actors/messages.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/pressure_codec.hpp"
#include "state/decisioning/program_counts.hpp"
#include "state/journey/customer_upgrade.hpp"
#include "state/journey/flow_counters.hpp"
#include "state/journey/identity.hpp"
#include "state/journey/program_requests.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {
namespace {

// What the engine made of the event or timer being handled. One per thread, not per actor:
// a handler runs on one thread from start to end, and a million live customers should not
// each keep the capacity of four vectors.
Effects& scratch_effects() {
    thread_local Effects effects;
    return effects;
}

// A profile event that changes the customer's time zone or consent may change what the
// coordinator holds for requests it is still deferring. Most profile events change neither,
// and each message woke the coordinator for nothing.
void send_preferences_if_changed(CustomerSelf self, const CustomerRouting& r,
                                 const std::optional<ContactPreferences>& before) {
    if (!before) return;
    ContactPreferences now = preferences_of(self->state.profile);
    if (now != *before)
        self->send(r.context->coordinator, preferences_atom::value, self->state.id, std::move(now));
}

// Called only once the record holding the requests was sent to the store writer: the
// coordinator's commit of their decisions then joins the same batch or a later one, never
// an earlier one that would erase a request before it is written.
void send_contacts(CustomerSelf self, const CustomerRouting& r,
                   std::vector<ContactRequest>& requests) {
    const auto sent = std::chrono::steady_clock::now();
    for (ContactRequest& request : requests) {
        request.sent = sent;
        self->send(r.context->coordinator, contact_atom::value, std::move(request));
    }
}

void log_stage_changes(const CustomerState& c, const CustomerRouting& r) {
    const JourneyModel& model = r.live->engine->model();
    for (const StageChange& change : scratch_effects().stage_changes)
        spdlog::debug("stage customer={} from={} to={}", c.id,
                      change.had_stage ? model.stages[change.from] : "-", model.stages[change.to]);
}

// The customer's new state; `from_event` when an event produced it (else a timer). The
// net stage move of the effects goes along, for the store's count of customers per stage,
// and the contact requests the change made, so they are durable with it.
StoreRecord record_of(const CustomerState& customer, const CustomerRouting& r,
                      const std::vector<ContactRequest>& requests, bool from_event = false) {
    const JourneyEngine& engine = *r.live->engine;
    const JourneyModel& model = engine.model();
    StoreRecord record;
    record.customer = customer.id;
    record.record = encode_customer(customer, model);
    record.next_due = engine.next_due(customer);
    const auto& changes = scratch_effects().stage_changes;
    if (!changes.empty() &&
        (!changes.front().had_stage || changes.front().from != customer.journey.stage))
        record.stage_move = std::make_pair(
            changes.front().had_stage ? model.stages[changes.front().from] : std::string(),
            model.stages[customer.journey.stage]);
    for (const SegmentChange& change : scratch_effects().segment_changes)
        record.segment_moves.emplace_back(model.conditions.segments[change.segment].name,
                                          change.entered);
    for (const Effects::GoalOutcome& goal : scratch_effects().outcomes) {
        if (!of_action(goal.of)) {
            const Arm arm = goal.of == GoalOf::program_treated ? Arm::treated : Arm::control;
            record.counter_changes.emplace_back(
                program_goal_key(arm, goal.outcome, model.programs[goal.id].name), 1);
            continue;
        }
        const bool control = goal.of == GoalOf::action_control;
        record.counter_changes.emplace_back(
            action_counter_key(model.actions[goal.id].name, goal.outcome, control), 1);
        // A propensity is learned from the sends alone.
        if (r.live->action_totals && !control) r.live->action_totals->add(goal.id, goal.outcome);
    }
    add_flow_counters(model, scratch_effects(), r.context->now(), record.counter_changes);
    if (from_event) {
        // The record's own window of recent ids knows the event; the store's applied ids need
        // only what that window forgets, committed with the record that forgot it, so no id
        // is ever in neither. Most customers never fill their window: nothing to write.
        if (scratch_effects().forgotten_event) {
            record.applied_event = scratch_effects().forgotten_event;
            record.applied_at = r.context->now();
        }
        // An event only ever moves timers later or adds earlier ones: see index_lower_bound.
        // Records written when timers fire or the sweeper calls put the index right.
        record.index_lower_bound = true;
    }
    for (const ContactRequest& request : requests)
        record.writes.push_back(
            {Table::requests, request.decision_id, encode_request(request, model)});
    return record;
}

// An id the record's own window forgot may still be in the store's longer history. A
// customer that never applied anything has nothing there to look up; nor does one whose
// window has never wrapped: the window remembers every event applied (JourneyEngine::apply)
// and is stored in the same record, in the same commit, as the store's history of it, so
// while it holds fewer than kCapacity ids it holds all the store could know of, and an id
// missing from it is new. That spares a store read (an LMDB lookup) per event of the
// customer's first kCapacity.
bool applied_before(const CustomerState& customer, const Event& event, const CustomerRouting& r) {
    if (!customer.journey.created) return false;
    const RecentEventIds& recent = customer.journey.recent_ids;
    if (!RecentEventIds::wrapped(recent.ring().size())) return false;
    const uint64_t fingerprint = stable_hash(event.id);
    return !recent.contains(fingerprint) && r.context->store->was_applied(customer.id, fingerprint);
}

// Only wake-ups within the idle horizon are scheduled: CAF's clock holds the actor of a
// delayed message alive until it is due, so a 30-day timer would keep a passivated customer
// in memory for 30 days. Later timers fire through the sweeper and the store's timer index.
// A wake-up is not sent before `not_before`.
void schedule_wakeup(CustomerSelf self, CustomerRouting& r, TimeMs not_before = 0) {
    auto due = r.live->engine->next_due(self->state);
    if (!due) return;
    if (r.wakeup_at && *r.wakeup_at <= *due) return;  // an earlier one will come and re-check
    const DurationMs horizon = r.context->idle_after;
    if (horizon > 0 && *due > r.context->now() + horizon) return;
    r.wakeup_at = *due;
    const TimeMs wait = std::max<TimeMs>(0, std::max(*due, not_before) - r.context->now());
    self->delayed_send(self, std::chrono::milliseconds(wait), wakeup_atom::value, *due);
}

// What the effects just applied to `customer` ask of the coordinator (program_requests.hpp).
std::vector<ContactRequest> requests_of(const CustomerState& customer, const CustomerRouting& r) {
    return contact_requests(customer, r.live->engine->model(), scratch_effects(),
                            r.live->action_totals.get(), r.context->population.get());
}

// Commits what carrying the state to another configuration changed (scratch_effects()): its
// drops go to the coordinator as suppress decisions, and a customer moved out of a migrated stage
// moves in the store's counts per stage.
void commit_carried(CustomerSelf self, CustomerRouting& r, const std::string& migrated_from) {
    const JourneyModel& model = r.live->engine->model();
    std::vector<ContactRequest> requests = requests_of(self->state, r);
    StoreRecord record = record_of(self->state, r, requests);
    if (!migrated_from.empty())
        record.stage_move.emplace(migrated_from, model.stages[self->state.journey.stage]);
    self->send(r.context->store_writer, commit_atom::value, std::move(record),
               EventOutcome::accepted);
    send_contacts(self, r, requests);
    schedule_wakeup(self, r);
}

// Every handler starts here: after a configuration change the state is carried to the new one
// (customer_upgrade.hpp) before anything is applied, and what that changed (dropped delayed
// programs, re-armed timers) is committed and its drops sent on as suppress decisions.
void follow_config_change(CustomerSelf self, CustomerRouting& r) {
    const LiveConfigs& configs = *r.context->configs;
    const uint64_t generation = configs.generation();
    if (generation == r.live->generation || generation == r.refused_generation) return;
    std::shared_ptr<const LiveConfig> next = configs.current();
    Effects& out = scratch_effects();
    const size_t timers_before = self->state.journey.timers.size();
    const CustomerUpgrade upgrade =
        upgrade_customer(self->state, *r.live->engine, *next->engine, r.context->now(), out);
    if (!upgrade.carried) {
        // A checked change never removes a stage that holds customers; one that raced the
        // check keeps this customer under the configuration it knows.
        r.refused_generation = next->generation;
        spdlog::error(
            "customer kept under configuration customer={} version={} refused={} error={}",
            self->state.id, r.live->running.version, next->running.version, upgrade.error);
        return;
    }
    r.live = std::move(next);
    if (out.drops.empty() && out.timer_changes.empty() && upgrade.migrated_from.empty() &&
        timers_before == self->state.journey.timers.size())
        return;
    commit_carried(self, r, upgrade.migrated_from);
}

// A customer read from the store under a configuration other than the one that wrote it.
void settle_read(CustomerSelf self, CustomerRouting& r, const ReadNotes& notes) {
    if (!self->state.journey.created) return;
    if (settle_stored(self->state, *r.live->engine, notes, r.context->now(), scratch_effects()))
        commit_carried(self, r, notes.migrated_from);
}

// Applies an event of its shard's batch and sends its record to the store writer with the
// ticket: the outcome goes to `reply_to` (the shard) after the commit. The record is sent
// before the contact requests it holds (see send_contacts).
void apply_event(CustomerSelf self, CustomerRouting& r, const Event& event, Ticket ticket,
                 caf::actor reply_to) {
    follow_config_change(self, r);
    auto commit = [&](StoreRecord record, EventOutcome outcome) {
        self->send(r.context->store_writer, commit_atom::value, std::move(record), outcome, ticket,
                   std::move(reply_to));
    };
    std::optional<ContactPreferences> preferences_before;
    if (event.type == kProfileEventType) preferences_before = preferences_of(self->state.profile);
    if (applied_before(self->state, event, r))
        scratch_effects().outcome = ApplyOutcome::duplicate;
    else
        r.live->engine->apply(self->state, event, r.context->now(), scratch_effects());
    if (!scratch_effects().changed_state()) {
        ++r.context->metrics->events_duplicate;
        spdlog::debug("duplicate customer={} event={}", self->state.id, event.id);
        return commit(store_barrier(self->state.id), EventOutcome::duplicate);
    }
    ++r.context->metrics->events_accepted;
    log_stage_changes(self->state, r);
    send_preferences_if_changed(self, r, preferences_before);
    if (scratch_effects().engaged_hour >= 0 && r.context->population)
        r.context->population->record(event.ts, scratch_effects().engaged_hour,
                                      r.live->engine->model().rhythm.half_life);
    std::vector<ContactRequest> requests = requests_of(self->state, r);
    commit(record_of(self->state, r, requests, true), EventOutcome::accepted);
    send_contacts(self, r, requests);
    schedule_wakeup(self, r);
}

// A commit of this customer's records failed (the store refuses commits): the state held
// here is ahead of the store, and its events were not acknowledged. Reading back the last
// committed state makes a retry of those events new again (not a duplicate of an unstored
// one). The store writer refuses this actor's records sent before restored_atom. Timers the
// stored state holds fire again, but not at once: a full store is not asked again and again.
constexpr DurationMs kTimersAfterRestore = 1000;

void restore(CustomerSelf self, CustomerRouting& r) {
    auto stored = stored_customer(*r.context, self->state.id, IfUnknown::create);
    if (!stored || !stored->state) {
        // Its shard fails what it still waits for; the next event reads the store again.
        self->quit(stored ? caf::make_error(caf::sec::runtime_error,
                                            self->state.id + " is an alias of " + stored->alias_of)
                          : stored.error());
        return;
    }
    static_cast<CustomerState&>(self->state) = std::move(*stored->state);
    r.live = std::move(stored->under);
    settle_read(self, r, stored->notes);
    spdlog::debug("customer restored from the store after a failed commit customer={}",
                  self->state.id);
    self->send(r.context->store_writer, restored_atom::value, self->state.id);
    r.wakeup_at.reset();
    schedule_wakeup(self, r, r.context->now() + kTimersAfterRestore);
}

caf::error identify_error(std::string text) {
    return caf::make_error(caf::sec::runtime_error, "identify: " + std::move(text));
}

// Merges the alias `in` into this customer and applies the identify event, then commits both
// records, the alias list and (through the coordinator) the merged contact histories as one
// batch. Until the coordinator answers, the actor handles nothing else (await), so no record of
// its own can overtake the merge's; a failed commit puts its state back.
caf::result<MergeDone> merge_alias(CustomerSelf self, MergeIn& in) {
    CustomerRouting& r = self->state.routing;
    follow_config_change(self, r);
    const JourneyModel& model = r.live->engine->model();
    CustomerState& me = self->state;
    std::vector<std::string> aliases = stored_aliases(*r.context->store, me.id);
    // Asked again after its answer was lost (the alias's member resumes it): merged already.
    if (std::find(aliases.begin(), aliases.end(), in.alias) != aliases.end())
        return MergeDone{me.id};
    std::string error;
    auto alias = decode_customer(in.record, model, error);
    if (!alias) return identify_error("the state of " + in.alias + " is unreadable: " + error);
    const size_t after = aliases.size() + 1 + in.aliases.size();
    if (after > r.context->max_aliases)
        return identify_error(me.id + " would have " + std::to_string(after) +
                              " aliases, more than [identity] max_aliases = " +
                              std::to_string(r.context->max_aliases));
    CustomerState before = me;
    const std::string stage_before = me.journey.created ? model.stages[me.journey.stage] : "";
    const MergeEffects merged = merge_customer(me, *alias, model);
    r.live->engine->apply(me, in.identify, r.context->now(), scratch_effects());
    log_stage_changes(me, r);
    auto requests = std::make_shared<std::vector<ContactRequest>>(requests_of(me, r));

    std::vector<StoreRecord> records;
    StoreRecord canonical = record_of(me, r, *requests, true);
    canonical.index_lower_bound = false;  // the alias's timers may come earlier, the stage's go
    const std::string stage_after = me.journey.created ? model.stages[me.journey.stage] : "";
    canonical.stage_move.reset();
    if (stage_after != stage_before) canonical.stage_move.emplace(stage_before, stage_after);
    aliases.push_back(in.alias);
    aliases.insert(aliases.end(), in.aliases.begin(), in.aliases.end());
    canonical.writes.push_back({Table::aliases, me.id, encode_alias_list(aliases)});
    // An alias of another member: its record and list are its member's to settle.
    const bool alias_here = in.handover.empty();
    if (alias_here) canonical.writes.push_back({Table::aliases, in.alias, std::nullopt});
    records.push_back(std::move(canonical));
    if (alias_here) {
        StoreRecord gone;
        gone.customer = in.alias;
        gone.record = encode_alias_record({me.id, merged.alias.recent_ids});
        gone.stage_move = merged.alias.move;
        gone.counter_changes = merged.alias.counter_changes;
        records.push_back(std::move(gone));
    }
    repoint_aliases(in.repoint, me.id, *r.context->store, records);

    auto promise = self->make_response_promise<MergeDone>();
    self->request(r.context->coordinator, caf::infinite, merge_atom::value, in.alias, me.id,
                  std::move(records), in.handover)
        .await(
            [self, promise, requests, alias_id = in.alias,
             preferences = merged.preferences_changed](EventOutcome) mutable {
                CustomerRouting& r = self->state.routing;
                if (preferences)
                    self->send(r.context->coordinator, preferences_atom::value, self->state.id,
                               preferences_of(self->state.profile));
                send_contacts(self, r, *requests);
                r.wakeup_at.reset();
                schedule_wakeup(self, r);
                spdlog::debug("identify merged alias={} customer={}", alias_id, self->state.id);
                promise.deliver(MergeDone{self->state.id});
            },
            [self, promise, before = std::move(before)](caf::error& e) mutable {
                static_cast<CustomerState&>(self->state) = std::move(before);
                promise.deliver(std::move(e));
            });
    return promise;
}

}  // namespace

caf::expected<StoredCustomer> stored_customer(const CustomerContext& context, const std::string& id,
                                              IfUnknown if_unknown) {
    StoredCustomer stored;
    std::shared_ptr<const LiveConfig> under = context.configs->current();
    if (auto record = context.store->read(id)) {
        std::string error;
        if (is_alias_record(*record)) {
            if (auto alias = decode_alias_record(*record, error)) {
                stored.alias_of = std::move(alias->canonical);
                return stored;
            }
        } else if (auto restored =
                       decode_customer(*record, under->engine->model(), error, &stored.notes)) {
            stored.state = std::move(*restored);
            stored.under = std::move(under);
            return stored;
        }
        spdlog::error("stored customer unreadable customer={} error={}", id, error);
        return caf::make_error(caf::sec::runtime_error,
                               "stored state of customer " + id + " is unreadable: " + error);
    }
    if (if_unknown == IfUnknown::skip) return stored;
    stored.state.emplace();
    stored.state->id = id;
    stored.under = std::move(under);
    return stored;
}

std::vector<std::string> stored_aliases(const RecordStore& store, const std::string& canonical) {
    auto bytes = store.read(Table::aliases, canonical);
    if (!bytes) return {};
    std::string error;
    auto aliases = decode_alias_list(*bytes, error);
    if (!aliases) {
        spdlog::error("alias list unreadable customer={} error={}", canonical, error);
        return {};
    }
    return std::move(*aliases);
}

TimeMs system_now_ms() {
    // A test's hook, like kill_point: JOURNEYD_TEST_CLOCK_SKEW_MS=<n> sets the daemon's clock n
    // ms ahead, so that a test of send times can stand seconds before a local hour starts.
    static const TimeMs skew = [] {
        const char* value = std::getenv("JOURNEYD_TEST_CLOCK_SKEW_MS");
        return value ? std::strtoll(value, nullptr, 10) : 0;
    }();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() +
           skew;
}

caf::behavior customer_actor(CustomerSelf self, std::shared_ptr<const CustomerContext> context,
                             StoredCustomer initial) {
    static_cast<CustomerState&>(self->state) = std::move(*initial.state);
    self->state.routing.context = std::move(context);
    self->state.routing.live = std::move(initial.under);
    settle_read(self, self->state.routing, initial.notes);
    schedule_wakeup(self, self->state.routing);
    return {
        // The shard that sent the ticket gets the outcome, from the store writer, after commit.
        [self](event_atom, const Event& event, Ticket ticket) {
            apply_event(self, self->state.routing, event, ticket,
                        caf::actor_cast<caf::actor>(self->current_sender()));
        },
        [self](wakeup_atom, TimeMs scheduled_for) {
            CustomerRouting& r = self->state.routing;
            if (r.wakeup_at == scheduled_for) r.wakeup_at.reset();
            if (r.frozen) return;  // thawed, it schedules its wake-up again
            follow_config_change(self, r);
            const TimeMs now = r.context->now();
            const std::optional<TimeMs> due = r.live->engine->next_due(self->state);
            r.live->engine->fire_due(self->state, now, scratch_effects());
            // The sweeper calls when the index says a timer is due; if none is, the entry was
            // a lower bound and the record's commit puts it right.
            const bool index_stale =
                scratch_effects().timers_fired == 0 && scheduled_for == kSweeperWakeup;
            if (scratch_effects().timers_fired > 0 || index_stale) {
                // Due times are whole ms of the wall clock, as the store keeps them, so
                // lateness has a resolution of 1 ms.
                if (scratch_effects().timers_fired > 0)
                    r.context->metrics->timer_lateness.observe(
                        std::chrono::milliseconds(now - *due));
                log_stage_changes(self->state, r);
                std::vector<ContactRequest> requests = requests_of(self->state, r);
                self->send(r.context->store_writer, commit_atom::value,
                           record_of(self->state, r, requests), EventOutcome::accepted);
                send_contacts(self, r, requests);
            }
            schedule_wakeup(self, r);
        },
        [self](lookup_atom) {
            follow_config_change(self, self->state.routing);
            return CustomerLookup{
                true, self->state,
                stored_aliases(*self->state.routing.context->store, self->state.id),
                self->state.routing.live->engine};
        },
        [self](freeze_atom) -> caf::result<std::string> {
            // Its state is handed over encoded: under the configuration in force, and with what
            // carrying it there changed committed before the barrier below.
            follow_config_change(self, self->state.routing);
            auto promise = self->make_response_promise<std::string>();
            self->request(self->state.routing.context->store_writer, caf::infinite,
                          commit_atom::value, store_barrier(self->state.id), EventOutcome::accepted)
                .await(
                    [self, promise](EventOutcome) mutable {
                        self->state.routing.frozen = true;
                        promise.deliver(encode_customer(self->state,
                                                        self->state.routing.live->engine->model()));
                    },
                    [promise](caf::error& e) mutable { promise.deliver(std::move(e)); });
            return promise;
        },
        [self](merged_atom, bool merged) {
            if (merged) return self->quit();
            self->state.routing.frozen = false;
            self->state.routing.wakeup_at.reset();
            schedule_wakeup(self, self->state.routing);
        },
        [self](merge_atom, MergeIn& in) { return merge_alias(self, in); },
        [self](passivate_atom) {
            // After every request of this actor (one sender's messages keep their order).
            self->send(self->state.routing.context->coordinator, passivate_atom::value,
                       self->state.id);
            // A refused barrier (the store refuses commits) ends it all the same: what it
            // committed is in the store, what it did not is not acknowledged.
            self->request(self->state.routing.context->store_writer, caf::infinite,
                          commit_atom::value, store_barrier(self->state.id), EventOutcome::accepted)
                .then([self](EventOutcome) { self->quit(); },
                      [self](caf::error&) { self->quit(); });
        },
        [self](restore_atom) { restore(self, self->state.routing); },
        // The goal windows open in the same commit that erases the notice: a crash leaves
        // either both or neither, and a notice sent again finds the windows open.
        [self](notice_atom, const GoalNotice& notice) {
            CustomerRouting& r = self->state.routing;
            follow_config_change(self, r);
            const bool opened =
                r.live->engine->open_goal_windows(self->state, notice, scratch_effects());
            StoreRecord record = record_of(self->state, r, {});
            record.writes.push_back({Table::notices, notice.decision_id, std::nullopt});
            self->send(r.context->store_writer, commit_atom::value, std::move(record),
                       EventOutcome::accepted);
            if (opened) schedule_wakeup(self, r);
        },
    };
}

}  // namespace journeyd
