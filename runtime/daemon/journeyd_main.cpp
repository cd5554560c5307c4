// journeyd: the customer-journey daemon. Flags as in docs/protocol.md; without --config it
// runs the embedded default journey (docs/configuration.md).
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdio>

#include "actors/customer_actor.hpp"
#include "config/config.hpp"
#include "config/config_version.hpp"
#include "runtime/daemon/daemon.hpp"
#include "runtime/daemon/json_log_format.hpp"

using namespace journeyd;

int main(int argc, char** argv) {
    CLI::App app{"journeyd: real-time customer-journey orchestration daemon"};
    std::string config_path, data_dir, ingest, admin, log_level = "info", log_format = "text";
    app.add_option("--config", config_path, "TOML configuration file (default: embedded journey)")
        ->check(CLI::ExistingFile);
    app.add_option("--data-dir", data_dir, "data directory (overrides [node] data_dir)");
    app.add_option("--ingest", ingest, "ingest HOST:PORT (overrides [node] ingest)");
    app.add_option("--admin", admin, "admin HOST:PORT (overrides [node] admin)");
    app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_option("--log-format", log_format, "text, or json for one JSON object a line")
        ->check(CLI::IsMember({"text", "json"}));
    bool print_default = false;
    app.add_flag("--print-default-config", print_default,
                 "print the embedded default configuration (TOML) and exit");
    app.set_version_flag("--version", std::string("journeyd ") + JOURNEYD_VERSION);
    CLI11_PARSE(app, argc, argv);
    if (print_default) {
        std::fwrite(default_config_text().data(), 1, default_config_text().size(), stdout);
        return 0;
    }

    spdlog::set_level(spdlog::level::from_str(log_level));
    if (log_format == "json") use_json_log_format();
    RunningConfig running;
    running.source = config_path.empty() ? std::string(kEmbeddedConfigSource) : config_path;
    ConfigError unreadable;
    std::optional<std::string> text = read_config_source(running.source, unreadable);
    ConfigResult loaded =
        text ? load_config_text(*text, running.source) : ConfigResult{std::nullopt, {unreadable}};
    if (!loaded.config) {
        for (const ConfigError& error : loaded.errors) spdlog::error("{}", error.to_string());
        spdlog::error("journeyd not started: {} configuration error(s)", loaded.errors.size());
        return 2;
    }
    running.text = std::move(*text);
    running.version = config_version(running.text);
    running.loaded_at = system_now_ms();
    running.config = *loaded.config;
    Config config = std::move(*loaded.config);
    if (!data_dir.empty()) config.node.data_dir = data_dir;
    if (!ingest.empty()) config.node.ingest = ingest;
    if (!admin.empty()) config.node.admin = admin;
    // The file's addresses were checked by the loader; these come from the command line.
    for (const auto& [flag, address] : {std::pair{"--ingest", ingest}, {"--admin", admin}}) {
        if (address.empty() || parse_address(address)) continue;
        spdlog::error("journeyd not started: {} \"{}\" is not HOST:PORT", flag, address);
        return 2;
    }
    if (const std::string refused = admin_exposure_error(config.node.admin, config.admin.token);
        !refused.empty()) {
        spdlog::error("journeyd not started: {}", refused);
        return 2;
    }
    if (!is_loopback_address(config.node.ingest) && config.ingest.token.empty())
        spdlog::warn(
            "ingest {} is reachable from other machines and has no authentication: set "
            "[ingest] token, or let only trusted event sources reach it",
            config.node.ingest);
    spdlog::info("configuration source={} version={}", running.source, running.version);

    Daemon::block_handled_signals();
    try {
        Daemon daemon(std::move(config), std::move(running));
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::error("journeyd not started: {}", e.what());
        return 1;
    }
}
