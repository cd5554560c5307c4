// `timers`: memory per pending timer and how late timers fire, for customers that stay live
// and for customers passivated so that only the store's timer index holds their timers.
//
// The timer journey (bench_config.hpp) gives each customer exactly one timer; its wait
// event picks one of kTimerStages stages whose `after` values spread from --after to
// --after + --spread, and activations themselves are spread over the time they take, so
// due times are spread too. Each run is a journeyd of its own on a store of its own:
//   live        idle_after of a day: the timers wait in live actors' wake-ups;
//   passivated  short idle_after: customers passivate before their timers are due, and
//               the timer sweeper brings them back when they are.
// Memory is measured once all N timers are pending, before the first is due (--after
// should exceed the activation time; a note says when it did not); lateness is journeyd's
// journeyd_timer_lateness_seconds once all N have fired.

#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/wait.hpp"
#include "state/duration.hpp"

namespace journeyd::bench {
namespace {

constexpr size_t kTimerStages = 8;
constexpr const char* kLateness = "journeyd_timer_lateness_seconds";
constexpr const char* kPendingTimers = "journeyd_store_pending_timers";

DurationMs duration_flag(const std::string& flag, const std::string& text) {
    const auto ms = parse_duration(text);
    if (!ms || *ms <= 0)
        throw std::runtime_error(flag + " \"" + text + "\" is not a duration > 0 like \"30s\"");
    return *ms;
}

// Neighbouring customers land in unrelated stages (the top bits of a multiplicative hash).
std::string wait_type_of(size_t customer) {
    const uint64_t mixed = static_cast<uint64_t>(customer) * 0x9E3779B97F4A7C15ull;
    return wait_event_type(static_cast<size_t>(mixed >> 32) % kTimerStages);
}

void measure_run(Report& report, const std::string& column, const BenchOptions& o,
                 const std::vector<DurationMs>& afters, DurationMs idle_after,
                 const std::string& id_prefix) {
    const std::string data_dir = o.data_dir.empty() ? "" : o.data_dir + "/" + column;
    DaemonChild daemon(o.journeyd, data_dir, o.keep);
    daemon.start(timer_journey_config(afters, idle_after));
    const AdminClient admin(daemon.admin());
    const bool passivating = idle_after < kNoPassivation;

    const ProcessSample before = settled_memory(daemon.pid());
    const Histogram lateness_before = admin.metrics().histogram(kLateness);
    const double store_before = admin.stats()["store"]["bytes"].get<double>();
    const LoadResult load = activate_population(o, daemon.ingest(), o.n, wait_type_of, id_prefix);
    if (passivating)
        poll_until([&] { return admin.metric("journeyd_customers_live") == 0; }, deadline_for(o.n),
                   "every customer to be passivated");
    const ProcessSample after = settled_memory(daemon.pid());
    const MetricsScrape pending = admin.metrics();
    const double fired_early = pending.histogram(kLateness).since(lateness_before).count;
    report.set(column, "activated_per_s", "activations/s", load.acknowledged_per_second());
    report.set(column, "timers_pending", "timers pending at the sample",
               pending.value(kPendingTimers));
    report_memory(report, column, before, after, o.n, "timer");
    report.set(column, "store_bytes_per_timer", "store growth per timer (B)",
               (admin.stats()["store"]["bytes"].get<double>() - store_before) / o.n);
    if (fired_early > 0)
        report.note(column + ": " + std::to_string(static_cast<uint64_t>(fired_early)) +
                    " timers fired before memory was sampled: raise --after above the "
                    "activation time for a clean figure");

    const DurationMs latest = afters.back();
    poll_until(
        [&] {
            const MetricsScrape m = admin.metrics();
            return m.value(kPendingTimers) == 0.0 &&
                   m.histogram(kLateness).since(lateness_before).count >= static_cast<double>(o.n);
        },
        std::chrono::milliseconds(latest) + deadline_for(o.n), "every timer to fire");
    const Histogram lateness = admin.metrics().histogram(kLateness).since(lateness_before);
    report.set(column, "timers_fired", "timers fired (wake-ups)", lateness.count);
    report_percentiles(report, column, "lateness", "lateness", lateness);
    report.require_positive(column, "timers_fired");
    daemon.stop();
}

}  // namespace

Report run_timers(const BenchOptions& o) {
    const DurationMs idle_after = duration_flag("--idle-after", o.idle_after);
    const DurationMs spread = duration_flag("--spread", o.timer_spread);
    // Unless told: 10 s plus 0.1 ms a timer, since activation runs well above 10,000 a second,
    // so activating n customers normally ends before any timer is due.
    const DurationMs after = o.timer_after.empty() ? 10'000 + static_cast<DurationMs>(o.n / 10)
                                                   : duration_flag("--after", o.timer_after);
    if (idle_after >= after)
        throw std::runtime_error(
            "--idle-after must be shorter than --after, or customers are "
            "not passivated before their timers are due");
    std::vector<DurationMs> afters;
    for (size_t k = 0; k < kTimerStages; ++k)
        afters.push_back(after + spread * static_cast<DurationMs>(k) / (kTimerStages - 1));

    Report report("timers");
    report.setting("timers", o.n);
    report.setting("after", std::to_string(after) + " ms to " + std::to_string(afters.back()) +
                                " ms after activation, over " + std::to_string(kTimerStages) +
                                " timer rules");
    report.setting("idle_after (passivated run)", o.idle_after);
    report.setting("connections", o.connections);
    report.setting("batch", o.batch);

    const std::string prefix = unique_run_prefix();
    measure_run(report, "live", o, afters, kNoPassivation, prefix + "live-");
    measure_run(report, "passivated", o, afters, idle_after, prefix + "passivated-");
    report.note(
        "memory per timer: growth from an idle daemon to N customers each holding one "
        "pending timer, divided by N; live includes each customer's actor, passivated "
        "only what remains once the actors are gone (the timer index is in the "
        "LMDB file, which is mapped, not anonymous memory)");
    report.note(
        "lateness: journeyd_timer_lateness_seconds, when a timer fired minus when it "
        "was due; passivated customers wait for the timer sweeper (every 500 ms, "
        "10,000 customers a slice, the next slice 50 ms after a full one)");
    return report;
}

}  // namespace journeyd::bench
