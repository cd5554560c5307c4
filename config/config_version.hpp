// Which configuration journeyd runs under: its version, and the text, source and load time that
// GET /config shows.
//
// Contract: config_version(text) is the first 12 hex digits of the SHA-256 of the TOML text,
// byte for byte as loaded: a stable, short name for one exact text, the same on every machine
// and at every start. A comment or a blank line changes it, as it changes what an operator
// reviewed. 12 hex digits are 48 bits: versions of one deployment do not collide by chance.
//
// Thread-safety: plain values and functions; read_config_source reads a file.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "state/duration.hpp"

namespace journeyd {

inline constexpr size_t kConfigVersionLength = 12;

std::string config_version(std::string_view toml_text);

// The configuration in force: what journeyd was started with, before its command-line
// overrides (--data-dir, --ingest, --admin), which a checked change keeps as they are.
inline constexpr std::string_view kEmbeddedConfigSource = "<default>";
// The source of a configuration posted to the admin port (POST /config, journeyctl reload):
// what its errors and GET /config name.
inline constexpr std::string_view kPostedConfigSource = "<posted>";

// The text of a source as RunningConfig names it: the embedded journey for
// kEmbeddedConfigSource, else the file's (nullopt, with `error` saying why, when unreadable).
std::optional<std::string> read_config_source(const std::string& source, ConfigError& error);

struct RunningConfig {
    std::string source;  // the file's path, or kEmbeddedConfigSource
    std::string text;    // the TOML text as loaded
    std::string version;
    TimeMs loaded_at = 0;
    Config config;  // `text` loaded
};

}  // namespace journeyd
