// `identify`: what merging ids costs (docs/protocol.md "Identify"). N known customers and N
// anonymous ones get one event each; then every anonymous id is merged into its known customer
// by an identify event, pipelined like any load: merges/s and journeyd's CPU per merge. Then
// each known customer gets one event sent under its own id, and one sent under its alias's:
// events/s and CPU per event of both, whose difference is what resolving an alias costs (the
// alias's shard reads the alias record, checks its history, and forwards to the canonical
// customer's shard). On the timer journey (no programs), so that only identity is measured.
#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/workload.hpp"

namespace journeyd::bench {
namespace {

// Sends `sources` like activate_range does and reports, in `column`, what it took: events (or
// merges) acknowledged a second and journeyd's CPU for each; too few for the CPU clock's 10 ms
// ticks show 0 (the smoke run's), so only the rate must be positive.
void measured(Report& report, const std::string& column, const BenchOptions& o,
              const DaemonChild& daemon, uint64_t n, const FrameSources& sources) {
    LoadPlan plan;
    plan.ingests = {daemon.ingest()};
    plan.connections = o.connections;
    plan.pipeline = o.pipeline;
    const ProcessSample before = sample_process(daemon.pid());
    const LoadResult load = run_load(plan, sources);
    const ProcessSample after = sample_process(daemon.pid());
    if (load.accepted != n)
        throw std::runtime_error(column + ": " + std::to_string(load.accepted) + " of " +
                                 std::to_string(n) + " accepted, " +
                                 std::to_string(load.duplicates) + " duplicates, " +
                                 std::to_string(load.rejected) + " rejected");
    report.set(column, "per_s", "events (merges) acknowledged/s", load.acknowledged_per_second());
    report.set(column, "cpu_us", "journeyd CPU µs each",
               (after.cpu_seconds - before.cpu_seconds) * 1e6 / static_cast<double>(n), 1);
    report.require_positive(column, "per_s");
}

}  // namespace

Report run_identify(const BenchOptions& o) {
    Report report("identify");
    report.setting("pairs", o.n);
    report.setting("connections", o.connections);
    report.setting("pipeline", o.pipeline);
    report.setting("batch", o.batch);
    DaemonChild daemon(o.journeyd, o.data_dir, o.keep);
    const std::string prefix = unique_run_prefix();
    daemon.start(timer_journey_config({}, kNoPassivation));
    // Customers 0..n-1 are known, n..2n-1 anonymous: customer n + i merges into i.
    activate_population(o, daemon.ingest(), 2 * o.n, touch_event, prefix + "a-");
    const auto each = [&](const std::string& ids, uint64_t offset) -> FrameSources {
        return [&o, ids, offset](size_t c) {
            return std::make_unique<EachCustomerOnce>(c, o.connections, o.n, o.batch, touch_event,
                                                      ids, offset);
        };
    };
    measured(report, "known ids", o, daemon, o.n, each(prefix + "k1-", 0));
    measured(report, "merges", o, daemon, o.n, [&](size_t c) {
        return std::make_unique<EachCustomerOnce>(
            c, o.connections, o.n, o.batch, [](size_t) { return std::string("identify"); },
            prefix + "i-", o.n, true);
    });
    measured(report, "aliases", o, daemon, o.n, each(prefix + "a1-", o.n));
    measured(report, "known ids again", o, daemon, o.n, each(prefix + "k2-", 0));
    const nlohmann::json stats = AdminClient(daemon.admin()).stats();
    report.set("merges", "aliases", "aliases stored", stats["store"]["aliases"].get<double>());
    report.set("merges", "customers", "customers stored",
               stats["store"]["customers"].get<double>());
    report.note(
        "merges: identify events, each merging customer n+i (one event applied) into customer i "
        "(one event applied); known ids: one event to each known customer, live, before and "
        "after the merges; aliases: one event to each merged anonymous id, applied by its "
        "canonical customer. The difference in CPU per event between aliases and known ids is "
        "what resolving an alias costs.");
    daemon.stop();
    return report;
}

}  // namespace journeyd::bench
