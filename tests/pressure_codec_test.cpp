#include "state/codec/pressure_codec.hpp"

#include <catch2/catch.hpp>

#include "tests/support/older_record.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kStart = 1'700'000'000'000;

ContactRequest deferred_request(const JourneyModel& model) {
    ContactRequest r;
    r.customer = "kund\xc3\xa9-7";
    r.program = *model.program_id("nudge");
    r.cause = "timer:3";
    r.decision_id = make_decision_id(r.customer, "nudge", r.cause);
    r.at = kStart;
    r.preferences = {"Europe/Amsterdam", {"sms", "push"}};
    return r;
}

Decision decision(const JourneyModel& model, const char* program, Outcome outcome,
                  const char* reason, TimeMs at) {
    Decision d;
    d.decision_id = std::string("d-") + program + std::to_string(at);
    d.customer = "ann";
    d.program = *model.program_id(program);
    d.outcome = outcome;
    d.reason = reason;
    d.detail = outcome == Outcome::suppress ? "email 2 per 7d" : "";
    d.until = outcome == Outcome::defer ? at + 3'600'000 : 0;
    d.at = at;
    d.requested_at = at - 5;
    return d;
}

// The configuration after an edit: programs reordered, "winback" gone.
const JourneyModel& edited_model() {
    static const Config config = test::config_from(R"(
[journey]
stages = ["new", "exploring", "active", "loyal", "dormant"]
initial_stage = "new"

[[program]]
name = "reset"
on_event = "password_reset"
channel = "email"
priority = "service"
template = "reset-1"

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "welcome-2"

[pressure]
hierarchy = ["service", "lifecycle", "promotional"]
)");
    return config.journey;
}

}  // namespace

TEST_CASE("a contact request round-trips through the codec, preferences included") {
    const Config config = test::config_from(test::kTestJourney);
    const ContactRequest original = deferred_request(config.journey);
    std::string error;
    auto back = decode_request(encode_request(original, config.journey), config.journey, error);
    INFO(error);
    REQUIRE(back.has_value());
    CHECK(back->decision_id == original.decision_id);
    CHECK(back->customer == original.customer);
    CHECK(back->program == original.program);
    CHECK(back->cause == original.cause);
    CHECK(back->at == original.at);
    CHECK(back->dropped_reason.empty());
    CHECK(back->preferences.time_zone == "Europe/Amsterdam");
    CHECK(back->preferences.refused_channels == std::vector<std::string>{"sms", "push"});
    CHECK_FALSE(back->send_hours.has_value());
}

TEST_CASE("a best_hour request keeps its send hours exactly; bad hours fail to decode") {
    const Config config = test::config_from(test::kTestJourney);
    ContactRequest original = deferred_request(config.journey);
    HourWeights weights{};
    for (int hour = 0; hour < kHoursPerDay; ++hour) weights[hour] = hour * 0.37;
    original.send_hours = send_hours_of(weights);
    std::string error;
    auto back = decode_request(encode_request(original, config.journey), config.journey, error);
    INFO(error);
    REQUIRE(back.has_value());
    CHECK(back->send_hours == original.send_hours);
    CHECK((*back->send_hours)[23] == 65535);

    // A request of 9 fields, as stored before send times, reads as one without.
    const std::string nine = encode_request(deferred_request(config.journey), config.journey);
    std::string shorter = nine;
    REQUIRE(shorter[1] == '\x9a');  // fixarray of 10
    shorter[1] = '\x99';
    shorter.pop_back();  // the nil of send_hours
    auto old = decode_request(shorter, config.journey, error);
    INFO(error);
    REQUIRE(old.has_value());
    CHECK_FALSE(old->send_hours.has_value());

    std::string damaged = encode_request(original, config.journey);
    const size_t head = damaged.rfind(std::string("\xdc\x00\x18", 3));  // array16 of 24
    REQUIRE(head != std::string::npos);
    damaged[head + 2] = '\x17';  // of 23
    CHECK_FALSE(decode_request(damaged, config.journey, error));
    CHECK(error.find("send_hours") != std::string::npos);
}

TEST_CASE("a history reads back by program name; programs the configuration lost are skipped") {
    const Config config = test::config_from(test::kTestJourney);
    const JourneyModel& model = config.journey;
    PressureHistory history;
    history.sends = {{*model.program_id("welcome"), kStart, true},
                     {*model.program_id("winback"), kStart + 10, true},
                     {*model.program_id("reset"), kStart + 20, false}};
    history.decisions = {decision(model, "reset", Outcome::send, "ok", kStart + 20),
                         decision(model, "winback", Outcome::suppress, "cap", kStart + 15),
                         decision(model, "welcome", Outcome::defer, "quiet_hours", kStart)};
    const std::string bytes = encode_history(history, model);
    // The coordinator's overload, from its ledger's and log's containers, writes the same bytes.
    CHECK(encode_history(history.sends, history.decisions, model) == bytes);

    std::string error;
    auto same = decode_history(bytes, "ann", model, error);
    REQUIRE(same.has_value());
    REQUIRE(same->sends.size() == 3);
    CHECK(same->sends[2].program == *model.program_id("reset"));
    CHECK_FALSE(same->sends[2].counts_against_caps);
    REQUIRE(same->decisions.size() == 3);
    const Decision& deferred = same->decisions[2];
    CHECK(deferred.customer == "ann");
    CHECK(deferred.outcome == Outcome::defer);
    CHECK(deferred.reason == "quiet_hours");
    CHECK(deferred.until == kStart + 3'600'000);
    CHECK(deferred.requested_at == kStart - 5);
    CHECK(same->decisions[1].detail == "email 2 per 7d");

    const JourneyModel& edited = edited_model();
    auto moved = decode_history(bytes, "ann", edited, error);
    REQUIRE(moved.has_value());
    REQUIRE(moved->sends.size() == 2);
    CHECK(edited.programs[moved->sends[0].program].name == "welcome");
    CHECK(edited.programs[moved->sends[1].program].name == "reset");
    REQUIRE(moved->decisions.size() == 2);
    CHECK(edited.programs[moved->decisions[0].program].name == "reset");
}

TEST_CASE("a request for a program the configuration lost, or damaged bytes, fail to decode") {
    const Config config = test::config_from(test::kTestJourney);
    std::string error;
    ContactRequest lost = deferred_request(config.journey);
    lost.program = *config.journey.program_id("winback");
    CHECK_FALSE(decode_request(encode_request(lost, config.journey), edited_model(), error));
    CHECK(error == "the configuration has no program \"winback\"");

    const std::string good = encode_request(deferred_request(config.journey), config.journey);
    CHECK_FALSE(decode_request(good.substr(0, good.size() / 2), config.journey, error));
    CHECK_FALSE(decode_request("\x02" + good.substr(1), config.journey, error));
    CHECK(error == "unknown contact request record version");
    CHECK_FALSE(decode_delivery("", error));
    CHECK_FALSE(decode_history(good, "ann", config.journey, error));  // a request, not a history
}

TEST_CASE("an outbox delivery round-trips through the codec") {
    const Delivery original{"00ff00ff00ff00ff", "ann",       "welcome", "email",
                            "welcome-1",        "lifecycle", kStart};
    std::string error;
    auto back = decode_delivery(encode_delivery(original), error);
    REQUIRE(back.has_value());
    CHECK(to_json(*back) == to_json(original));
}

TEST_CASE("decisions and deliveries keep their configuration version; older ones read as none") {
    const Config config = test::config_from(test::kTestJourney);
    const JourneyModel& model = config.journey;
    PressureHistory history;
    history.decisions = {decision(model, "welcome", Outcome::send, "ok", kStart)};
    history.decisions[0].config_version = "0123456789ab";
    std::string error;
    auto back = decode_history(encode_history(history, model), "ann", model, error);
    REQUIRE(back.has_value());
    REQUIRE(back->decisions.size() == 1);
    CHECK(back->decisions[0].config_version == "0123456789ab");

    Delivery delivery{"00ff00ff00ff00ff", "ann",       "welcome", "email",
                      "welcome-1",        "lifecycle", kStart};
    delivery.config_version = "0123456789ab";
    const std::string bytes = encode_delivery(delivery);
    auto kept = decode_delivery(bytes, error);
    REQUIRE(kept.has_value());
    CHECK(kept->config_version == "0123456789ab");
    CHECK(to_json(*kept)["config_version"] == "0123456789ab");
    // An outbox entry of an older journeyd: eight fields, no version.
    auto older = decode_delivery(test::with_first_fields(bytes, 8), error);
    REQUIRE(older.has_value());
    CHECK(older->config_version.empty());
    CHECK_FALSE(to_json(*older).contains("config_version"));
}

TEST_CASE("a dead letter round-trips through the codec; an outbox record is not one") {
    const Delivery delivery{"00ff00ff00ff00ff", "ann",       "welcome", "email",
                            "welcome-1",        "lifecycle", kStart};
    const DeadLetter original{delivery, 422, "{\"error\": \"no such template\"}", kStart + 5};
    std::string error;
    auto back = decode_dead_letter(encode_dead_letter(original), error);
    REQUIRE(back.has_value());
    CHECK(to_json(back->delivery) == to_json(delivery));
    CHECK(back->status == 422);
    CHECK(back->error == original.error);
    CHECK(back->at == kStart + 5);
    CHECK_FALSE(decode_dead_letter(encode_delivery(delivery), error));
    CHECK_FALSE(error.empty());
}
