// `restart`: how long journeyd takes from exec to serving, first on an empty store, then
// after a SIGTERM on a store of N customers that each hold a pending timer.
//
// "Serving" is both: GET /health answers 200, and a first event frame (for a stored
// customer, so it is activated from its record) is acknowledged, i.e. committed.
//
// Populating uses --idle-after: by default customers stay live, as in the figures taken
// before the option existed, but a live customer costs ~2 KB, so a store of 10M needs
// customers passivated while it fills. The restart on the populated store always keeps
// customers live (kIdleAfter), so that with --live the customers activated after it are
// all still live when memory is sampled.
#include <sys/stat.h>

#include <filesystem>

#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/wait.hpp"
#include "runtime/bench/workload.hpp"
#include "runtime/client/ingest_client.hpp"

namespace journeyd::bench {
namespace {

// Far beyond the benchmark: the timers stay pending throughout.
constexpr DurationMs kTimerAfter = 86'400'000;
constexpr DurationMs kIdleAfter = 600'000;

std::string wait_stage(size_t) {
    return wait_event_type(0);
}

// What the files under `dir` occupy on disk (allocated blocks, as du counts them): LMDB's
// file may be sparse, so its length would overstate the store. The running daemon may
// release a log segment during the walk: a file gone by then counts as nothing.
double disk_bytes(const std::string& dir) {
    double bytes = 0;
    std::error_code error;
    for (std::filesystem::recursive_directory_iterator it(dir, error), end; !error && it != end;
         it.increment(error)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
            bytes += static_cast<double>(st.st_blocks) * 512;
    }
    if (error) throw std::runtime_error("reading " + dir + ": " + error.message());
    return bytes;
}

// Starts journeyd and reports, in `column`, the time from exec to /health and to the first
// acknowledged frame.
void start_and_time(Report& report, const std::string& column, DaemonChild& daemon,
                    const std::string& config, const std::string& event_id) {
    const double health_s = daemon.start(config);
    IngestClient client = IngestClient::connect(daemon.ingest(), std::chrono::seconds(60));
    client.send_frame(
        encode_event({{"id", event_id}, {"customer", customer_id(0)}, {"type", kTouchEventType}}));
    const nlohmann::json answer = client.read_response();
    const double serving_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - daemon.exec_time())
            .count();
    if (answer.value("accepted", 0) != 1)
        throw std::runtime_error("the first event after the start was not accepted: " +
                                 answer.dump());
    report.set(column, "exec_to_health_ms", "exec to /health 200 (ms)", health_s * 1000, 1);
    report.set(column, "exec_to_serving_ms", "exec to first ack (ms)", serving_s * 1000, 1);
    report.require_positive(column, "exec_to_serving_ms");
}

void report_store(Report& report, const std::string& column, const AdminClient& admin,
                  const DaemonChild& daemon) {
    const nlohmann::json store = admin.stats()["store"];
    const double customers = store["customers"].get<double>();
    const double bytes = store["bytes"].get<double>();
    const double on_disk = disk_bytes(daemon.data_dir());
    report.set(column, "customers_stored", "customers stored", customers);
    report.set(column, "pending_timers", "timers pending in the store",
               store["pending_timers"].get<double>());
    report.set(column, "store_mib", "store size, /stats store.bytes (MiB)", bytes / kMiB, 1);
    report.set(column, "store_bytes_per_customer", "store bytes per stored customer",
               customers > 0 ? std::optional<double>(bytes / customers) : std::nullopt);
    report.set(column, "data_dir_mib", "data directory on disk (MiB)", on_disk / kMiB, 1);
    report.set(column, "data_dir_bytes_per_customer", "data directory bytes per stored customer",
               customers > 0 ? std::optional<double>(on_disk / customers) : std::nullopt);
    report.require_positive(column, "data_dir_mib");
}

}  // namespace

Report run_restart(const BenchOptions& o) {
    const auto populate_idle_after = parse_duration(o.restart_idle_after);
    if (!populate_idle_after || *populate_idle_after <= 0)
        throw std::runtime_error("--idle-after \"" + o.restart_idle_after +
                                 "\" is not a duration > 0");
    if (o.live > o.n)
        throw std::runtime_error("--live " + std::to_string(o.live) + " exceeds --n " +
                                 std::to_string(o.n) + ": only stored customers are activated");
    Report report("restart");
    report.setting("customers", o.n);
    report.setting("idle_after (populating)", o.restart_idle_after);
    report.setting("live after the restart", o.live);
    report.setting("connections", o.connections);
    report.setting("batch", o.batch);
    report.setting("journey", "timer journey: each customer waits on one timer due in a day");

    const std::string populate_config = timer_journey_config({kTimerAfter}, *populate_idle_after);
    const std::string config = timer_journey_config({kTimerAfter}, kIdleAfter);
    const std::string prefix = unique_run_prefix();
    DaemonChild daemon(o.journeyd, o.data_dir, o.keep);

    const std::string empty = "empty store";
    start_and_time(report, empty, daemon, populate_config, prefix + "first");
    const LoadResult load = activate_population(o, daemon.ingest(), o.n, wait_stage, prefix);
    const AdminClient populated(daemon.admin());
    poll_until([&] { return populated.metric("journeyd_store_pending_timers") >= o.n; },
               deadline_for(o.n), "every customer's timer in the store");

    const std::string stored = std::to_string(o.n) + " stored";
    report.set(stored, "populate_s", "time to populate (s)", load.seconds, 2);
    report.set(stored, "populated_per_s", "customers stored/s (populating)",
               load.acknowledged_per_second());
    report.set(stored, "stop_s", "SIGTERM to exit before the restart (s)", daemon.stop(), 2);
    start_and_time(report, stored, daemon, config, prefix + "again");
    const AdminClient admin(daemon.admin());
    report_store(report, stored, admin, daemon);
    report.require_positive(stored, "customers_stored");
    report.require_positive(stored, "pending_timers");
    if (o.live > 0) {
        const ProcessSample before = settled_memory(daemon.pid());
        const LoadResult live =
            activate_population(o, daemon.ingest(), o.live, touch_event, prefix + "live-");
        poll_until([&] { return admin.metric("journeyd_customers_live") >= o.live; },
                   deadline_for(o.live), "the activated customers to be live");
        const ProcessSample after = settled_memory(daemon.pid());
        report.set(stored, "activated_per_s", "stored customers activated/s (--live)",
                   live.acknowledged_per_second());
        report.set(stored, "customers_live", "customers live",
                   admin.metric("journeyd_customers_live"));
        report_memory(report, stored, before, after, o.live, "customer");
    }
    daemon.stop();
    report.note(
        "exec to first ack: until GET /health answered 200 and then one event frame "
        "for a stored customer was acknowledged; /health is polled every 2 ms");
    report.note(
        "store size: taken right after the restart, whose start-up checkpointed the "
        "write-ahead log's tail; the data directory is LMDB's files plus wal/, in allocated "
        "blocks");
    if (o.live > 0)
        report.note(
            "RSS: before is the restarted daemon once it served its first event, after is "
            "once --live stored customers got one event each and are live; growth per live "
            "customer divides by --live");
    return report;
}

}  // namespace journeyd::bench
