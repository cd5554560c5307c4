// `soak`: whether journeyd's memory stays flat while customers stream through it. N distinct
// customers (10M by default) of the embedded default journey each get one
// "message_received" event, as in `actors --journey default` (programs welcome and
// message_received, both sent), with passivation on (--idle-after, 1s): at any moment only
// the last seconds' customers are live, and the coordinator forgets a customer once it
// passivated and its decisions are committed. At 10%, 20%, 50% and 100% of N (1M, 2M, 5M,
// 10M) it waits until every request so far is decided and every send delivered, and samples
// RSS, RssAnon, the customers live and the customers the coordinator holds. Memory that grows
// with the customers met, not with those live, shows as RssAnon rising from one column to the
// next; RSS also counts the store's pages mapped by LMDB, which grow with the store.
#include <string>
#include <vector>

#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/wait.hpp"
#include "state/duration.hpp"

namespace journeyd::bench {
namespace {

constexpr const char* kEventType = "message_received";
constexpr uint64_t kRequestsPerCustomer = 2;  // welcome and message_received

std::string millions(uint64_t n) {
    if (n % 1'000'000 == 0) return std::to_string(n / 1'000'000) + "M";
    return std::to_string(n);
}

}  // namespace

Report run_soak(const BenchOptions& o) {
    const auto idle_after = parse_duration(o.idle_after);
    if (!idle_after || *idle_after <= 0)
        throw std::runtime_error("--idle-after \"" + o.idle_after + "\" is not a duration > 0");
    Report report("soak");
    report.setting("customers", o.n);
    report.setting("connections", o.connections);
    report.setting("batch", o.batch);
    report.setting("idle_after", o.idle_after);
    report.setting("journey",
                   "default journey (arbitration_window 0s, no rate budgets): one "
                   "\"message_received\" event per customer, each sent a welcome e-mail and a "
                   "push");

    DaemonChild daemon(o.journeyd, o.data_dir, o.keep);
    daemon.start(marketplace_memory_config(*idle_after));
    const AdminClient admin(daemon.admin());
    const std::string prefix = unique_run_prefix();
    const ProcessSample start = settled_memory(daemon.pid());
    const double decided_at_start = admin.metrics().histogram(kEventToDecision).count;
    report.set("start", "rss_mib", "RSS (MiB)", static_cast<double>(start.rss_bytes) / kMiB, 1);
    report.set("start", "rss_anon_mib", "RssAnon (MiB)",
               static_cast<double>(start.rss_anon_bytes) / kMiB, 1);

    uint64_t sent = 0;
    for (const uint64_t percent : {10, 20, 50, 100}) {
        const uint64_t until = o.n * percent / 100;
        if (until <= sent) continue;
        const LoadResult load = activate_range(
            o, daemon.ingest(), sent, until, [](size_t) { return std::string(kEventType); },
            prefix);
        sent = until;
        poll_until(
            [&] {
                return admin.metrics().histogram(kEventToDecision).count - decided_at_start >=
                       static_cast<double>(sent * kRequestsPerCustomer);
            },
            deadline_for(sent), "every contact request so far to be decided");
        // Sends still queued for the sink are work in flight, not memory kept.
        poll_until(
            [&] {
                const nlohmann::json stats = admin.stats();
                return stats["outbox"] == 0 && stats["store"]["outbox"] == 0;
            },
            deadline_for(sent), "every send so far to be delivered");
        const ProcessSample now = settled_memory(daemon.pid());
        const nlohmann::json stats = admin.stats();
        const std::string column = millions(sent);
        report.set(column, "activated_per_s", "activations/s", load.acknowledged_per_second());
        report.set(column, "rss_mib", "RSS (MiB)", static_cast<double>(now.rss_bytes) / kMiB, 1);
        report.set(column, "rss_anon_mib", "RssAnon (MiB)",
                   static_cast<double>(now.rss_anon_bytes) / kMiB, 1);
        report.set(
            column, "rss_anon_per_customer", "RssAnon growth per customer met (B)",
            (static_cast<double>(now.rss_anon_bytes) - static_cast<double>(start.rss_anon_bytes)) /
                static_cast<double>(sent));
        report.set(column, "customers_live", "customers live",
                   stats["customers_live"].get<double>());
        report.set(column, "coordinator_customers", "customers the coordinator holds",
                   stats["coordinator_customers"].get<double>());
        report.set(column, "store_mib", "store (MiB)", stats["store"]["bytes"].get<double>() / kMiB,
                   1);
        report.require_positive(column, "rss_mib");
    }
    report.set(millions(sent), "stop_s", "SIGTERM to exit (s)", daemon.stop(), 2);
    report.note(
        "each column: after that many distinct customers, once every request so far is "
        "decided and every send delivered; memory that plateaus stays flat from one column to "
        "the next while the growth per customer met falls. RSS includes the store's pages "
        "that LMDB maps (file-backed, reclaimable), RssAnon does not");
    return report;
}

}  // namespace journeyd::bench
