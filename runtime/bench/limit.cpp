// `limit`: what one core can do with the daemon's own rules and codec, as the ceiling the
// daemon's actors, sockets and disk can only lower.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "config/config.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/workload.hpp"
#include "state/codec/event_codec.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/journey/program_requests.hpp"
#include "state/pressure/pressure_ledger.hpp"

namespace journeyd::bench {
namespace {

TimeMs wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct Tally {
    uint64_t events = 0;
    uint64_t duplicates = 0;
    uint64_t rejected = 0;
    uint64_t send = 0, defer = 0, suppress = 0;

    void count(const std::vector<Decision>& decisions) {
        for (const Decision& d : decisions)
            ++(d.outcome == Outcome::send ? send : d.outcome == Outcome::defer ? defer : suppress);
    }
};

}  // namespace

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
    const Config& config = *loaded.config;
    const JourneyEngine engine(config.journey);
    PressureLedger ledger(config.pressure, config.journey);
    const JourneyModel& model = engine.model();

    // Encoding is the event sources' work, not the daemon's: done before the clock starts.
    MarketplaceMix mix(std::make_shared<const ZipfDistribution>(o.customers, o.zipf), o.seed,
                       "limit-", o.batch);
    std::vector<std::string> frames;
    uint64_t encoded = 0;
    for (Frame frame; encoded < o.n && mix.next(frame); encoded += frame.events)
        frames.push_back(std::move(frame.body));

    std::unordered_map<std::string, CustomerState> customers;
    Effects effects;
    std::vector<Decision> decisions;
    Tally tally;
    const auto started = std::chrono::steady_clock::now();
    for (const std::string& body : frames) {
        const TimeMs now = wall_clock_ms();
        DecodedRequest request = decode_request_body(body, now);
        if (!request.frame_error.empty()) throw std::runtime_error(request.frame_error);
        tally.rejected += request.errors.size();
        for (const Event& event : request.events) {
            ++tally.events;
            auto [entry, created] = customers.try_emplace(event.customer);
            CustomerState& customer = entry->second;
            if (created) customer.id = event.customer;
            engine.apply(customer, event, now, effects);
            if (!effects.changed_state()) {
                ++tally.duplicates;
                continue;
            }
            if (event.type == kProfileEventType)
                ledger.set_preferences(customer.id, preferences_of(customer.profile));
            for (ContactRequest& r : contact_requests(customer, model, effects))
                ledger.submit(std::move(r), now, decisions);
        }
        ledger.advance(now, decisions);
        tally.count(decisions);
        decisions.clear();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    const std::string c = "one thread";
    const double events = static_cast<double>(tally.events);
    report.set(c, "events", "events applied", events);
    report.set(c, "seconds", "seconds", seconds, 3);
    report.set(c, "events_per_s", "events/s", seconds > 0 ? events / seconds : 0);
    report.set(c, "us_per_event", "us per event", events > 0 ? seconds * 1e6 / events : 0, 2);
    report.set(c, "customers", "customers", static_cast<double>(customers.size()));
    report.set(c, "duplicates", "duplicates", static_cast<double>(tally.duplicates));
    report.set(c, "rejected", "events rejected", static_cast<double>(tally.rejected));
    report.set(c, "decisions_send", "decisions: send", static_cast<double>(tally.send));
    report.set(c, "decisions_defer", "decisions: defer", static_cast<double>(tally.defer));
    report.set(c, "decisions_suppress", "decisions: suppress", static_cast<double>(tally.suppress));
    report.set(c, "held_at_end", "requests held at the end", static_cast<double>(ledger.held()));
    report.note(
        "decode + JourneyEngine + PressureLedger on one thread; no actors, sockets, "
        "store records or disk, so journeyd can only be slower");
    report.require_positive(c, "events_per_s");
    report.require_zero(c, "rejected");
    return report;
}

}  // namespace journeyd::bench
