// `actors`: what a customer costs in journeyd's memory while its actor is live, and what is
// left of it once the actor is passivated.
//
// Run 1 never passivates (idle_after of a day): N customers get one event each, and the
// growth of RSS and RssAnon divided by N is the cost of a live customer (actor, state,
// shard registry entry). Run 2 restarts on the same store with a short idle_after: each
// customer gets a second event, is activated from its record, and passivates; once none is
// live, the growth divided by N is what a passivated customer still holds (allocator
// leftovers included). A second activate-and-passivate cycle, measured from the same
// starting point, shows whether that memory is reused or keeps growing.
//
// --journey timer (the default, so figures stay comparable): the timer journey without
// timers, one "touch" event per customer, no programs: the actor alone. --journey default:
// the embedded default journey (marketplace_memory_config), every event a
// "message_received": a customer's first creates it in "new" (program welcome, e-mail) and
// triggers program message_received (push), both sent at once, so the coordinator holds a
// contact history and decision log for every live customer. In the passivated runs the same
// event type again, whose push the cap of one a day suppresses: one more decision each. Each
// run waits until every request the events caused has had its first decision.
#include <functional>
#include <stdexcept>
#include <string>

#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/wait.hpp"
#include "state/duration.hpp"

namespace journeyd::bench {
namespace {

// What differs between the journeys `actors` runs; the runs themselves are the same.
struct ActorsJourney {
    std::string description;  // the "journey" setting
    std::string event_type;   // of every event sent
    std::function<std::string(DurationMs idle_after)> config;
    uint64_t first_event_requests = 0;  // contact requests a customer's first event causes
    uint64_t later_event_requests = 0;  // and each later one
};

ActorsJourney actors_journey(const std::string& name) {
    if (name == "timer")
        return {"timer journey without timers: one \"touch\" event per customer, no programs",
                kTouchEventType,
                [](DurationMs idle_after) { return timer_journey_config({}, idle_after); }, 0, 0};
    if (name == "default")
        return {
            "default journey (arbitration_window 0s, no rate budgets): one "
            "\"message_received\" event per customer (programs welcome, e-mail, and "
            "message_received, push); in each passivated run one more (its push suppressed "
            "by the cap)",
            "message_received", marketplace_memory_config, 2, 1};
    throw std::runtime_error("--journey \"" + name + "\" is neither timer nor default");
}

}  // namespace

Report run_actors(const BenchOptions& o) {
    const auto idle_after = parse_duration(o.idle_after);
    if (!idle_after || *idle_after <= 0)
        throw std::runtime_error("--idle-after \"" + o.idle_after + "\" is not a duration > 0");
    const ActorsJourney journey = actors_journey(o.journey);
    const auto type_of = [&](size_t) { return journey.event_type; };
    // Memory is sampled once the coordinator has decided what the events asked of it.
    const auto wait_for_decisions = [&](const AdminClient& admin, const MetricsScrape& before,
                                        uint64_t requests) {
        const double base = before.histogram(kEventToDecision).count;
        poll_until(
            [&] {
                return admin.metrics().histogram(kEventToDecision).count - base >=
                       static_cast<double>(requests);
            },
            deadline_for(o.n), "every contact request to be decided");
    };
    Report report("actors");
    report.setting("customers", o.n);
    report.setting("connections", o.connections);
    report.setting("batch", o.batch);
    report.setting("idle_after (passivated run)", o.idle_after);
    report.setting("journey", journey.description);

    DaemonChild daemon(o.journeyd, o.data_dir, o.keep);
    const std::string prefix = unique_run_prefix();

    daemon.start(journey.config(kNoPassivation));
    {
        const AdminClient admin(daemon.admin());
        const ProcessSample before = settled_memory(daemon.pid());
        const MetricsScrape scrape_before = admin.metrics();
        const LoadResult load =
            activate_population(o, daemon.ingest(), o.n, type_of, prefix + "live-");
        poll_until([&] { return admin.metric("journeyd_customers_live") == o.n; },
                   deadline_for(o.n), "every customer to be live");
        wait_for_decisions(admin, scrape_before, o.n * journey.first_event_requests);
        const ProcessSample after = settled_memory(daemon.pid());
        report.set("live", "activated_per_s", "activations/s", load.acknowledged_per_second());
        report.set("live", "customers_live", "customers live",
                   admin.metric("journeyd_customers_live"));
        report_memory(report, "live", before, after, o.n, "customer");
        report_decisions(report, "live", scrape_before, admin.metrics());
        if (journey.first_event_requests > 0) report.require_positive("live", "decisions");
        report.set("live", "stop_s", "SIGTERM to exit (s)", daemon.stop(), 2);
    }

    daemon.start(journey.config(*idle_after));
    {
        const AdminClient admin(daemon.admin());
        const ProcessSample before = settled_memory(daemon.pid());
        // A second cycle tells memory kept for reuse (no further growth) from a leak.
        for (const std::string cycle : {"passivated", "passivated twice"}) {
            const MetricsScrape scrape_before = admin.metrics();
            const double passivated_before =
                scrape_before.value("journeyd_customers_passivated_total").value_or(0);
            activate_population(o, daemon.ingest(), o.n, type_of, prefix + cycle + "-");
            wait_for_decisions(admin, scrape_before, o.n * journey.later_event_requests);
            poll_until(
                [&] {
                    const MetricsScrape m = admin.metrics();
                    return m.value("journeyd_customers_live") == 0.0 &&
                           m.value("journeyd_customers_passivated_total").value_or(0) -
                                   passivated_before >=
                               static_cast<double>(o.n);
                },
                deadline_for(o.n), "every customer to be passivated");
            const ProcessSample after = settled_memory(daemon.pid());
            report.set(cycle, "customers_live", "customers live",
                       admin.metric("journeyd_customers_live"));
            report_memory(report, cycle, before, after, o.n, "customer");
            report_decisions(report, cycle, scrape_before, admin.metrics());
            const double store_bytes = admin.stats()["store"]["bytes"].get<double>();
            report.set(cycle, "store_bytes_per_customer", "store bytes per customer",
                       store_bytes / static_cast<double>(o.n));
        }
        report.set("passivated twice", "stop_s", "SIGTERM to exit (s)", daemon.stop(), 2);
    }
    report.note(
        "live: growth from an idle daemon to N live customers, each with one event "
        "applied; passivated: growth from a restarted idle daemon to the same N "
        "customers activated from the store again and passivated; passivated twice: "
        "once more, from the same starting point");
    return report;
}

}  // namespace journeyd::bench
