// `decisioning`: what segments and next best actions cost, on one thread as `limit` measures:
// the same frames applied under the marketplace journey without segments or actions, with
// `segments` generated segments, and with those and `actions` generated actions chosen on every
// view; then next-best-action decisions alone (rank the eligible actions with Thompson draws,
// choose under pressure) for the customers the last run left.
#include <chrono>
#include <random>

#include "config/config.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/one_thread.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/journey/program_requests.hpp"
#include "state/pressure/pressure_ledger.hpp"

namespace journeyd::bench {
namespace {

Config loaded(const std::string& text) {
    ConfigResult result = load_config_text(text, "decisioning");
    return std::move(*result.config);
}

// Outcome counts as after some weeks of sends, so that the draws are not all from the prior.
void learned(ActionTotals& totals, uint64_t seed) {
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int64_t> successes(5, 120);
    for (size_t a = 0; a < totals.size(); ++a) {
        const auto id = static_cast<ActionId>(a);
        const int64_t won = successes(random);
        totals.add(id, ActionOutcome::sent, 1000);
        totals.add(id, ActionOutcome::success, won);
        totals.add(id, ActionOutcome::failure, 1000 - won);
    }
}

struct DecisionRun {
    uint64_t decisions = 0;
    uint64_t candidates = 0;  // summed over the decisions
    uint64_t sends = 0;
    double seconds = 0;
};

// Each customer's best program requested again and again, as if it opened the app each round,
// until `least` decisions are made.
DecisionRun decide_repeatedly(const Config& config, const OneThreadRun& population,
                              const ActionTotals& totals, uint64_t least) {
    const JourneyModel& model = config.journey;
    const ProgramId program = *model.program_id("nba_on_view");
    PressureLedger ledger(config.pressure, model);
    Effects effects;
    std::vector<Decision> decisions;
    DecisionRun run;
    const auto started = std::chrono::steady_clock::now();
    for (uint64_t round = 0; run.decisions < least; ++round) {
        const TimeMs now = 1'800'000'000'000 + static_cast<TimeMs>(round) * 3'600'000;
        for (const auto& [id, customer] : population.customers) {
            effects.requests.assign(1, {program, "bench:" + std::to_string(round), now});
            for (ContactRequest& r : contact_requests(customer, model, effects, &totals)) {
                run.candidates += r.candidates.size();
                ledger.submit(std::move(r), now, decisions);
            }
            for (const Decision& d : decisions) run.sends += d.outcome == Outcome::send;
            run.decisions += decisions.size();
            decisions.clear();
            if (run.decisions >= least) break;
        }
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return run;
}

}  // namespace

Report run_decisioning(const BenchOptions& o) {
    Report report("decisioning");
    report.setting("events", o.n);
    report.setting("customers", o.customers);
    report.setting("segments", o.segments);
    report.setting("actions", o.actions);

    const std::vector<std::string> frames = encoded_frames(o, "decisioning-");
    const Config plain = loaded(decisioning_config(0, 0));
    const Config with_segments = loaded(decisioning_config(o.segments, 0));
    const Config with_actions = loaded(decisioning_config(o.segments, o.actions));
    ActionTotals totals(with_actions.journey);
    learned(totals, o.seed);

    const OneThreadRun runs[] = {run_one_thread(plain, frames),
                                 run_one_thread(with_segments, frames),
                                 run_one_thread(with_actions, frames, &totals)};
    const std::string columns[] = {
        "no segments or actions", std::to_string(o.segments) + " segments",
        std::to_string(o.segments) + " segments, " + std::to_string(o.actions) + " actions"};
    double us[3];
    for (int i = 0; i < 3; ++i) {
        const OneThreadRun& run = runs[i];
        const double events = static_cast<double>(run.events);
        us[i] = events > 0 ? run.seconds * 1e6 / events : 0;
        report.set(columns[i], "events_per_s", "events/s",
                   run.seconds > 0 ? events / run.seconds : 0);
        report.set(columns[i], "us_per_event", "us per event", us[i], 2);
        report.set(columns[i], "decisions", "decisions",
                   static_cast<double>(run.send + run.defer + run.suppress));
        report.set(columns[i], "rejected", "events rejected", static_cast<double>(run.rejected));
        report.require_positive(columns[i], "events_per_s");
        report.require_zero(columns[i], "rejected");
    }
    report.set(columns[1], "segment_us_per_event", "segments: added us per event", us[1] - us[0],
               2);
    report.set(columns[2], "action_us_per_event", "actions: added us per event", us[2] - us[1], 2);

    const DecisionRun decided = decide_repeatedly(with_actions, runs[2], totals, 200'000);
    const std::string d = "decisions alone";
    const double count = static_cast<double>(decided.decisions);
    report.set(d, "decisions_per_s", "decisions/s",
               decided.seconds > 0 ? count / decided.seconds : 0);
    report.set(d, "us_per_decision", "us per decision",
               count > 0 ? decided.seconds * 1e6 / count : 0, 2);
    report.set(d, "candidates", "eligible actions per decision",
               count > 0 ? static_cast<double>(decided.candidates) / count : 0, 1);
    report.set(d, "send_share", "sent (%)", count > 0 ? 100.0 * decided.sends / count : 0, 1);
    report.require_positive(d, "decisions_per_s");
    report.note(
        "one thread, as limit: decode + JourneyEngine + PressureLedger; the same frames under "
        "three journeys; decisions alone: rank (Thompson draws) and choose under pressure");
    return report;
}

}  // namespace journeyd::bench
