// `limit`: what one core can do with the daemon's own rules and codec, as the ceiling the
// daemon's actors, sockets and disk can only lower.
#include "config/config.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/one_thread.hpp"

namespace journeyd::bench {

Report run_limit(const BenchOptions& o) {
    Report report("limit");
    report.setting("events", o.n);
    report.setting("batch", o.batch);
    report.setting("customers", o.customers);
    report.setting("zipf_s", o.zipf);
    report.setting("arbitration_window", o.arbitration_window);
    report.setting("segments", o.segments);

    ConfigResult loaded = load_config_text(
        marketplace_config(o.arbitration_window, {}, 0, o.segments), "marketplace");
    const OneThreadRun run = run_one_thread(*loaded.config, encoded_frames(o, "limit-"));

    const std::string c = "one thread";
    const double events = static_cast<double>(run.events);
    const double seconds = run.seconds;
    report.set(c, "events", "events applied", events);
    report.set(c, "seconds", "seconds", seconds, 3);
    report.set(c, "events_per_s", "events/s", seconds > 0 ? events / seconds : 0);
    report.set(c, "us_per_event", "us per event", events > 0 ? seconds * 1e6 / events : 0, 2);
    report.set(c, "customers", "customers", static_cast<double>(run.customers.size()));
    report.set(c, "duplicates", "duplicates", static_cast<double>(run.duplicates));
    report.set(c, "rejected", "events rejected", static_cast<double>(run.rejected));
    report.set(c, "decisions_send", "decisions: send", static_cast<double>(run.send));
    report.set(c, "decisions_defer", "decisions: defer", static_cast<double>(run.defer));
    report.set(c, "decisions_suppress", "decisions: suppress", static_cast<double>(run.suppress));
    report.set(c, "held_at_end", "requests held at the end", static_cast<double>(run.held_at_end));
    report.note(
        "decode + JourneyEngine + PressureLedger on one thread; no actors, sockets, "
        "store records or disk, so journeyd can only be slower");
    report.require_positive(c, "events_per_s");
    report.require_zero(c, "rejected");
    return report;
}

}  // namespace journeyd::bench
