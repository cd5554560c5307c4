#include "state/pressure/quiet_hours.hpp"

#include <date/tz.h>

namespace journeyd {

const date::time_zone* TimeZones::find(std::string_view name) {
    std::string key(name);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(key);
    } catch (const std::exception&) {  // unknown name: remembered as nullptr too
    }
    return cache_.emplace(std::move(key), zone).first->second;
}

const date::time_zone* TimeZones::find_or_utc(std::string_view name) {
    const date::time_zone* zone = name.empty() ? nullptr : find(name);
    return zone ? zone : find("UTC");
}

std::optional<TimeMs> quiet_until(const QuietHours& quiet, const date::time_zone* zone, TimeMs at) {
    using namespace std::chrono;
    const date::sys_time<milliseconds> instant{milliseconds(at)};
    const auto local = zone->to_local(instant);
    const auto local_day = date::floor<date::days>(local);
    const int minute = static_cast<int>(duration_cast<minutes>(local - local_day).count());
    const bool wraps = quiet.start_minute > quiet.end_minute;
    const bool inside = wraps ? (minute >= quiet.start_minute || minute < quiet.end_minute)
                              : (minute >= quiet.start_minute && minute < quiet.end_minute);
    if (!inside) return std::nullopt;
    const auto end_day =
        (wraps && minute >= quiet.start_minute) ? local_day + date::days(1) : local_day;
    const auto end_local = end_day + minutes(quiet.end_minute);
    auto end = zone->to_sys(end_local, date::choose::earliest);
    // In the repeated hour of a fall-back night `at` may already be past the first of two
    // instants that read `end`: the window then ends at the second.
    if (end <= instant) end = zone->to_sys(end_local, date::choose::latest);
    return duration_cast<milliseconds>(end.time_since_epoch()).count();
}

}  // namespace journeyd
