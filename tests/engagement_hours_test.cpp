#include "state/rhythm/engagement_hours.hpp"
#include "state/rhythm/population_rhythm.hpp"

#include <date/tz.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "state/codec/msgpack_read.hpp"
#include "state/codec/rhythm_codec.hpp"
#include "state/pressure/quiet_hours.hpp"

using namespace journeyd;
using namespace std::chrono;
using namespace date::literals;
using date::March;
using date::October;

namespace {

// An instant given as a UTC calendar time.
TimeMs utc(date::year_month_day day, hours h, minutes m = minutes(0)) {
    return duration_cast<milliseconds>((date::sys_days(day) + h + m).time_since_epoch()).count();
}

constexpr DurationMs kHour = 3'600'000;
constexpr DurationMs kDay = 24 * kHour;
constexpr DurationMs kHalfLife = 14 * kDay;
// One bucket unit: the finest difference EngagementHours keeps.
constexpr double kUnit = 1.0 / kEngagementScale;

const QuietHours kNight{22 * 60, 8 * 60};

// 1 in every hour, `weight` at `hour`.
HourWeights flat_with(int hour, double weight) {
    HourWeights weights;
    weights.fill(1);
    weights[hour] = weight;
    return weights;
}

}  // namespace

TEST_CASE("engagement hours: one half-life halves an event's weight", "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs t0 = utc(2026_y / 6 / 1, 9h, 15min);
    EngagementHours hours;
    hours.record(t0, utc_zone, kHalfLife);
    CHECK(hours.weights(t0, kHalfLife)[9] == 1);
    CHECK(hours.weights(t0 + kHalfLife, kHalfLife)[9] == Approx(0.5));
    CHECK(hours.weights(t0 + 2 * kHalfLife, kHalfLife)[9] == Approx(0.25));
    CHECK(hours.total(t0 + kHalfLife, kHalfLife) == Approx(0.5));
    // As of a half-life before it, an event weighs 2.
    CHECK(hours.weights(t0 - kHalfLife, kHalfLife)[9] == Approx(2));

    hours.record(t0 + kHalfLife, utc_zone, kHalfLife);
    CHECK(hours.decayed_at() == t0 + kHalfLife);
    CHECK(hours.weights(t0 + kHalfLife, kHalfLife)[9] == Approx(1.5));

    PopulationHours population;
    population.record(t0, utc_zone, kHalfLife);
    population.record(t0 + kHalfLife, utc_zone, kHalfLife);
    CHECK(population.weights(t0 + 2 * kHalfLife, kHalfLife)[9] == Approx(0.75));
}

TEST_CASE("engagement hours: an event shortly after the last decay counts as 1 too",
          "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs t0 = utc(2026_y / 6 / 1, 9h);
    EngagementHours hours;
    hours.record(t0, utc_zone, kHalfLife);
    // Within a step of the decay clock, which stays put so that rounding cannot cancel a decay.
    hours.record(t0 + kHour / 3, utc_zone, kHalfLife);
    hours.record(t0 + 2 * kHour / 3, utc_zone, kHalfLife);
    CHECK(hours.decayed_at() == t0);
    const TimeMs later = t0 + 2 * kHour / 3;
    const double expected =
        std::exp2(-2.0 * kHour / 3 / kHalfLife) + std::exp2(-1.0 * kHour / 3 / kHalfLife) + 1;
    CHECK(hours.weights(later, kHalfLife)[9] == Approx(expected).margin(3 * kUnit));
}

TEST_CASE("engagement hours: an older event adds its decayed weight; the clock stays",
          "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs t0 = utc(2026_y / 6 / 1, 9h, 30min);
    EngagementHours hours;
    PopulationHours population;
    for (TimeMs at : {t0 + kHalfLife, t0}) {
        hours.record(at, utc_zone, kHalfLife);
        population.record(at, utc_zone, kHalfLife);
    }
    CHECK(hours.decayed_at() == t0 + kHalfLife);
    CHECK(population.decayed_at() == t0 + kHalfLife);
    CHECK(hours.weights(t0 + kHalfLife, kHalfLife)[9] == Approx(1.5));
    CHECK(population.weights(t0 + kHalfLife, kHalfLife)[9] == Approx(1.5));
    // One too old to weigh a bucket unit leaves no trace.
    hours.record(t0 - 20 * kHalfLife, utc_zone, kHalfLife);
    CHECK(hours.weights(t0 + kHalfLife, kHalfLife)[9] == Approx(1.5));
}

TEST_CASE("engagement hours: an event counts in the local hour of the customer's zone",
          "[engagement_hours]") {
    TimeZones zones;
    const TimeMs noon = utc(2026_y / 6 / 1, 12h);
    EngagementHours tokyo, adelaide, new_york;
    tokyo.record(noon, zones.find("Asia/Tokyo"), kHalfLife);             // 21:00, UTC+9
    adelaide.record(noon, zones.find("Australia/Adelaide"), kHalfLife);  // 21:30, UTC+9:30
    new_york.record(noon, zones.find("America/New_York"), kHalfLife);    // 08:00, UTC-4
    CHECK(tokyo.weights(noon, kHalfLife)[21] == 1);
    CHECK(adelaide.weights(noon, kHalfLife)[21] == 1);
    CHECK(new_york.weights(noon, kHalfLife)[8] == 1);
    CHECK(new_york.total(noon, kHalfLife) == 1);
}

TEST_CASE("engagement hours across Amsterdam's DST nights", "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* amsterdam = zones.find("Europe/Amsterdam");
    REQUIRE(amsterdam);
    SECTION("spring forward (29 March 2026): 02:00-03:00 does not exist") {
        EngagementHours hours;
        hours.record(utc(2026_y / March / 29, 0h, 30min), amsterdam, kHalfLife);  // 01:30 CET
        hours.record(utc(2026_y / March / 29, 1h, 30min), amsterdam, kHalfLife);  // 03:30 CEST
        const HourWeights weights = hours.weights(utc(2026_y / March / 29, 2h), kHalfLife);
        CHECK(weights[1] == Approx(1).margin(kUnit));
        CHECK(weights[2] == 0);
        CHECK(weights[3] == Approx(1).margin(kUnit));
    }
    SECTION("fall back (25 October 2026): both 02:00-03:00 hours are hour 2") {
        EngagementHours hours;
        hours.record(utc(2026_y / October / 25, 0h, 30min), amsterdam, kHalfLife);  // CEST
        hours.record(utc(2026_y / October / 25, 1h, 30min), amsterdam, kHalfLife);  // CET
        const HourWeights weights = hours.weights(utc(2026_y / October / 25, 2h), kHalfLife);
        CHECK(weights[2] == Approx(2).margin(2 * kUnit));
        CHECK(hours.total(utc(2026_y / October / 25, 2h), kHalfLife) ==
              Approx(2).margin(2 * kUnit));
    }
}

TEST_CASE("engagement hours: a full bucket shrinks every bucket alike and reads the same",
          "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs morning = utc(2026_y / 6 / 1, 5h);
    const TimeMs later = utc(2026_y / 6 / 1, 6h);
    EngagementHours hours;
    for (int i = 0; i < 100; ++i) hours.record(later, utc_zone, kHalfLife);
    for (int i = 0; i < 300; ++i) hours.record(morning, utc_zone, kHalfLife);
    CHECK(hours.buckets()[5] == std::numeric_limits<uint16_t>::max());
    CHECK(hours.decayed_at() > later);  // the shrinking, as the decay it equals
    // Each event rounds to the bucket grid: a fraction of a unit of 256 at most.
    const double morning_at_later = 300 * std::exp2(-1.0 * kHour / kHalfLife);
    const HourWeights weights = hours.weights(later, kHalfLife);
    CHECK(weights[5] == Approx(morning_at_later).epsilon(0.005));
    CHECK(weights[6] == Approx(100).epsilon(0.005));
    CHECK(hours.weights(later + kHalfLife, kHalfLife)[6] == Approx(50).epsilon(0.005));
    CHECK(best_local_hour(weights) == 5);
}

TEST_CASE("engagement hours: too little history of one's own uses the population's",
          "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs t0 = utc(2026_y / 6 / 1, 7h);
    PopulationHours population;
    for (int i = 0; i < 10; ++i) population.record(utc(2026_y / 6 / 1, 19h), utc_zone, kHalfLife);
    EngagementHours customer;
    customer.record(t0, utc_zone, kHalfLife);
    customer.record(t0, utc_zone, kHalfLife);
    CHECK(best_local_hour(rhythm_weights(customer, population, t0, kHalfLife)) == 19);
    customer.record(t0, utc_zone, kHalfLife);  // 3 events' worth: their own
    CHECK(best_local_hour(rhythm_weights(customer, population, t0, kHalfLife)) == 7);
    // A half-life on, they weigh 1.5 events: too little again.
    const TimeMs later = t0 + kHalfLife;
    CHECK(rhythm_weights(customer, population, later, kHalfLife) ==
          population.weights(later, kHalfLife));
}

TEST_CASE("population rhythm: shared hours, recorded by hour, taken for storing when changed",
          "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* amsterdam = zones.find("Europe/Amsterdam");
    const TimeMs t0 = utc(2026_y / 6 / 1, 17h);  // 19:00 in Amsterdam
    PopulationRhythm population;
    CHECK_FALSE(population.take_changed().has_value());
    EngagementHours customer;
    const int hour = customer.record(t0, amsterdam, kHalfLife);
    CHECK(hour == 19);
    population.record(t0, hour, kHalfLife);
    // By hour it is the same as recording in the customer's zone.
    PopulationHours direct;
    direct.record(t0, amsterdam, kHalfLife);
    const auto changed = population.take_changed();
    REQUIRE(changed.has_value());
    CHECK(changed->stored_weights() == direct.stored_weights());
    CHECK_FALSE(population.take_changed().has_value());
    // One event of their own is too little: the customer is sent by the population's hours.
    CHECK(population.weights_for(EngagementHours{}, t0, kHalfLife) ==
          direct.weights(t0, kHalfLife));
}

TEST_CASE("send hours: scaled to the heaviest, fixed for good", "[engagement_hours]") {
    HourWeights weights{};
    CHECK(send_hours_of(weights) == SendHours{});  // no engagement: nothing to prefer
    weights[19] = 0.5;
    weights[7] = 0.25;
    weights[3] = 1e-9;
    const SendHours hours = send_hours_of(weights);
    CHECK(hours[19] == 65535);
    CHECK(hours[7] == 32768);
    CHECK(hours[3] == 0);
    CHECK(best_local_hour(weights_of(hours)) == 19);
    // Scaling keeps the order, so the same hour wins.
    TimeZones zones;
    const TimeMs t0 = utc(2026_y / 6 / 1, 6h);
    CHECK(best_hour(weights_of(hours), zones.find_or_utc(""), t0, kDay, std::nullopt) ==
          best_hour(weights, zones.find_or_utc(""), t0, kDay, std::nullopt));
}

TEST_CASE("best_hour: the heaviest hour starting within the window; now if it is this one",
          "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const std::optional<QuietHours> no_quiet;
    const TimeMs now = utc(2026_y / 6 / 1, 10h, 20min);
    HourWeights weights = flat_with(18, 5);
    CHECK(best_hour(weights, utc_zone, now, kDay, no_quiet) == utc(2026_y / 6 / 1, 18h));
    // 18:00 is past the window: the rest are tied, so the earliest, now.
    CHECK(best_hour(weights, utc_zone, now, 4 * kHour, no_quiet) == now);
    weights[12] = 3;
    CHECK(best_hour(weights, utc_zone, now, 4 * kHour, no_quiet) == utc(2026_y / 6 / 1, 12h));
    // A tie between 12:00 and 13:00 goes to the earlier.
    weights[13] = 3;
    CHECK(best_hour(weights, utc_zone, now, 4 * kHour, no_quiet) == utc(2026_y / 6 / 1, 12h));
    // Inside the best hour already: send now.
    CHECK(best_hour(weights, utc_zone, utc(2026_y / 6 / 1, 18h, 40min), kDay, no_quiet) ==
          utc(2026_y / 6 / 1, 18h, 40min));
    // The window's end is inclusive; the best hour of tomorrow is past it.
    CHECK(best_hour(weights, utc_zone, now, 7 * kHour + 40 * 60'000, no_quiet) ==
          utc(2026_y / 6 / 1, 18h));
    // In the customer's zone: 18:00 in Tokyo is 09:00 UTC tomorrow.
    CHECK(best_hour(weights, zones.find("Asia/Tokyo"), now, kDay, no_quiet) ==
          utc(2026_y / 6 / 2, 9h));
}

TEST_CASE("best_hour: an hour starting inside quiet hours is never chosen", "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs now = utc(2026_y / 6 / 1, 15h);
    HourWeights weights = flat_with(23, 9);
    weights[6] = 8;
    weights[21] = 4;
    CHECK(best_hour(weights, utc_zone, now, kDay, std::nullopt) == utc(2026_y / 6 / 1, 23h));
    CHECK(best_hour(weights, utc_zone, now, kDay, kNight) == utc(2026_y / 6 / 1, 21h));
    // Quiet hours ending at 08:30: 08:00 starts inside them, 09:00 does not.
    HourWeights morning = flat_with(8, 9);
    morning[9] = 2;
    const QuietHours until_half_past{22 * 60, 8 * 60 + 30};
    CHECK(best_hour(morning, utc_zone, now, kDay, until_half_past) == utc(2026_y / 6 / 2, 9h));
    // Now is inside quiet hours: not now, even when this hour is the best.
    const TimeMs night = utc(2026_y / 6 / 1, 23h, 30min);
    CHECK(best_hour(weights, utc_zone, night, kDay, kNight) == utc(2026_y / 6 / 2, 21h));
}

TEST_CASE("best_hour: no hour allowed within the window gives nullopt", "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    const TimeMs night = utc(2026_y / 6 / 1, 23h);
    CHECK_FALSE(best_hour(flat_with(3, 2), utc_zone, night, 2 * kHour, kNight));
    CHECK_FALSE(best_hour(flat_with(3, 2), utc_zone, night, 0, kNight));
    CHECK(best_hour(flat_with(3, 2), utc_zone, night + kHour, 0, std::nullopt) == night + kHour);
    // Even an empty history has an answer: every hour ties, so the first allowed one.
    CHECK(best_hour(HourWeights{}, utc_zone, night, kDay, kNight) == utc(2026_y / 6 / 2, 8h));
}

TEST_CASE("best_hour across Amsterdam's DST nights", "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* amsterdam = zones.find("Europe/Amsterdam");
    REQUIRE(amsterdam);
    HourWeights weights = flat_with(2, 9);
    weights[3] = 5;
    SECTION("spring forward: 02:00 does not exist and is never returned") {
        const TimeMs evening = utc(2026_y / March / 28, 22h);  // 23:00 CET
        // 03:00 CEST is 01:00 UTC; 02:00 of the 30th is past the window.
        CHECK(best_hour(weights, amsterdam, evening, kDay, std::nullopt) ==
              utc(2026_y / March / 29, 1h));
    }
    SECTION("fall back: of the two 02:00 hours, the first") {
        const TimeMs evening = utc(2026_y / October / 24, 21h);  // 23:00 CEST
        CHECK(best_hour(weights, amsterdam, evening, kDay, std::nullopt) ==
              utc(2026_y / October / 25, 0h));
        // 03:00 CET comes after the second 02:00 hour.
        const TimeMs first_two_thirty = utc(2026_y / October / 25, 0h, 30min);
        CHECK(best_hour(flat_with(3, 9), amsterdam, first_two_thirty, 3 * kHour, std::nullopt) ==
              utc(2026_y / October / 25, 2h));
        // In either 02:00 hour, the best hour is now.
        const TimeMs second_two_thirty = utc(2026_y / October / 25, 1h, 30min);
        CHECK(best_hour(weights, amsterdam, first_two_thirty, kDay, std::nullopt) ==
              first_two_thirty);
        CHECK(best_hour(weights, amsterdam, second_two_thirty, kDay, std::nullopt) ==
              second_two_thirty);
    }
}

TEST_CASE("best_hour: a fall-back of two hours never returns an instant before now",
          "[engagement_hours]") {
    TimeZones zones;
    // Troll falls back from UTC+2 to UTC+0 at 01:00 UTC: local 01:00-03:00 happens twice.
    const date::time_zone* troll = zones.find("Antarctica/Troll");
    REQUIRE(troll);
    const TimeMs second_one_thirty = utc(2026_y / October / 25, 1h, 30min);
    // 02:00's first occurrence (00:00 UTC) has passed, so 03:00 (03:00 UTC) is next.
    CHECK(best_hour(flat_with(3, 9), troll, second_one_thirty, 4 * kHour, std::nullopt) ==
          utc(2026_y / October / 25, 3h));
    // With 02:00 the best, the rest tie: now.
    CHECK(best_hour(flat_with(2, 9), troll, second_one_thirty, 4 * kHour, std::nullopt) ==
          second_one_thirty);
}

TEST_CASE("best_local_hour: the heaviest, the earliest on a tie", "[engagement_hours]") {
    CHECK(best_local_hour(flat_with(17, 2)) == 17);
    HourWeights tie = flat_with(17, 2);
    tie[9] = 2;
    CHECK(best_local_hour(tie) == 9);
    CHECK(best_local_hour(HourWeights{}) == 0);
}

TEST_CASE("engagement hours codec: round trip", "[engagement_hours]") {
    TimeZones zones;
    const date::time_zone* amsterdam = zones.find("Europe/Amsterdam");
    EngagementHours customer;
    PopulationHours population;
    for (int i = 0; i < 40; ++i) {
        const TimeMs at = utc(2026_y / 6 / 1, hours(i % 24)) + i * kDay / 3;
        customer.record(at, amsterdam, kHalfLife);
        population.record(at, amsterdam, kHalfLife);
    }
    std::string error;
    const auto customer_back = decode_engagement_hours(encode_engagement_hours(customer), error);
    REQUIRE(customer_back);
    CHECK(customer_back->buckets() == customer.buckets());
    CHECK(customer_back->decayed_at() == customer.decayed_at());
    const auto population_back =
        decode_population_hours(encode_population_hours(population), error);
    REQUIRE(population_back);
    CHECK(population_back->stored_weights() == population.stored_weights());
    CHECK(population_back->decayed_at() == population.decayed_at());
    // An empty histogram too.
    REQUIRE(decode_engagement_hours(encode_engagement_hours(EngagementHours{}), error));
    CHECK(error.empty());
}

TEST_CASE("engagement hours codec: damaged bytes fail with a message", "[engagement_hours]") {
    const auto record = [](auto pack_body) {
        msgpack::sbuffer buffer;
        const char version = static_cast<char>(kRhythmRecordVersion);
        buffer.write(&version, 1);
        msgpack::packer<msgpack::sbuffer> pk(buffer);
        pack_body(pk);
        return std::string(buffer.data(), buffer.size());
    };
    const auto hours_of = [&](auto bucket) {
        return record([bucket](auto& pk) {
            pk.pack_array(2);
            pk.pack(int64_t{1'780'000'000'000});
            pk.pack_array(kHoursPerDay);
            for (int hour = 0; hour < kHoursPerDay; ++hour) {
                if (hour == 7)
                    pk.pack(bucket);
                else
                    pk.pack(0);
            }
        });
    };
    std::string error;
    const auto engagement_fails = [&error](const std::string& bytes) {
        error.clear();
        return !decode_engagement_hours(bytes, error) && !error.empty();
    };
    const auto population_fails = [&error](const std::string& bytes) {
        error.clear();
        return !decode_population_hours(bytes, error) && !error.empty();
    };
    CHECK(engagement_fails(""));
    CHECK(engagement_fails(std::string(1, '\x7f') + "garbage"));
    CHECK(error == "unknown engagement hours record version");
    const std::string good = encode_engagement_hours(EngagementHours{});
    CHECK(engagement_fails(good.substr(0, good.size() - 3)));
    CHECK(engagement_fails(hours_of(70'000)));
    CHECK(error == "bad field engagement bucket");
    CHECK(engagement_fails(hours_of(-1)));
    CHECK(engagement_fails(hours_of(1.5)));
    CHECK(engagement_fails(hours_of(std::string("x"))));
    CHECK_FALSE(engagement_fails(hours_of(65'535)));
    CHECK(engagement_fails(record([](auto& pk) {
        pk.pack_array(2);
        pk.pack(0);
        pk.pack_array(23);
        for (int hour = 0; hour < 23; ++hour) pk.pack(0);
    })));
    CHECK(error == "hours has the wrong number of fields");
    CHECK(engagement_fails(record([](auto& pk) { pk.pack(std::string("not an array")); })));
    // An array header claiming four billion entries, with none behind it.
    CHECK(engagement_fails(std::string(1, static_cast<char>(kRhythmRecordVersion)) +
                           std::string("\x92\x00\xdd\xff\xff\xff\xff", 7)));
    CHECK(error == "array size overflow");

    CHECK_FALSE(population_fails(hours_of(2.5)));
    CHECK_FALSE(population_fails(hours_of(3)));  // a whole number packed as an integer
    CHECK(population_fails(hours_of(-2.5)));
    CHECK(error == "bad field population weight");
    CHECK(population_fails(hours_of(std::nan(""))));
    CHECK(population_fails(hours_of(std::numeric_limits<double>::infinity())));
    CHECK(population_fails(hours_of(std::string("x"))));
}
