// Durations and instants in journeyd are plain int64 milliseconds: the wire format (event
// `ts`, admin `due`/`at`) is ms since the Unix epoch, and one unit everywhere avoids
// conversions on the hot path.
//
// parse_duration accepts exactly the documented syntax: a non-negative integer followed by
// one unit of ms, s, m, h, d ("250ms", "30s", "15m", "2h", "7d"). Anything else is rejected
// with nullopt so the caller can name the offending line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace journeyd {

using TimeMs = int64_t;      // instant: ms since the Unix epoch
using DurationMs = int64_t;  // span in ms

std::optional<DurationMs> parse_duration(std::string_view text);
// The shortest text parse_duration reads back as `ms` (its largest whole unit): "7d", "90m".
std::string format_duration(DurationMs ms);

}  // namespace journeyd
