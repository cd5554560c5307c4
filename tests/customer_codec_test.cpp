#include "state/codec/customer_codec.hpp"

#include <catch2/catch.hpp>

#include "state/journey/journey_engine.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kStart = 1'700'000'000'000;

CustomerState busy_customer(const JourneyEngine& engine) {
    CustomerState c;
    c.id = "kund\xc3\xa9-42";
    Effects fx;
    int n = 0;
    auto send = [&](const char* type, TimeMs ts, nlohmann::json attrs = nullptr) {
        engine.apply(c, Event{"id" + std::to_string(++n), c.id, type, ts, std::move(attrs)}, ts,
                     fx);
    };
    send("profile", kStart,
         {{"tz", "America/New_York"},
          {"consent", {{"sms", false}}},
          {"scores", {1, 2.5, "x", nullptr, true}}});
    send("search", kStart + 1);
    send("ad_placed", kStart + 2'000'000'000);  // leaves exploring: nudge dropped
    send("sale", kStart + 2'000'000'001);
    return c;
}

}  // namespace

TEST_CASE("a customer record round-trips through the codec") {
    const Config config = test::config_from(test::kTestJourney);
    JourneyEngine engine(config.journey);
    const CustomerState original = busy_customer(engine);
    REQUIRE(original.journey.window_hits.size() == 2);
    REQUIRE_FALSE(original.journey.timers.empty());

    const std::string record = encode_customer(original, config.journey);
    CHECK(static_cast<uint8_t>(record[0]) == kCustomerRecordVersion);
    std::string error;
    auto decoded = decode_customer(record, config.journey, error);
    INFO(error);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == original);
}

TEST_CASE("a record reads back by name under a configuration with more stages") {
    const Config config = test::config_from(test::kTestJourney);
    JourneyEngine engine(config.journey);
    const CustomerState original = busy_customer(engine);
    std::string edited = test::kTestJourney;
    edited.replace(edited.find("stages = [\"new\""), 15, "stages = [\"vip\", \"new\"");
    const Config reordered = test::config_from(edited);

    std::string error;
    auto decoded =
        decode_customer(encode_customer(original, config.journey), reordered.journey, error);
    REQUIRE(decoded.has_value());
    CHECK(reordered.journey.stages[decoded->journey.stage] == "active");
}

TEST_CASE("decoding names what the configuration lacks, and rejects damaged records") {
    const Config config = test::config_from(test::kTestJourney);
    JourneyEngine engine(config.journey);
    const std::string record = encode_customer(busy_customer(engine), config.journey);

    std::string renamed = test::kTestJourney;
    for (size_t at; (at = renamed.find("\"active\"")) != std::string::npos;)
        renamed.replace(at, 8, "\"engaged\"");
    std::string error;
    CHECK_FALSE(decode_customer(record, test::config_from(renamed).journey, error));
    CHECK(error == "the configuration has no stage \"active\"");

    CHECK_FALSE(decode_customer("", config.journey, error));
    CHECK_FALSE(decode_customer(std::string(1, '\x09') + record.substr(1), config.journey, error));
    CHECK(error == "unknown customer record version");
    for (size_t cut = 1; cut < record.size(); cut += 7)
        CHECK_FALSE(decode_customer(record.substr(0, cut), config.journey, error));
    CHECK_FALSE(decode_customer(std::string("\x01\x93\x01\x02\x03", 5), config.journey, error));
}

TEST_CASE("engagement hours are kept by the local hour of each event, and round-trip") {
    const Config config = test::config_from(std::string(test::kTestJourney) +
                                            "\n[rhythm]\nengagement = [\"search\", \"sale\"]\n");
    JourneyEngine engine(config.journey);
    const CustomerState original = busy_customer(engine);
    // In New York (UTC-5 in November and December): the search at 17:13, the sale at 20:46.
    const HourWeights weights =
        original.journey.hours.weights(kStart + 2'000'000'001, config.journey.rhythm.half_life);
    CHECK(weights[20] == Approx(1).epsilon(0.01));
    CHECK(weights[17] > 0.2);  // 23 days, 1.65 half-lives, ago
    CHECK(weights[17] < 0.35);
    double elsewhere = 0;
    for (int h = 0; h < kHoursPerDay; ++h)
        if (h != 20 && h != 17) elsewhere += weights[h];
    CHECK(elsewhere == 0);

    std::string error;
    auto decoded =
        decode_customer(encode_customer(original, config.journey), config.journey, error);
    INFO(error);
    REQUIRE(decoded);
    CHECK(decoded->journey.hours == original.journey.hours);
    const Config without = test::config_from(test::kTestJourney);
    const CustomerState quiet = busy_customer(JourneyEngine(without.journey));
    CHECK(quiet.journey.hours == EngagementHours());
    // Kept, they cost some 40 bytes of the record (small buckets pack in a byte); never kept,
    // one.
    const size_t kept = encode_customer(original, config.journey).size();
    const size_t none = encode_customer(quiet, without.journey).size();
    CHECK(kept > none + 30);
    CHECK(kept < none + 50);
}
