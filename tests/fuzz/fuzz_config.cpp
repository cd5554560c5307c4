// libFuzzer harness: any bytes as a configuration file (config/config.hpp), then, for a
// file that loads, its journey and pressure rules at work: a journey engine built from it,
// driven by an event of every type its transitions name and by its timers, and a
// PressureLedger deciding the programs' requests.
//
// Checks beyond "no crash": a result has a Config or errors, never both nor neither;
// every error has a message and a line; a Config only references stages, programs and
// priority classes that exist (the engine indexes by them without checking).
#include "config/config.hpp"
#include "fuzz_check.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/pressure/pressure_ledger.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kStart = 1'700'000'000'000;

void check_references(const Config& config) {
    const JourneyModel& journey = config.journey;
    const size_t stages = journey.stages.size();
    FUZZ_CHECK(stages > 0 && journey.initial_stage < stages);
    for (const TransitionRule& rule : journey.transitions) {
        FUZZ_CHECK(rule.to < stages);
        for (StageId from : rule.from) FUZZ_CHECK(from < stages);
    }
    for (const TimerRule& timer : journey.timers) {
        FUZZ_CHECK(timer.to < stages);
        for (StageId in : timer.in) FUZZ_CHECK(in < stages);
    }
    FUZZ_CHECK(config.pressure.exempt.size() == config.pressure.hierarchy.size());
    for (const Program& program : journey.programs) {
        FUZZ_CHECK(!program.on_enter || *program.on_enter < stages);
        FUZZ_CHECK(program.priority < config.pressure.hierarchy.size());
    }
}

// Every program request the engine makes goes to the ledger, as the coordinator would.
void submit(PressureLedger& ledger, const Effects& effects, const std::string& customer,
            TimeMs now) {
    std::vector<Decision> decisions;
    for (const ProgramRequest& program : effects.requests) {
        ContactRequest request;
        request.customer = customer;
        request.program = program.program;
        request.cause = program.cause;
        request.decision_id =
            make_decision_id(customer, std::to_string(program.program), program.cause);
        request.at = program.at;
        ledger.submit(std::move(request), now, decisions);
    }
    ledger.advance(now, decisions);
}

// Two customers take every transition's event types in file order, then their timers;
// the ledger decides what their programs ask for, with the file's pressure rules.
void drive(const Config& config) {
    const JourneyEngine engine(config.journey);
    PressureLedger ledger(config.pressure, config.journey);
    Effects effects;
    TimeMs now = kStart;
    for (const std::string id : {"ann", "bob"}) {
        CustomerState customer;
        customer.id = id;
        int sent = 0;
        for (const TransitionRule& rule : config.journey.transitions) {
            for (const std::string& type : rule.on) {
                if (++sent > 32) break;
                Event event;
                event.id = "e" + std::to_string(sent);
                event.customer = customer.id;
                event.type = type;
                event.ts = now;
                engine.apply(customer, event, now, effects);
                submit(ledger, effects, id, now);
                now += 1000;
            }
        }
        for (int round = 0; round < 8; ++round) {
            const std::optional<TimeMs> due = engine.next_due(customer);
            if (!due) break;
            now = std::max(now, *due);
            engine.fire_due(customer, now, effects);
            submit(ledger, effects, id, now);
        }
    }
    std::vector<Decision> decisions;
    ledger.advance(now + 400LL * 86'400'000, decisions);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const ConfigResult result =
        load_config_text(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
    FUZZ_CHECK(result.config.has_value() == result.errors.empty());
    for (const ConfigError& error : result.errors) {
        FUZZ_CHECK(!error.message.empty());
        FUZZ_CHECK(error.line >= 0 && error.column >= 0);
    }
    if (!result.config) return 0;
    check_references(*result.config);
    drive(*result.config);
    return 0;
}
