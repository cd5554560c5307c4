#include "runtime/bench/config.hpp"

#include <toml++/toml.h>
#include <sstream>
#include <stdexcept>

#include "config/config.hpp"

namespace journeyd::bench {
namespace {

std::string duration_text(DurationMs ms) {
    return std::to_string(ms) + "ms";
}

// The generated text must be a configuration journeyd accepts: better said here than in a
// daemon log.
std::string validated(std::string toml_text, const std::string& what) {
    const ConfigResult loaded = load_config_text(toml_text, what);
    if (loaded.config) return toml_text;
    std::string message = "journey-bench generated an invalid " + what + ":";
    for (const ConfigError& error : loaded.errors) message += "\n  " + error.to_string();
    throw std::runtime_error(message);
}

// The embedded default journey with the given arbitration window and a store that fsyncs
// every commit. Edited as TOML, not as text, so a reworded default cannot silently keep the
// old window.
// `count` segments over the marketplace's events, as a marketer might write them: event counts
// in windows of a day to a month, every third also on stages, every fourth on the segment
// before it (so segments of segments are evaluated too).
toml::array generated_segments(size_t count) {
    static const char* const kTypes[] = {
        "search", "view", "favorite", "ad_placed", "message_sent", "message_received", "sale"};
    static const char* const kWithin[] = {"1d", "7d", "30d"};
    toml::array segments;
    for (size_t i = 0; i < count; ++i) {
        toml::array when;
        when.push_back(toml::table{
            {"event", kTypes[i % 7]}, {"min", int64_t(1 + i % 3)}, {"within", kWithin[i % 3]}});
        if (i % 3 == 0) when.push_back(toml::table{{"stage", toml::array{"exploring", "active"}}});
        if (i % 4 == 3) when.push_back(toml::table{{"segment", "s" + std::to_string(i - 1)}});
        segments.push_back(toml::table{{"name", "s" + std::to_string(i)}, {"when", when}});
    }
    return segments;
}

// `count` actions, each on a generated segment or stage, with goals on the marketplace's events.
toml::array generated_actions(size_t count, size_t segments) {
    static const char* const kChannels[] = {"email", "push", "in_app"};
    static const char* const kGoals[] = {"ad_placed", "message_sent", "sale", "favorite"};
    toml::array actions;
    for (size_t i = 0; i < count; ++i) {
        toml::array when;
        if (segments > 0 && i % 2 == 0)
            when.push_back(toml::table{{"segment", "s" + std::to_string(i % segments)}});
        else
            when.push_back(toml::table{{"stage", toml::array{"exploring", "active", "loyal"}}});
        actions.push_back(
            toml::table{{"name", "a" + std::to_string(i)},
                        {"channel", kChannels[i % 3]},
                        {"priority", "promotional"},
                        {"template", "a" + std::to_string(i)},
                        {"value", double(1 + i % 5)},
                        {"when", when},
                        {"goal", toml::table{{"event", kGoals[i % 4]}, {"within", "3d"}}},
                        {"cooldown", "1d"}});
    }
    return actions;
}

// Appends the generated segments to the journey's own.
void add_segments(toml::table& config, size_t segments) {
    if (segments == 0) return;
    toml::array* own = config["segment"].as_array();
    if (!own) {
        config.insert_or_assign("segment", generated_segments(segments));
        return;
    }
    for (auto& segment : generated_segments(segments)) own->push_back(std::move(segment));
}

toml::table marketplace_table(const std::string& arbitration_window, size_t segments = 0) {
    if (!parse_duration(arbitration_window))
        throw std::runtime_error("--arbitration-window \"" + arbitration_window +
                                 "\" is not a duration like \"0s\" or \"2s\"");
    toml::table config = toml::parse(default_config_text());
    toml::table* pressure = config["pressure"].as_table();
    if (!pressure) throw std::runtime_error("the default journey has no [pressure] table");
    pressure->insert_or_assign("arbitration_window", arbitration_window);
    config.insert_or_assign("store", toml::table{{"sync", true}});
    add_segments(config, segments);
    return config;
}

std::string marketplace_text(const toml::table& config, const std::string& what) {
    std::ostringstream text;
    text << config << "\n";
    return validated(text.str(), what);
}

}  // namespace

std::string cluster_member_name(size_t index) {
    return "node-" + std::to_string(index + 1);
}

std::string marketplace_config(const std::string& arbitration_window,
                               const std::vector<uint16_t>& middleman_ports, size_t self,
                               size_t segments) {
    toml::table config = marketplace_table(arbitration_window, segments);
    if (middleman_ports.size() > 1) {
        toml::table* node = config["node"].as_table();
        if (!node) throw std::runtime_error("the default journey has no [node] table");
        node->insert_or_assign("name", cluster_member_name(self));
        toml::array members;
        for (size_t i = 0; i < middleman_ports.size(); ++i)
            members.push_back(cluster_member_name(i) +
                              "@127.0.0.1:" + std::to_string(middleman_ports[i]));
        config.insert_or_assign("cluster", toml::table{{"members", std::move(members)}});
    }
    return marketplace_text(config, "marketplace configuration");
}

std::string decisioning_config(size_t segments, size_t actions) {
    toml::table config = marketplace_table("0s");
    // Without the default journey's own segments, actions and the programs that use them.
    config.erase("segment");
    config.erase("action");
    config.erase("decisioning");
    toml::array kept;
    for (auto& program : *config["program"].as_array()) {
        const toml::table& table = *program.as_table();
        if (table.contains("action") || table.contains("on_segment_enter") ||
            table.contains("on_segment_exit"))
            continue;
        kept.push_back(program);
    }
    if (actions > 0) {
        kept.push_back(
            toml::table{{"name", "nba_on_view"}, {"on_event", "view"}, {"action", "best"}});
        config.insert_or_assign("action", generated_actions(actions, segments));
    }
    config.insert_or_assign("program", std::move(kept));
    add_segments(config, segments);
    return marketplace_text(config, "decisioning configuration");
}

std::string marketplace_memory_config(DurationMs idle_after) {
    toml::table config = marketplace_table("0s");
    config.insert_or_assign("runtime", toml::table{{"idle_after", duration_text(idle_after)}});
    toml::table* pressure = config["pressure"].as_table();
    pressure->erase("rate");
    return marketplace_text(config, "marketplace memory configuration");
}

std::string wait_event_type(size_t k) {
    return "wait" + std::to_string(k);
}

std::string timer_journey_config(const std::vector<DurationMs>& timer_afters,
                                 DurationMs idle_after) {
    std::ostringstream toml;
    toml << "[node]\nname = \"bench\"\n\n"
         << "[delivery]\nsink = \"file:deliveries.ndjson\"\n\n"
         << "[store]\nsync = true\n\n"
         << "[runtime]\nidle_after = \"" << duration_text(idle_after) << "\"\n\n"
         << "[journey]\nstages = [\"new\"";
    for (size_t k = 0; k < timer_afters.size(); ++k) toml << ", \"" << wait_event_type(k) << "\"";
    toml << ", \"done\"]\ninitial_stage = \"new\"\n";
    for (size_t k = 0; k < timer_afters.size(); ++k) {
        const std::string stage = wait_event_type(k);
        toml << "\n[[journey.transition]]\nfrom = [\"new\"]\non = \"" << stage << "\"\nto = \""
             << stage << "\"\n"
             << "\n[[journey.timer]]\nname = \"due" << k << "\"\nin = [\"" << stage
             << "\"]\nafter = \"" << duration_text(timer_afters[k]) << "\"\nto = \"done\"\n";
    }
    return validated(toml.str(), "timer journey");
}

}  // namespace journeyd::bench
