// Quiet hours in the customer's own time zone, DST-correct, from the system tz database
// (Howard Hinnant's date/tz, never the TZ environment variable).
//
// quiet_until(at) is nullopt when `at` is outside the window, else the instant the window
// ends: the next local `end` wall-clock time. On the night a clock jumps forward over
// `end`, the window ends at the jump (the first instant that exists after it); when a
// clock falls back over `end`, it ends at the first of the two instants that read `end`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "state/duration.hpp"
#include "state/pressure/pressure_policy.hpp"

namespace date {
class time_zone;
}

namespace journeyd {

// Zone lookups by IANA name, cached: locate_zone scans the database, a request must not.
// Not thread-safe (find() fills an unguarded cache): owned by the coordinator's PressureLedger.
class TimeZones {
  public:
    // nullptr for a name the tz database does not know.
    const date::time_zone* find(std::string_view name);
    // The zone of `name`, or UTC when the name is unknown or empty.
    const date::time_zone* find_or_utc(std::string_view name);

  private:
    std::unordered_map<std::string, const date::time_zone*> cache_;
};

std::optional<TimeMs> quiet_until(const QuietHours& quiet, const date::time_zone* zone, TimeMs at);

}  // namespace journeyd
