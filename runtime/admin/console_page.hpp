// The operator console served at GET / on the admin port: one self-contained HTML page
// (inline CSS and script, nothing fetched from elsewhere), made at build time from the files
// of runtime/admin/console/ (embed.cmake). It holds no data; its script reads the admin API
// with the operator's token.
#pragma once

#include <string_view>

namespace journeyd {

std::string_view console_page();

}  // namespace journeyd
