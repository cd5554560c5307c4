#include "runtime/bench/one_thread.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>

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

void count(const std::vector<Decision>& decisions, OneThreadRun& run) {
    for (const Decision& d : decisions)
        ++(d.outcome == Outcome::send    ? run.send
           : d.outcome == Outcome::defer ? run.defer
                                         : run.suppress);
}

}  // namespace

std::vector<std::string> encoded_frames(const BenchOptions& o, const std::string& id_prefix) {
    MarketplaceMix mix(std::make_shared<const ZipfDistribution>(o.customers, o.zipf), o.seed,
                       id_prefix, o.batch);
    std::vector<std::string> frames;
    uint64_t encoded = 0;
    for (Frame frame; encoded < o.n && mix.next(frame); encoded += frame.events)
        frames.push_back(std::move(frame.body));
    return frames;
}

OneThreadRun run_one_thread(const Config& config, const std::vector<std::string>& frames,
                            const ActionTotals* totals) {
    const JourneyEngine engine(config.journey);
    PressureLedger ledger(config.pressure, config.journey);
    const JourneyModel& model = engine.model();
    OneThreadRun run;
    Effects effects;
    std::vector<Decision> decisions;
    const auto started = std::chrono::steady_clock::now();
    for (const std::string& body : frames) {
        const TimeMs now = wall_clock_ms();
        DecodedRequest request = decode_request_body(body, now);
        if (!request.frame_error.empty()) throw std::runtime_error(request.frame_error);
        run.rejected += request.errors.size();
        for (const Event& event : request.events) {
            ++run.events;
            auto [entry, created] = run.customers.try_emplace(event.customer);
            CustomerState& customer = entry->second;
            if (created) customer.id = event.customer;
            engine.apply(customer, event, now, effects);
            if (!effects.changed_state()) {
                ++run.duplicates;
                continue;
            }
            if (event.type == kProfileEventType)
                ledger.set_preferences(customer.id, preferences_of(customer.profile));
            for (ContactRequest& r : contact_requests(customer, model, effects, totals))
                ledger.submit(std::move(r), now, decisions);
        }
        ledger.advance(now, decisions);
        count(decisions, run);
        decisions.clear();
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.held_at_end = ledger.held();
    return run;
}

}  // namespace journeyd::bench
