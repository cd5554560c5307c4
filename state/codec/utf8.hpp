// UTF-8 validation (RFC 3629): what msgpack's str type promises and JSON requires. The ids
// of an event become JSON in the admin API and in every delivery a sink writes, so they
// are checked at the door.
#pragma once

#include <string_view>

namespace journeyd {

// True for well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

}  // namespace journeyd
