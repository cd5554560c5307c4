#include "state/duration.hpp"

#include <iterator>
#include <limits>
#include <string>

namespace journeyd {
namespace {

struct Unit {
    std::string_view suffix;
    DurationMs ms;
};

// Longest suffix first so that "ms" is not read as "m" followed by junk.
constexpr Unit kUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};

}  // namespace

std::optional<DurationMs> parse_duration(std::string_view text) {
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 15) return std::nullopt;
    const std::string_view suffix = text.substr(digits);
    for (const Unit& unit : kUnits) {
        if (suffix != unit.suffix) continue;
        DurationMs value = 0;
        for (size_t i = 0; i < digits; ++i) value = value * 10 + (text[i] - '0');
        if (value > std::numeric_limits<DurationMs>::max() / unit.ms) return std::nullopt;
        return value * unit.ms;
    }
    return std::nullopt;
}

std::string format_duration(DurationMs ms) {
    for (auto unit = std::rbegin(kUnits); unit != std::rend(kUnits); ++unit)
        if (ms != 0 && ms % unit->ms == 0)
            return std::to_string(ms / unit->ms) + std::string(unit->suffix);
    return std::to_string(ms) + "ms";
}

}  // namespace journeyd
