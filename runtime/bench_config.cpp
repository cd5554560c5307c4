#include "runtime/bench_config.hpp"

#include <sstream>
#include <stdexcept>
#include <toml++/toml.h>

#include "config/config.hpp"

namespace journeyd::bench {
namespace {

// The generated text must be a configuration journeyd accepts: better said here than in a
// daemon log.
std::string validated(std::string toml_text, const std::string& what) {
    const ConfigResult loaded = load_config_text(toml_text, what);
    if (loaded.config) return toml_text;
    std::string message = "journey-bench generated an invalid " + what + ":";
    for (const ConfigError& error : loaded.errors) message += "\n  " + error.to_string();
    throw std::runtime_error(message);
}

}  // namespace

std::string marketplace_config(const std::string& arbitration_window) {
    if (!parse_duration(arbitration_window))
        throw std::runtime_error("--arbitration-window \"" + arbitration_window +
                                 "\" is not a duration like \"0s\" or \"2s\"");
    // Edited as TOML, not as text, so a reworded default cannot silently keep the old window.
    toml::table config = toml::parse(default_config_text());
    toml::table* pressure = config["pressure"].as_table();
    if (!pressure) throw std::runtime_error("the default journey has no [pressure] table");
    pressure->insert_or_assign("arbitration_window", arbitration_window);
    config.insert_or_assign("store", toml::table{{"sync", true}});
    std::ostringstream text;
    text << config << "\n";
    return validated(text.str(), "marketplace configuration");
}

}  // namespace journeyd::bench
