#include "runtime/bench/population.hpp"

#include <unistd.h>

#include <memory>
#include <stdexcept>

#include "runtime/bench/config.hpp"
#include "runtime/bench/workload.hpp"

namespace journeyd::bench {

std::string unique_run_prefix() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return "b" + std::to_string(ms) + "." + std::to_string(::getpid()) + "-";
}

LoadResult activate_population(const BenchOptions& options, const std::string& ingest, uint64_t n,
                               const std::function<std::string(size_t)>& type_of,
                               const std::string& id_prefix) {
    return activate_range(options, ingest, 0, n, type_of, id_prefix);
}

LoadResult activate_range(const BenchOptions& options, const std::string& ingest, uint64_t first,
                          uint64_t end, const std::function<std::string(size_t)>& type_of,
                          const std::string& id_prefix) {
    LoadPlan plan;
    plan.ingests = {ingest};
    plan.connections = options.connections;
    plan.pipeline = options.pipeline;
    const LoadResult result = run_load(plan, [&](size_t c) {
        return std::make_unique<EachCustomerOnce>(first + c, options.connections, end,
                                                  options.batch, type_of, id_prefix);
    });
    const uint64_t n = end - first;
    if (result.accepted != n)
        throw std::runtime_error("activating " + std::to_string(n) +
                                 " customers: " + std::to_string(result.accepted) + " accepted, " +
                                 std::to_string(result.duplicates) + " duplicates, " +
                                 std::to_string(result.rejected) + " rejected");
    return result;
}

std::string touch_event(size_t) {
    return kTouchEventType;
}

std::chrono::milliseconds deadline_for(uint64_t n) {
    return std::chrono::seconds(60) + std::chrono::milliseconds(n / 5);  // 5,000 a second
}

void marketplace_settings(Report& report, const BenchOptions& o) {
    report.setting("connections", o.connections);
    report.setting("pipeline", o.pipeline);
    report.setting("batch", o.batch);
    report.setting("customers", o.customers);
    report.setting("zipf_s", o.zipf);
    report.setting("arbitration_window", o.arbitration_window);
}

void report_load(Report& report, const std::string& column, const LoadResult& load) {
    report.set(column, "events_per_s", "events/s acknowledged", load.acknowledged_per_second());
    report.set(column, "events", "events acknowledged", static_cast<double>(load.acknowledged()));
    report.set(column, "rejected", "events rejected", static_cast<double>(load.rejected));
    report.set(column, "frames", "frames", static_cast<double>(load.frames));
    report.set(column, "ack_p50_ms", "ack latency p50 (ms)", load.latency_percentile(0.50), 2);
    report.set(column, "ack_p99_ms", "ack latency p99 (ms)", load.latency_percentile(0.99), 2);
    report.set(column, "ack_p999_ms", "ack latency p999 (ms)", load.latency_percentile(0.999), 2);
    report.require_positive(column, "events_per_s");
    report.require_zero(column, "rejected");
    report.require_ordered(column, {"ack_p50_ms", "ack_p99_ms", "ack_p999_ms"});
}

Histogram report_decisions(Report& report, const std::string& column, const MetricsScrape& before,
                           const MetricsScrape& after) {
    const Histogram decided =
        after.histogram(kEventToDecision).since(before.histogram(kEventToDecision));
    report.set(column, "decisions", "requests decided (first decision)", decided.count);
    for (const std::string outcome : {"send", "defer", "suppress"}) {
        const std::string series = "journeyd_decisions_total{outcome=\"" + outcome + "\"}";
        report.set(column, "decisions_" + outcome, "  " + outcome,
                   after.value(series).value_or(0) - before.value(series).value_or(0));
    }
    return decided;
}

void report_memory(Report& report, const std::string& column, const ProcessSample& before,
                   const ProcessSample& after, uint64_t n, const std::string& unit) {
    const auto per = [&](uint64_t from, uint64_t to) {
        return n > 0 ? (static_cast<double>(to) - static_cast<double>(from)) / n : 0.0;
    };
    report.set(column, "rss_before_mib", "RSS before (MiB)", before.rss_bytes / kMiB, 1);
    report.set(column, "rss_after_mib", "RSS after (MiB)", after.rss_bytes / kMiB, 1);
    report.set(column, "rss_anon_before_mib", "RssAnon before (MiB)", before.rss_anon_bytes / kMiB,
               1);
    report.set(column, "rss_anon_after_mib", "RssAnon after (MiB)", after.rss_anon_bytes / kMiB, 1);
    report.set(column, "rss_per_" + unit + "_bytes", "RSS growth per " + unit + " (B)",
               per(before.rss_bytes, after.rss_bytes));
    report.set(column, "rss_anon_per_" + unit + "_bytes", "RssAnon growth per " + unit + " (B)",
               per(before.rss_anon_bytes, after.rss_anon_bytes));
    report.require_positive(column, "rss_after_mib");
    report.require_positive(column, "rss_anon_after_mib");
}

ProcessSample settled_memory(pid_t pid) {
    return sample_when_settled(pid, std::chrono::seconds(10));
}

}  // namespace journeyd::bench
