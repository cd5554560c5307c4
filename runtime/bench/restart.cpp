// `restart`: how long journeyd takes from exec to serving, first on an empty store, then
// after a SIGTERM on a store of N customers that each hold a pending timer.
//
// "Serving" is both: GET /health answers 200, and a first event frame (for a stored
// customer, so it is activated from its record) is acknowledged, i.e. committed.
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

void report_store(Report& report, const std::string& column, const AdminClient& admin) {
    const nlohmann::json store = admin.stats()["store"];
    report.set(column, "customers_stored", "customers stored", store["customers"].get<double>());
    report.set(column, "pending_timers", "timers pending in the store",
               store["pending_timers"].get<double>());
    report.set(column, "store_mib", "store size (MiB)", store["bytes"].get<double>() / kMiB, 1);
}

}  // namespace

Report run_restart(const BenchOptions& o) {
    Report report("restart");
    report.setting("customers", o.n);
    report.setting("connections", o.connections);
    report.setting("batch", o.batch);
    report.setting("journey", "timer journey: each customer waits on one timer due in a day");

    const std::string config = timer_journey_config({kTimerAfter}, kIdleAfter);
    const std::string prefix = unique_run_prefix();
    DaemonChild daemon(o.journeyd, o.data_dir, o.keep);

    const std::string empty = "empty store";
    start_and_time(report, empty, daemon, config, prefix + "first");
    const LoadResult load = activate_population(o, daemon.ingest(), o.n, wait_stage, prefix);
    const AdminClient populated(daemon.admin());
    poll_until([&] { return populated.metric("journeyd_store_pending_timers") >= o.n; },
               deadline_for(o.n), "every customer's timer in the store");

    const std::string stored = std::to_string(o.n) + " stored";
    report.set(stored, "populated_per_s", "customers stored/s (populating)",
               load.acknowledged_per_second());
    report.set(stored, "stop_s", "SIGTERM to exit before the restart (s)", daemon.stop(), 2);
    start_and_time(report, stored, daemon, config, prefix + "again");
    report_store(report, stored, AdminClient(daemon.admin()));
    report.require_positive(stored, "customers_stored");
    report.require_positive(stored, "pending_timers");
    daemon.stop();
    report.note(
        "exec to first ack: until GET /health answered 200 and then one event frame "
        "for a stored customer was acknowledged; /health is polled every 2 ms");
    return report;
}

}  // namespace journeyd::bench
