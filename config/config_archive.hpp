// The text of every configuration journeyd ran under, kept in its data directory, so that a
// decision made under an older version can be explained later (GET /config/{version}).
//
// Contract: keep() writes `<data_dir>/configs/<version>.toml` unless it is there already:
// written to a temporary file, fsync'd, renamed into place and the directory fsync'd, so a
// crash leaves either the whole text or nothing under the version's name. text_of() reads one
// back; it accepts only a version as config_version makes them (12 lowercase hex digits), so a
// request cannot name another path. The files are small (a configuration's text) and never
// removed by journeyd; an operator may delete old ones.
//
// Thread-safety: keep() once at start, before the admin port serves; text_of() from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace journeyd {

class ConfigArchive {
  public:
    explicit ConfigArchive(std::string data_dir);

    // "" when the text is kept (now or before), else why not.
    std::string keep(const std::string& version, std::string_view text) const;
    std::optional<std::string> text_of(std::string_view version) const;

    static bool is_version(std::string_view text);

  private:
    std::string path_of(std::string_view version) const;

    std::string directory_;
};

}  // namespace journeyd
