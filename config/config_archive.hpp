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
// Thread-safety: text_of() and in_force() from any thread; keep() and set_in_force() from one
// thread at a time (at start, and as the daemon applies changes one after another).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace journeyd {

// A change applied while journeyd ran, in force until the configuration it was applied over
// changes: `version` replaced `over`, the version of the text journeyd was started with (its
// file, or the embedded journey).
struct ConfigInForce {
    std::string version;
    std::string over;
};

class ConfigArchive {
  public:
    explicit ConfigArchive(std::string data_dir);

    // "" when the text is kept (now or before), else why not.
    std::string keep(const std::string& version, std::string_view text) const;
    std::optional<std::string> text_of(std::string_view version) const;

    // The change in force, written as keep() writes (whole or not at all) to
    // `<data_dir>/configs/in_force`; "" when written, else why not. Both versions must be
    // versions. in_force() is nullopt when none was written or the file is damaged.
    std::string set_in_force(const ConfigInForce& in_force) const;
    std::optional<ConfigInForce> in_force() const;

    static bool is_version(std::string_view text);

  private:
    std::string path_of(std::string_view version) const;
    // Writes a temporary file, fsyncs it, renames it to `path` and fsyncs the directory.
    std::string replace_durably(const std::string& path, std::string_view text) const;

    std::string directory_;
};

}  // namespace journeyd
