#include "actors/coordinator.hpp"

#include <spdlog/spdlog.h>
#include <deque>

#include "actors/messages.hpp"
#include "state/decision_log.hpp"

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
    std::vector<Decision> decided;  // scratch, reused
    std::optional<TimeMs> wakeup_at;
    bool outbox_retry_scheduled = false;
};

Delivery delivery_of(const Decision& d, const CoordinatorSetup& setup) {
    const Program& program = setup.model.programs[d.program];
    return {d.decision_id,
            d.customer,
            program.name,
            program.channel,
            program.template_name,
            setup.policy.hierarchy[program.priority],
            d.at};
}

// Offers the outbox in order; stops at the first refusal so order per customer holds.
void drain_outbox(caf::event_based_actor* self, CoordinatorState& s) {
    while (!s.outbox.empty() && s.setup.offer(s.outbox.front())) s.outbox.pop_front();
    s.stats.outbox = s.outbox.size();
    if (!s.outbox.empty() && !s.outbox_retry_scheduled) {
        s.outbox_retry_scheduled = true;
        self->delayed_send(self, s.setup.retry_every, flush_atom::value);
    }
}

void publish(caf::event_based_actor* self, CoordinatorState& s) {
    for (const Decision& d : s.decided) {
        s.log.record(d);
        switch (d.outcome) {
            case Outcome::send:
                ++s.stats.send;
                s.outbox.push_back(delivery_of(d, s.setup));
                break;
            case Outcome::defer:
                ++s.stats.defer;
                break;
            case Outcome::suppress:
                ++s.stats.suppress;
                break;
        }
        if (d.outcome != Outcome::defer)
            s.setup.metrics->event_to_decision.observe(d.at - d.requested_at);
        spdlog::debug("decision id={} customer={} program={} outcome={} reason={} detail={}",
                      d.decision_id, d.customer, s.setup.model.programs[d.program].name,
                      to_string(d.outcome), d.reason, d.detail);
    }
    s.decided.clear();
    drain_outbox(self, s);
}

void schedule_wakeup(caf::event_based_actor* self, CoordinatorState& s) {
    auto next = s.ledger.next_wakeup();
    if (!next || (s.wakeup_at && *s.wakeup_at <= *next)) return;
    s.wakeup_at = *next;
    const TimeMs wait = std::max<TimeMs>(0, *next - s.setup.now());
    self->delayed_send(self, std::chrono::milliseconds(wait), wakeup_atom::value, *next);
}

}  // namespace

caf::behavior coordinator(caf::event_based_actor* self, CoordinatorSetup setup) {
    auto s = std::make_shared<CoordinatorState>(std::move(setup));
    return {
        [self, s](contact_atom, ContactRequest& request) {
            s->ledger.submit(std::move(request), s->setup.now(), s->decided);
            publish(self, *s);
            schedule_wakeup(self, *s);
        },
        [s](preferences_atom, const std::string& customer, ContactPreferences& preferences) {
            s->ledger.set_preferences(customer, std::move(preferences));
        },
        [self, s](wakeup_atom, TimeMs scheduled_for) {
            if (s->wakeup_at == scheduled_for) s->wakeup_at.reset();
            s->ledger.advance(s->setup.now(), s->decided);
            publish(self, *s);
            schedule_wakeup(self, *s);
        },
        [self, s](flush_atom) {
            s->outbox_retry_scheduled = false;
            drain_outbox(self, *s);
        },
        [s](decisions_atom, const std::string& customer) { return s->log.newest_first(customer); },
        [s](contacts_atom, const std::string& customer) { return s->ledger.contacts(customer); },
        [s](stats_atom) { return s->stats; },
        [self, s](drain_atom) {
            s->ledger.close_arbitration(s->setup.now(), s->decided);
            publish(self, *s);
            if (!s->outbox.empty())
                spdlog::warn("coordinator stopping with undelivered sends count={}",
                             s->outbox.size());
            self->quit();
        },
    };
}

}  // namespace journeyd
