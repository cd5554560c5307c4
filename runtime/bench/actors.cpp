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
#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/wait.hpp"
#include "state/duration.hpp"

namespace journeyd::bench {

Report run_actors(const BenchOptions& o) {
    const auto idle_after = parse_duration(o.idle_after);
    if (!idle_after || *idle_after <= 0)
        throw std::runtime_error("--idle-after \"" + o.idle_after + "\" is not a duration > 0");
    Report report("actors");
    report.setting("customers", o.n);
    report.setting("connections", o.connections);
    report.setting("batch", o.batch);
    report.setting("idle_after (passivated run)", o.idle_after);
    report.setting("journey",
                   "timer journey without timers: one \"touch\" event per customer, "
                   "no programs");

    DaemonChild daemon(o.journeyd, o.data_dir, o.keep);
    const std::string prefix = unique_run_prefix();

    daemon.start(timer_journey_config({}, kNoPassivation));
    {
        const AdminClient admin(daemon.admin());
        const ProcessSample before = settled_memory(daemon.pid());
        const LoadResult load =
            activate_population(o, daemon.ingest(), o.n, touch_event, prefix + "live-");
        poll_until([&] { return admin.metric("journeyd_customers_live") == o.n; },
                   deadline_for(o.n), "every customer to be live");
        const ProcessSample after = settled_memory(daemon.pid());
        report.set("live", "activated_per_s", "activations/s", load.acknowledged_per_second());
        report.set("live", "customers_live", "customers live",
                   admin.metric("journeyd_customers_live"));
        report_memory(report, "live", before, after, o.n, "customer");
        report.set("live", "stop_s", "SIGTERM to exit (s)", daemon.stop(), 2);
    }

    daemon.start(timer_journey_config({}, *idle_after));
    {
        const AdminClient admin(daemon.admin());
        const ProcessSample before = settled_memory(daemon.pid());
        // A second cycle tells memory kept for reuse (no further growth) from a leak.
        for (const std::string cycle : {"passivated", "passivated twice"}) {
            const double passivated_before = admin.metric("journeyd_customers_passivated_total");
            activate_population(o, daemon.ingest(), o.n, touch_event, prefix + cycle + "-");
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
