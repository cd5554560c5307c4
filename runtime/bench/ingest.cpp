// `ingest`: a real journeyd driven over loopback at its peak, then at half of it.
#include <memory>
#include <optional>
#include <stdexcept>

#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/process_stats.hpp"
#include "runtime/bench/wait.hpp"
#include "runtime/bench/workload.hpp"

namespace journeyd::bench {
namespace {

struct Target {
    std::string ingest;
    std::optional<AdminClient> admin;
    std::optional<pid_t> pid;  // CPU and memory are reported only when known
};

// Waits until journeyd decided every contact request made so far: no new first decision for a
// second. A run's acknowledgements come before the coordinator catches up with the requests
// they made, and a backlog from the peak run would count as the next run's latency.
void wait_for_decisions(const Target& target) {
    double last = -1;
    auto steady_since = std::chrono::steady_clock::now();
    poll_until(
        [&] {
            const double decided = target.admin->metric(std::string(kEventToDecision) + "_count");
            const auto now = std::chrono::steady_clock::now();
            if (decided != last) {
                last = decided;
                steady_since = now;
            }
            return now - steady_since >= std::chrono::seconds(1);
        },
        std::chrono::minutes(2), "the coordinator to decide the requests made so far");
}

// One timed run in `column`; returns the acknowledged events per second.
double measure(Report& report, const std::string& column, const BenchOptions& o,
               const Target& target, std::shared_ptr<const ZipfDistribution> customers,
               double events_per_second, const std::string& id_prefix, uint64_t seed) {
    const MetricsScrape scrape_before = target.admin->metrics();
    std::optional<ProcessSample> process_before;
    if (target.pid) process_before = sample_process(*target.pid);

    LoadPlan plan;
    plan.ingests = {target.ingest};
    plan.connections = o.connections;
    plan.pipeline = o.pipeline;
    plan.events_per_second = events_per_second;
    // With --events the sources end the run: connection c sends its even share of them.
    if (o.events == 0)
        plan.duration = std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));
    const LoadResult load = run_load(plan, [&](size_t c) {
        // A share of 0 (fewer events than connections) is an empty source, not an endless one.
        std::optional<uint64_t> share;
        if (o.events > 0) share = o.events / o.connections + (c < o.events % o.connections ? 1 : 0);
        return std::make_unique<MarketplaceMix>(customers, seed + c,
                                                id_prefix + "c" + std::to_string(c) + "-", o.batch,
                                                nullptr, share);
    });

    std::optional<ProcessSample> process_after;
    if (target.pid) process_after = sample_process(*target.pid);
    const MetricsScrape scrape_after = target.admin->metrics();

    const double rate = load.acknowledged_per_second();
    report.set(column, "target_events_per_s", "target events/s",
               events_per_second > 0 ? std::optional<double>(events_per_second) : std::nullopt);
    report_load(report, column, load);
    const Histogram decided = report_decisions(report, column, scrape_before, scrape_after);
    report_percentiles(report, column, "decision", "event->decision", decided);
    if (process_before && process_after) {
        report.set(column, "cpu_percent", "journeyd CPU (% of a core)",
                   cpu_percent(*process_before, *process_after), 0);
        // CPU per event depends less than events/s on what else runs on the cores: the
        // better figure to compare builds on a busy machine.
        const double acknowledged = static_cast<double>(load.acknowledged());
        report.set(column, "cpu_us_per_event", "journeyd CPU us per event",
                   acknowledged > 0 ? (process_after->cpu_seconds - process_before->cpu_seconds) *
                                          1e6 / acknowledged
                                    : std::optional<double>(),
                   1);
        report.require_positive(column, "cpu_us_per_event");
        report.set(column, "rss_mib", "journeyd RSS at end (MiB)", process_after->rss_bytes / kMiB,
                   1);
        report.set(column, "rss_anon_mib", "journeyd RssAnon at end (MiB)",
                   process_after->rss_anon_bytes / kMiB, 1);
        report.set(column, "peak_rss_mib", "journeyd peak RSS so far (MiB)",
                   process_after->peak_rss_bytes / kMiB, 1);
        report.require_positive(column, "rss_mib");
    }
    return rate;
}

}  // namespace

Report run_ingest(const BenchOptions& o) {
    Report report("ingest");
    if (o.events > 0)
        report.setting("events", o.events);
    else
        report.setting("seconds", o.seconds);
    marketplace_settings(report, o);

    std::optional<DaemonChild> child;
    Target target;
    if (o.connect.empty()) {
        child.emplace(o.journeyd, o.data_dir, o.keep);
        child->start(marketplace_config(o.arbitration_window, {}, 0, o.segments));
        target.ingest = child->ingest();
        target.admin.emplace(child->admin());
        target.pid = child->pid();
        report.setting("journeyd", o.journeyd);
        report.setting("store", "durable, sync = true, in " + child->data_dir());
        report.setting("segments", o.segments);
    } else {
        if (o.admin.empty()) throw std::runtime_error("--connect needs --admin HOST:PORT as well");
        target.ingest = o.connect;
        target.admin.emplace(o.admin);
        if (o.pid > 0) target.pid = o.pid;
        report.setting("journeyd", "running at " + o.connect + " (its own configuration)");
    }

    const auto customers = std::make_shared<const ZipfDistribution>(o.customers, o.zipf);
    const std::string prefix = unique_run_prefix();
    const double peak = measure(report, "peak", o, target, customers, 0, prefix + "peak-", o.seed);
    if (!o.no_half) {
        wait_for_decisions(target);
        const double half = measure(report, "half", o, target, customers, peak / 2,
                                    prefix + "half-", o.seed + 1000);
        if (half < 0.95 * peak / 2)
            report.note("half: journeyd acknowledged less than the paced target");
    }
    if (child) child->stop();

    report.note("ack latency: per frame of " + std::to_string(o.batch) +
                " events, from writing it to reading its answer, which journeyd sends once the "
                "frame's events are committed (fsync'd)");
    report.note("event->decision: journeyd's " + std::string(kEventToDecision) +
                " over the run, interpolated in its buckets: from a program's request to its "
                "first decision (send, defer or suppress); it includes the arbitration window "
                "(here " +
                o.arbitration_window +
                "), which holds requests on purpose, but not the time a deferred request waits "
                "for its quiet hours or rate slot");
    report.note(
        "journeyd CPU us per event: the daemon's CPU time (user + system, all threads) "
        "over the run divided by the events acknowledged");
    if (!target.pid) report.note("CPU and memory not reported: pass --pid with --connect");
    return report;
}

}  // namespace journeyd::bench
