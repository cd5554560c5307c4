#include "state/pressure/quiet_hours.hpp"

#include <date/tz.h>
#include <catch2/catch.hpp>

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

const QuietHours kNight{22 * 60, 8 * 60};

}  // namespace

TEST_CASE("quiet hours: outside the window nothing is deferred, inside it ends at `end`") {
    TimeZones zones;
    const date::time_zone* utc_zone = zones.find_or_utc("");
    CHECK_FALSE(quiet_until(kNight, utc_zone, utc(2026_y / 6 / 1, 12h)));
    CHECK_FALSE(quiet_until(kNight, utc_zone, utc(2026_y / 6 / 1, 8h)));  // end is exclusive
    CHECK(quiet_until(kNight, utc_zone, utc(2026_y / 6 / 1, 22h)) == utc(2026_y / 6 / 2, 8h));
    CHECK(quiet_until(kNight, utc_zone, utc(2026_y / 6 / 2, 3h)) == utc(2026_y / 6 / 2, 8h));
    const QuietHours lunch{12 * 60, 13 * 60 + 30};  // a window that does not wrap
    CHECK(quiet_until(lunch, utc_zone, utc(2026_y / 6 / 1, 12h, 10min)) ==
          utc(2026_y / 6 / 1, 13h, 30min));
    CHECK_FALSE(quiet_until(lunch, utc_zone, utc(2026_y / 6 / 1, 11h, 59min)));
}

TEST_CASE("quiet hours follow the customer's zone") {
    TimeZones zones;
    // 23:00 UTC is 08:00 in Tokyo (UTC+9): just outside.
    CHECK_FALSE(quiet_until(kNight, zones.find("Asia/Tokyo"), utc(2026_y / 6 / 1, 23h)));
    // 12:00 UTC is 21:30 in Adelaide (UTC+9:30 in winter): not yet; 12:30 UTC is 22:00.
    CHECK_FALSE(quiet_until(kNight, zones.find("Australia/Adelaide"), utc(2026_y / 6 / 1, 12h)));
    CHECK(quiet_until(kNight, zones.find("Australia/Adelaide"), utc(2026_y / 6 / 1, 12h, 30min)) ==
          utc(2026_y / 6 / 1, 22h, 30min));
    CHECK(zones.find("Mars/Olympus_Mons") == nullptr);
    CHECK(zones.find_or_utc("Mars/Olympus_Mons") == zones.find("UTC"));
}

TEST_CASE("quiet hours across Amsterdam's spring-forward night (29 March 2026)") {
    TimeZones zones;
    const date::time_zone* amsterdam = zones.find("Europe/Amsterdam");
    REQUIRE(amsterdam);
    // 23:30 CET (UTC+1) on the 28th; the window ends at 08:00 CEST (UTC+2): a 9-hour night.
    CHECK(quiet_until(kNight, amsterdam, utc(2026_y / March / 28, 22h, 30min)) ==
          utc(2026_y / March / 29, 6h));
    CHECK(quiet_until(kNight, amsterdam, utc(2026_y / March / 29, 5h, 59min)) ==
          utc(2026_y / March / 29, 6h));
    CHECK_FALSE(quiet_until(kNight, amsterdam, utc(2026_y / March / 29, 6h)));
    // A window ending inside the skipped hour (02:00-03:00 does not exist) ends at the jump.
    const QuietHours early{60, 2 * 60 + 30};
    CHECK(quiet_until(early, amsterdam, utc(2026_y / March / 29, 0h, 30min)) ==
          utc(2026_y / March / 29, 1h));
}

TEST_CASE("quiet hours across Amsterdam's fall-back night (25 October 2026)") {
    TimeZones zones;
    const date::time_zone* amsterdam = zones.find("Europe/Amsterdam");
    // 23:00 CEST (UTC+2) on the 24th; the window ends at 08:00 CET (UTC+1): an 11-hour night.
    CHECK(quiet_until(kNight, amsterdam, utc(2026_y / October / 24, 21h)) ==
          utc(2026_y / October / 25, 7h));
    CHECK_FALSE(quiet_until(kNight, amsterdam, utc(2026_y / October / 25, 7h)));
    CHECK(quiet_until(kNight, amsterdam, utc(2026_y / October / 25, 6h, 59min)) ==
          utc(2026_y / October / 25, 7h));
    // A window ending in the repeated hour: 02:30 happens twice (00:30 and 01:30 UTC).
    const QuietHours early{60, 2 * 60 + 30};
    CHECK(quiet_until(early, amsterdam, utc(2026_y / October / 25, 0h, 10min)) ==
          utc(2026_y / October / 25, 0h, 30min));
    CHECK(quiet_until(early, amsterdam, utc(2026_y / October / 25, 1h, 10min)) ==
          utc(2026_y / October / 25, 1h, 30min));
}
