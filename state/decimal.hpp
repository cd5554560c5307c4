// A whole decimal number read from text that must be nothing else: store counter keys, query
// parameters. nullopt for an empty text, a sign or digit error, trailing bytes or overflow.
//
// Pure function; thread-safe.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace journeyd {

template <class Int>
std::optional<Int> parse_decimal(std::string_view text) {
    Int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

}  // namespace journeyd
