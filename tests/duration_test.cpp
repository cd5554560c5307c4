#include <catch2/catch.hpp>

#include "state/duration.hpp"

using journeyd::parse_duration;

TEST_CASE("parse_duration reads each unit as milliseconds", "[duration]") {
    CHECK(parse_duration("250ms") == 250);
    CHECK(parse_duration("30s") == 30'000);
    CHECK(parse_duration("15m") == 15 * 60'000);
    CHECK(parse_duration("2h") == 2 * 3'600'000);
    CHECK(parse_duration("7d") == 7 * 86'400'000LL);
}

TEST_CASE("parse_duration accepts zero in any unit", "[duration]") {
    CHECK(parse_duration("0s") == 0);
    CHECK(parse_duration("0ms") == 0);
    CHECK(parse_duration("0d") == 0);
}

TEST_CASE("parse_duration accepts leading zeros and large valid values", "[duration]") {
    CHECK(parse_duration("007s") == 7'000);
    CHECK(parse_duration("100000d") == 100'000 * 86'400'000LL);
}

TEST_CASE("parse_duration rejects anything but digits followed by one unit", "[duration]") {
    for (const char* text : {"", "5", "ms", "s", "1.5s", "-1s", "+1s", "1 s", " 1s", "1s ", "1sec",
                             "1S", "1w", "1y", "1h30m", "1ms2", "10mss", "one s"}) {
        INFO("input: \"" << text << "\"");
        CHECK_FALSE(parse_duration(text).has_value());
    }
}

TEST_CASE("parse_duration rejects values that overflow int64 milliseconds", "[duration]") {
    CHECK_FALSE(parse_duration("999999999999999d").has_value());
    CHECK_FALSE(parse_duration("9223372036854775807s").has_value());
    CHECK_FALSE(parse_duration("99999999999999999999ms").has_value());
}
