#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <toml++/toml.h>

#include "config/config.hpp"

namespace journeyd {

std::string ConfigError::to_string() const {
    return source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const std::vector<TableKeys>& known_config_keys() {
    static const std::vector<TableKeys> tables = {
        {kTopLevelTable,
         {"node", "cluster", "admin", "ingest", "delivery", "store", "runtime", "identity",
          "journey", "program", "pressure", "segment", "action", "decisioning", "experiment",
          "rhythm"}},
        {"[node]", {"name", "data_dir", "ingest", "admin"}},
        {"[cluster]", {"members", "listen", "connect_timeout", "forward_timeout"}},
        {"[admin]",
         {"token", "max_body", "max_connections", "read_timeout", "tls_cert", "tls_key"}},
        {"[ingest]",
         {"max_connections", "max_frame", "max_pending_frames", "max_unsent_bytes", "io_threads",
          "idle_timeout", "token", "tls_cert", "tls_key"}},
        {"[delivery]", {"sink"}},
        {"[store]", {"sync", "applied_ids_retention", "max_size"}},
        {"[runtime]", {"idle_after", "realtime_coordinator"}},
        {"[identity]", {"max_aliases"}},
        {"[journey]", {"stages", "initial_stage", "transition", "timer", "driver", "migrate"}},
        {"[[journey.transition]]", {"from", "on", "count", "within", "to"}},
        {"[[journey.timer]]", {"name", "in", "after", "to"}},
        {"[[journey.driver]]", {"from", "to", "window"}},
        {"[[program]]",
         {"name", "on_enter", "on_event", "on_segment_enter", "on_segment_exit", "delay", "channel",
          "priority", "template", "when", "action", "actions", "goal", "holdout", "send_at",
          "send_within"}},
        {"[[program]].goal", {"event", "within"}},
        {"[[segment]]", {"name", "when"}},
        {"[[action]]",
         {"name", "channel", "priority", "template", "value", "weight", "when", "goal", "cooldown",
          "holdout"}},
        {"[[action]].goal", {"event", "within"}},
        {"[decisioning]", {"explore"}},
        {"[experiment]", {"global_holdout", "salt"}},
        {"[rhythm]", {"engagement", "half_life"}},
        {"[pressure]", {"hierarchy", "exempt", "arbitration_window", "quiet_hours", "cap", "rate"}},
        {"[pressure].quiet_hours", {"start", "end"}},
        {"[[pressure.cap]]", {"channel", "max", "per"}},
    };
    return tables;
}

namespace {

constexpr std::string_view kDurationForms =
    R"(a whole number and one unit, e.g. "250ms", "30s", "15m", "2h", "7d")";

constexpr std::string_view kByteSizeForms =
    R"(a whole number of bytes, or a string of a whole number and one unit, B, KB, MB, GB, TB )"
    R"((powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. "512MiB", "64GiB", "100GB")";

// "<digits><unit>" with one of the units of kByteSizeForms, in bytes; nullopt when malformed or
// beyond 2^63-1 (as an integer written in the file could not be either).
std::optional<uint64_t> parse_byte_size(std::string_view text) {
    struct Unit {
        std::string_view suffix;
        uint64_t bytes;
    };
    constexpr uint64_t kKi = 1024, kK = 1000;
    constexpr Unit kUnits[] = {{"B", 1},
                               {"KB", kK},
                               {"MB", kK * kK},
                               {"GB", kK * kK * kK},
                               {"TB", kK * kK * kK * kK},
                               {"KiB", kKi},
                               {"MiB", kKi * kKi},
                               {"GiB", kKi * kKi * kKi},
                               {"TiB", kKi * kKi * kKi * kKi}};
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 18) return std::nullopt;  // 18 digits cannot overflow below
    uint64_t number = 0;
    for (size_t i = 0; i < digits; ++i) number = number * 10 + static_cast<uint64_t>(text[i] - '0');
    for (const Unit& unit : kUnits) {
        if (text.substr(digits) != unit.suffix) continue;
        constexpr uint64_t kMax = uint64_t(std::numeric_limits<int64_t>::max());
        if (number > kMax / unit.bytes) return std::nullopt;
        return number * unit.bytes;
    }
    return std::nullopt;
}

std::string quote(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

std::string join(const std::vector<std::string>& items) {
    std::string joined;
    for (const std::string& item : items) {
        if (!joined.empty()) joined += ", ";
        joined += item;
    }
    return joined;
}

// For "must be a string, not an integer".
std::string_view with_article(toml::node_type type) {
    switch (type) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

// A value read from the file together with where it was written, so that checks made after
// reading (unknown stage, duplicate name, ...) still point at the right line and column.
template <typename T>
struct Located {
    T value;
    toml::source_position where;
};

// A TOML table and the name errors call it by, e.g. "[[program]]".
struct Section {
    const toml::table& table;
    std::string label;

    int line() const { return static_cast<int>(table.source().begin.line); }
};

// "HH:MM" from 00:00 to 23:59, as minutes after midnight.
std::optional<int> parse_clock_minutes(std::string_view text) {
    const auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
    if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4))
        return std::nullopt;
    const int hours = (text[0] - '0') * 10 + (text[1] - '0');
    const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
    if (hours > 23 || minutes > 59) return std::nullopt;
    return hours * 60 + minutes;
}

bool is_host_port(std::string_view text) {
    return parse_address(text).has_value();
}

// A cluster member's NAME: letters, digits, '-', '_' and '.'.
bool is_member_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

// The keys allowed in the table errors call `label`. Every section the reader checks has an
// entry, so a missing one is a bug in this file, not in the configuration.
const std::vector<std::string_view>& keys_of(std::string_view label) {
    for (const TableKeys& table : known_config_keys())
        if (table.table == label) return table.keys;
    throw std::logic_error("no list of known keys for " + std::string(label));
}

bool is_delivery_sink(std::string_view sink) {
    constexpr std::string_view kFile = "file:";
    constexpr std::string_view kHttp = "http://";
    if (sink.substr(0, kFile.size()) == kFile) return sink.size() > kFile.size();
    if (sink.substr(0, kHttp.size()) == kHttp) return sink.size() > kHttp.size();
    return false;
}

// Reads a parsed document into a Config, collecting every error instead of stopping at the
// first. Checks that depend on another section (stage names, priority classes) are skipped
// when that section is itself broken, so one mistake does not cascade into dozens.
class ConfigReader {
  public:
    explicit ConfigReader(std::string source) : source_(std::move(source)) {}

    ConfigResult read(const toml::table& root) {
        const Section top{root, std::string(kTopLevelTable)};
        check_known_keys(top);
        read_node(top);
        read_cluster(top);
        read_admin(top);
        read_delivery(top);
        read_ingest(top);
        read_store(top);
        read_runtime(top);
        read_identity(top);
        read_journey(top);
        read_pressure(top);
        read_segments(top);
        read_decisioning(top);
        read_experiment(top);
        read_rhythm(top);
        read_actions(top);
        read_programs(top);
        check_admin_exposure(root);
        return finish();
    }

    ConfigResult syntax_error(const toml::parse_error& error) {
        const toml::source_position where = error.source().begin;
        add_error(where, std::string(error.description()));
        return finish();
    }

  private:
    enum class Presence { optional, required };
    enum class AllowEmpty { no, yes };

    ConfigResult finish() {
        std::stable_sort(errors_.begin(), errors_.end(),
                         [](const ConfigError& a, const ConfigError& b) {
                             return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                         });
        ConfigResult result;
        if (errors_.empty()) result.config = std::move(config_);
        result.errors = std::move(errors_);
        return result;
    }

    // --- sections ----------------------------------------------------------------------------

    void read_node(const Section& top) {
        const std::optional<Section> node = optional_table(top, "node", "[node]");
        if (!node) {
            node_name_known_ = !top.table.contains("node");
            return;
        }
        check_known_keys(*node);
        NodeSettings& settings = config_.node;
        const auto name = optional_string(*node, "name");
        if (name) settings.name = name->value;
        node_name_known_ = name || !node->table.contains("name");
        if (auto data_dir = optional_string(*node, "data_dir")) settings.data_dir = data_dir->value;
        for (auto [key, address] :
             {std::pair{"ingest", &settings.ingest}, std::pair{"admin", &settings.admin}}) {
            const auto value = optional_string(*node, key);
            if (!value) continue;
            if (!is_host_port(value->value)) {
                add_error(value->where, std::string(key) + " " + quote(value->value) +
                                            " in [node] must be HOST:PORT with a port from 0 "
                                            "to 65535, e.g. \"127.0.0.1:7400\"");
            }
            *address = value->value;
        }
    }

    // Extension: [cluster], the static member list; without it this node runs alone.
    void read_cluster(const Section& top) {
        const std::optional<Section> cluster = optional_table(top, "cluster", "[cluster]");
        if (!cluster) return;
        check_known_keys(*cluster);
        ClusterSettings& settings = config_.cluster;
        read_members(*cluster);
        if (auto listen = optional_string(*cluster, "listen")) {
            const std::optional<Address> address = parse_address(listen->value);
            if (!address || address->port == 0) {
                add_error(listen->where, "listen " + quote(listen->value) +
                                             " in [cluster] must be HOST:PORT with a port from 1 "
                                             "to 65535, e.g. \"0.0.0.0:7410\"");
            }
            settings.listen = listen->value;
        }
        for (auto [key, target] : {std::pair{"connect_timeout", &settings.connect_timeout},
                                   std::pair{"forward_timeout", &settings.forward_timeout}}) {
            const auto timeout = duration_value(*cluster, key);
            if (!timeout) continue;
            if (timeout->value <= 0)
                add_error(timeout->where, subject(key, *cluster) + " must be more than 0");
            *target = timeout->value;
        }
    }

    // members = ["NAME@HOST:PORT", ...] in file order: names and addresses unique, and this
    // node ([node] name) one of them. Peers dial the port, so 0 is not allowed.
    void read_members(const Section& cluster) {
        const auto entries = string_list(cluster, "members", Presence::required);
        if (!entries) return;
        const toml::source_position list = cluster.table.get("members")->source().begin;
        if (entries->empty()) {
            add_error(list, subject("members", cluster) + " must list at least one member");
            return;
        }
        std::map<std::string, int> name_lines;
        std::map<std::string, int> address_lines;
        std::vector<std::string> names;
        for (const Located<std::string>& entry : *entries) {
            const size_t at = entry.value.find('@');
            const std::string name = entry.value.substr(0, at);
            const std::string host_port = at == std::string::npos ? "" : entry.value.substr(at + 1);
            const std::optional<Address> address = parse_address(host_port);
            if (!is_member_name(name) || !address || address->port == 0) {
                add_error(entry.where,
                          "[cluster] members: " + quote(entry.value) +
                              " is not NAME@HOST:PORT (NAME of letters, digits, '-', '_' and "
                              "'.'; a port from 1 to 65535), e.g. \"node-a@127.0.0.1:7410\"");
                continue;
            }
            note_unique(name_lines, {name, entry.where}, "[cluster] member name");
            note_unique(address_lines, {host_port, entry.where}, "[cluster] member address");
            config_.cluster.members.push_back(ClusterMember{name, address->host, address->port});
            names.push_back(name);
        }
        // A malformed entry may be this node's: only a fully read list can say it is missing.
        if (names.size() != entries->size() || !node_name_known_) return;
        if (std::find(names.begin(), names.end(), config_.node.name) != names.end()) return;
        add_error(list, "[node] name " + quote(config_.node.name) +
                            " is not among [cluster] members (" + join(names) + ")");
    }

    // Extension: [admin] max_body, the longest request body the admin port reads;
    // max_connections and read_timeout, which keep slow or idle clients from holding it.
    void read_admin(const Section& top) {
        const std::optional<Section> admin = optional_table(top, "admin", "[admin]");
        if (!admin) return;
        check_known_keys(*admin);
        if (auto token = optional_string(*admin, "token", AllowEmpty::yes))
            config_.admin.token = token->value;
        read_limits(*admin, {{"max_body", &config_.admin.max_body},
                             {"max_connections", &config_.admin.max_connections}});
        if (auto timeout = duration_value(*admin, "read_timeout")) {
            if (timeout->value <= 0)
                add_error(timeout->where, subject("read_timeout", *admin) + " must be more than 0");
            config_.admin.read_timeout = timeout->value;
        }
        read_tls(*admin, config_.admin.tls);
    }

    // Extension: tls_cert and tls_key, in [admin] and [ingest]: both or neither.
    void read_tls(const Section& section, TlsSettings& tls) {
        const auto cert = optional_string(section, "tls_cert");
        const auto key = optional_string(section, "tls_key");
        if (cert && !key)
            add_error(cert->where, subject("tls_cert", section) + " needs tls_key beside it");
        if (key && !cert)
            add_error(key->where, subject("tls_key", section) + " needs tls_cert beside it");
        if (cert && key) {
            tls.cert = cert->value;
            tls.key = key->value;
        }
    }

    // An admin port other machines can reach must ask for a token: it reads every customer
    // and accepts events. Reported at [node] admin (the default address is loopback).
    void check_admin_exposure(const toml::table& root) {
        if (!is_host_port(config_.node.admin)) return;  // reported as malformed already
        const std::string refused = admin_exposure_error(config_.node.admin, config_.admin.token);
        if (refused.empty()) return;
        add_error(root.at_path("node.admin").node()->source().begin, refused);
    }

    // Extension: [store] sync = false trades durability of the last commits for speed;
    // applied_ids_retention (default 7d) is how long applied event ids stay known.
    void read_store(const Section& top) {
        const std::optional<Section> store = optional_table(top, "store", "[store]");
        if (!store) return;
        check_known_keys(*store);
        if (auto keep = duration_value(*store, "applied_ids_retention"))
            config_.store.applied_ids_retention = keep->value;
        if (auto sync = optional_bool(*store, "sync")) config_.store.sync = *sync;
        // Below this LMDB's own pages and a few batches would fill the store at once.
        constexpr uint64_t kMinStoreSize = uint64_t(1) << 20;
        if (auto size = byte_size_value(*store, "max_size")) {
            if (size->value < kMinStoreSize)
                add_error(size->where, subject("max_size", *store) + " must be at least 1MiB (" +
                                           std::to_string(kMinStoreSize) + " bytes), not " +
                                           std::to_string(size->value) + " bytes");
            else
                config_.store.max_size = size->value;
        }
    }

    // Extension: [ingest] limits: connections, and per connection.
    void read_ingest(const Section& top) {
        const std::optional<Section> ingest = optional_table(top, "ingest", "[ingest]");
        if (!ingest) return;
        check_known_keys(*ingest);
        IngestSettings& settings = config_.ingest;
        read_limits(*ingest, {{"max_connections", &settings.max_connections},
                              {"max_frame", &settings.max_frame},
                              {"max_pending_frames", &settings.max_pending_frames},
                              {"max_unsent_bytes", &settings.max_unsent_bytes}});
        // 0 is allowed (one thread a core); more threads than this buy nothing but stacks.
        if (const auto value = integer_value(*ingest, "io_threads")) {
            if (value->value < 0 || value->value > kMaxIoThreads)
                add_error(value->where, "io_threads in [ingest] must be from 0 to " +
                                            std::to_string(kMaxIoThreads));
            else
                settings.io_threads = static_cast<uint64_t>(value->value);
        }
        if (auto idle = duration_value(*ingest, "idle_timeout"))
            settings.idle_timeout = idle->value;
        // An empty token would make the hello a formality: refused rather than taken as "off".
        if (auto token = optional_string(*ingest, "token")) settings.token = token->value;
        read_tls(*ingest, settings.tls);
    }
    static constexpr int64_t kMaxIoThreads = 256;

    // Limits are integers from 1 to 2^32-1; each is kept where `target` points.
    void read_limits(const Section& section,
                     std::initializer_list<std::pair<const char*, uint64_t*>> limits) {
        for (auto [key, target] : limits) {
            const auto value = integer_value(section, key);
            if (!value) continue;
            if (value->value < 1 || value->value > (int64_t{1} << 32) - 1) {
                add_error(value->where,
                          std::string(key) + " in " + section.label + " must be from 1 to 2^32-1");
                continue;
            }
            *target = static_cast<uint64_t>(value->value);
        }
    }

    // [identity] max_aliases: how many aliases one customer may have (docs/configuration.md).
    void read_identity(const Section& top) {
        const std::optional<Section> identity = optional_table(top, "identity", "[identity]");
        if (!identity) return;
        check_known_keys(*identity);
        uint64_t max_aliases = config_.identity.max_aliases;
        read_limits(*identity, {{"max_aliases", &max_aliases}});
        config_.identity.max_aliases = max_aliases;
    }

    // Extension: [runtime] idle_after = "10m" passivates customers idle that long ("0s": never).
    void read_runtime(const Section& top) {
        const std::optional<Section> runtime = optional_table(top, "runtime", "[runtime]");
        if (!runtime) return;
        check_known_keys(*runtime);
        if (auto idle = duration_value(*runtime, "idle_after"))
            config_.runtime.idle_after = idle->value;
        if (auto realtime = optional_bool(*runtime, "realtime_coordinator"))
            config_.runtime.realtime_coordinator = *realtime;
    }

    void read_delivery(const Section& top) {
        const std::optional<Section> delivery = optional_table(top, "delivery", "[delivery]");
        if (!delivery) return;
        check_known_keys(*delivery);
        const auto sink = optional_string(*delivery, "sink");
        if (!sink) return;
        if (!is_delivery_sink(sink->value)) {
            add_error(sink->where, "sink " + quote(sink->value) +
                                       " in [delivery] must be \"file:PATH\" or "
                                       "\"http://HOST:PORT/PATH\"");
        }
        config_.delivery.sink = sink->value;
    }

    void read_journey(const Section& top) {
        const std::optional<Section> journey = optional_table(top, "journey", "[journey]");
        if (!journey) {
            if (!top.table.contains("journey"))
                add_error({0, 0}, "missing required table [journey]");
            return;
        }
        check_known_keys(*journey);
        read_stages(*journey);
        if (auto initial = required_string(*journey, "initial_stage")) {
            if (auto id = resolve_stage(*initial)) config_.journey.initial_stage = *id;
        }
        for (const Section& rule :
             array_of_tables(*journey, "transition", "[[journey.transition]]"))
            read_transition(rule);
        std::map<std::string, int> timer_lines;
        for (const Section& timer : array_of_tables(*journey, "timer", "[[journey.timer]]"))
            read_timer(timer, timer_lines);
        std::map<std::string, int> driver_lines;
        for (const Section& driver : array_of_tables(*journey, "driver", "[[journey.driver]]"))
            read_driver(driver, driver_lines);
        read_migrations(*journey);
    }

    // REMOVED = "STAGE": only a stage this text no longer has can be moved, and only into one it
    // has (a chain would leave customers in a stage that is gone).
    void read_migrations(const Section& journey) {
        const auto migrate = optional_table(journey, "migrate", "[journey.migrate]");
        if (!migrate || !stages_known_) return;
        for (auto&& [key, node] : migrate->table) {
            const std::string removed(key.str());
            if (config_.journey.stage_id(removed)) {
                add_error(key.source().begin,
                          "[journey.migrate] " + quote(removed) +
                              " is a stage of this journey: only removed stages are migrated");
                continue;
            }
            const auto* target = node.as_string();
            if (!target) {
                add_error(node.source().begin,
                          "[journey.migrate] " + quote(removed) + " must be the name of a stage");
                continue;
            }
            const Located<std::string> to{target->get(), node.source().begin};
            if (auto id = resolve_stage(to)) config_.journey.migrations.emplace_back(removed, *id);
        }
    }

    // A pair is declared once per window: the same from, to and window twice would count every
    // episode twice under one name.
    void read_driver(const Section& section, std::map<std::string, int>& driver_lines) {
        check_known_keys(section);
        DriverRule driver;
        const auto from = required_string(section, "from");
        const auto to = required_string(section, "to");
        const auto window = duration_value(section, "window", Presence::required);
        std::optional<StageId> from_id, to_id;
        if (from) from_id = resolve_stage(*from);
        if (to) to_id = resolve_stage(*to);
        if (from_id && to_id && *from_id == *to_id)
            add_error(to->where, subject("to", section) +
                                     " must differ from \"from\": an episode "
                                     "ends by leaving the stage");
        if (window && window->value <= 0)
            add_error(window->where, subject("window", section) + " must be more than 0");
        if (!from_id || !to_id || !window || window->value <= 0 || *from_id == *to_id) return;
        driver.from = *from_id;
        driver.to = *to_id;
        driver.window = window->value;
        driver.name = driver_name_of(from->value, to->value, driver.window);
        if (config_.journey.drivers.size() >= 0xfffe) {
            add_error(section.table.source().begin, "too many [[journey.driver]] (at most 65534)");
            return;
        }
        config_.journey.drivers.push_back(driver);
        if (!note_unique(driver_lines,
                         {config_.journey.driver_name(config_.journey.drivers.size() - 1),
                          section.table.source().begin},
                         "[[journey.driver]] from, to and window"))
            config_.journey.drivers.pop_back();
    }

    void read_stages(const Section& journey) {
        const auto stages = string_list(journey, "stages", Presence::required);
        if (!stages) return;
        if (stages->empty()) {
            add_error(journey.table.get("stages")->source().begin,
                      subject("stages", journey) + " must not be empty");
            return;
        }
        if (stages->size() > std::numeric_limits<StageId>::max()) {
            add_error(journey.table.get("stages")->source().begin,
                      "too many stages in [journey] (at most 65535)");
            return;
        }
        std::map<std::string, int> first_lines;
        for (const Located<std::string>& stage : *stages) {
            if (note_unique(first_lines, stage, "stage"))
                config_.journey.stages.push_back(stage.value);
        }
        stages_known_ = true;
    }

    void read_transition(const Section& rule) {
        check_known_keys(rule);
        TransitionRule transition;
        transition.line = rule.line();
        if (auto from = string_list(rule, "from", Presence::optional)) {
            if (from->empty()) {
                add_error(rule.table.get("from")->source().begin,
                          "from = [] matches no stage; omit \"from\" to match any stage");
            }
            transition.from = resolve_stages(*from);
        }
        if (auto on = event_types(rule, "on")) transition.on = *on;
        // A count and its window only make sense together; when either one is unreadable, its
        // own error is enough.
        const auto count = integer_value(rule, "count");
        const auto within = duration_value(rule, "within");
        bool count_valid = !rule.table.contains("count");
        if (count) {
            if (count->value < 1 || count->value > std::numeric_limits<uint32_t>::max()) {
                add_error(count->where, subject("count", rule) + " must be at least 1");
            } else {
                transition.count = static_cast<uint32_t>(count->value);
                count_valid = true;
            }
        }
        if (within) transition.within = within->value;
        if (transition.counts() && !rule.table.contains("within")) {
            const std::string events = std::to_string(transition.count);
            add_error(count->where, "count = " + events +
                                        " needs \"within\": the rolling window the " + events +
                                        " events must fall in");
        }
        if (within && count_valid && !transition.counts()) {
            add_error(within->where,
                      "\"within\" only applies with count of 2 or more; add a count or remove "
                      "\"within\"");
        }
        if (within && transition.counts() && within->value <= 0)
            add_error(within->where, subject("within", rule) + " must be more than 0");
        if (auto to = required_string(rule, "to")) {
            if (auto id = resolve_stage(*to)) transition.to = *id;
        }
        config_.journey.transitions.push_back(std::move(transition));
    }

    void read_timer(const Section& section, std::map<std::string, int>& timer_lines) {
        check_known_keys(section);
        TimerRule timer;
        if (auto name = required_string(section, "name")) {
            note_unique(timer_lines, *name, "timer name");
            timer.name = name->value;
        }
        if (auto in = string_list(section, "in", Presence::required)) {
            if (in->empty()) {
                add_error(section.table.get("in")->source().begin,
                          subject("in", section) + " must list at least one stage");
            }
            timer.in = resolve_stages(*in);
        }
        if (auto after = duration_value(section, "after", Presence::required)) {
            if (after->value <= 0)
                add_error(after->where, subject("after", section) + " must be more than 0");
            timer.after = after->value;
        }
        if (auto to = required_string(section, "to")) {
            if (auto id = resolve_stage(*to)) timer.to = *id;
        }
        config_.journey.timers.push_back(std::move(timer));
    }

    void read_pressure(const Section& top) {
        const std::optional<Section> pressure = optional_table(top, "pressure", "[pressure]");
        if (!pressure) {
            // Without [pressure] the hierarchy is empty, so every program priority is an error:
            // a journey cannot send without saying how its sends rank.
            hierarchy_known_ = !top.table.contains("pressure");
            return;
        }
        check_known_keys(*pressure);
        PressurePolicy& policy = config_.pressure;
        read_hierarchy(*pressure);
        policy.exempt.assign(policy.hierarchy.size(), false);
        if (auto exempt = string_list(*pressure, "exempt", Presence::optional)) {
            for (const Located<std::string>& name : *exempt) {
                if (auto index = resolve_class(name, "exempt class")) policy.exempt[*index] = true;
            }
        }
        if (auto window = duration_value(*pressure, "arbitration_window"))
            policy.arbitration_window = window->value;
        read_quiet_hours(*pressure);
        for (const Section& cap : array_of_tables(*pressure, "cap", "[[pressure.cap]]"))
            read_cap(cap);
        read_rates(*pressure);
    }

    void read_hierarchy(const Section& pressure) {
        const auto classes = string_list(pressure, "hierarchy", Presence::optional);
        if (!classes) {
            hierarchy_known_ = !pressure.table.contains("hierarchy");
            return;
        }
        if (classes->size() > std::numeric_limits<PriorityClass>::max()) {
            add_error(pressure.table.get("hierarchy")->source().begin,
                      "too many classes in [pressure].hierarchy (at most 255)");
            return;
        }
        std::map<std::string, int> first_lines;
        for (const Located<std::string>& name : *classes) {
            if (note_unique(first_lines, name, "class"))
                config_.pressure.hierarchy.push_back(name.value);
        }
        hierarchy_known_ = true;
    }

    void read_quiet_hours(const Section& pressure) {
        const auto quiet = optional_table(pressure, "quiet_hours", "[pressure].quiet_hours");
        if (!quiet) return;
        check_known_keys(*quiet);
        std::optional<int> bounds[2];
        const char* const keys[2] = {"start", "end"};
        for (int i = 0; i < 2; ++i) {
            const auto text = required_string(*quiet, keys[i]);
            if (!text) continue;
            bounds[i] = parse_clock_minutes(text->value);
            if (!bounds[i]) {
                add_error(text->where, std::string("quiet_hours ") + keys[i] + " " +
                                           quote(text->value) +
                                           " must be a time HH:MM from 00:00 to 23:59");
            }
        }
        if (!bounds[0] || !bounds[1]) return;
        if (*bounds[0] == *bounds[1]) {
            add_error(quiet->table.source().begin,
                      "quiet_hours start and end are equal: the window would be empty");
            return;
        }
        config_.pressure.quiet_hours = QuietHours{*bounds[0], *bounds[1]};
    }

    void read_cap(const Section& section) {
        check_known_keys(section);
        CapRule cap;
        if (auto channel = required_string(section, "channel")) cap.channel = channel->value;
        if (auto max = integer_value(section, "max", Presence::required)) {
            if (max->value < 1 || max->value > std::numeric_limits<uint32_t>::max())
                add_error(max->where, subject("max", section) + " must be at least 1");
            else
                cap.max = static_cast<uint32_t>(max->value);
        }
        if (auto per = duration_value(section, "per", Presence::required)) {
            if (per->value <= 0)
                add_error(per->where, subject("per", section) + " must be more than 0");
            cap.per = per->value;
        }
        config_.pressure.caps.push_back(std::move(cap));
    }

    // [pressure.rate] keys are channel names, so there is no list of known keys to check.
    void read_rates(const Section& pressure) {
        const auto rates = optional_table(pressure, "rate", "[pressure.rate]");
        if (!rates) return;
        for (auto&& [channel, node] : rates->table) {
            const std::string name(channel.str());
            if (name.empty()) {
                add_error(channel.source().begin, "empty channel name in [pressure.rate]");
                continue;
            }
            std::optional<double> rate;
            if (auto integer = node.as_integer()) rate = static_cast<double>(integer->get());
            if (auto floating = node.as_floating_point()) rate = floating->get();
            if (!rate || !std::isfinite(*rate) || *rate <= 0) {
                add_error(node.source().begin, "rate for " + quote(name) +
                                                   " in [pressure.rate] must be a positive "
                                                   "number of sends per second");
                continue;
            }
            config_.pressure.rate[name] = *rate;
        }
    }

    void read_programs(const Section& top) {
        std::map<std::string, int> first_lines;
        for (const Section& section : array_of_tables(top, "program", "[[program]]"))
            read_program(section, first_lines);
    }

    static constexpr DurationMs kLongestSendWithin = 7 * 86'400'000LL;

    void read_program(const Section& section, std::map<std::string, int>& first_lines) {
        check_known_keys(section);
        Program program;
        if (auto name = required_string(section, "name")) {
            note_unique(first_lines, *name, "program name");
            program.name = name->value;
        }
        const auto on_enter = optional_string(section, "on_enter");
        const auto on_event = optional_string(section, "on_event");
        const auto on_segment_enter = optional_string(section, "on_segment_enter");
        const auto on_segment_exit = optional_string(section, "on_segment_exit");
        std::vector<const toml::node*> triggers;
        for (const char* key : {"on_enter", "on_event", "on_segment_enter", "on_segment_exit"})
            if (const toml::node* node = section.table.get(key)) triggers.push_back(node);
        if (triggers.size() != 1) {
            add_error(triggers.empty() ? section.table.source().begin : triggers[1]->source().begin,
                      "[[program]] needs exactly one of on_enter / on_event / on_segment_enter / "
                      "on_segment_exit, found " +
                          std::string(triggers.empty() ? "neither" : "more"));
        }
        if (on_enter) program.on_enter = resolve_stage(*on_enter);
        if (on_event) program.on_event = on_event->value;
        if (on_segment_enter) program.on_segment_enter = resolve_segment(*on_segment_enter);
        if (on_segment_exit) program.on_segment_exit = resolve_segment(*on_segment_exit);
        if (auto delay = duration_value(section, "delay")) program.delay = delay->value;
        if (const auto action = optional_string(section, "action")) {
            read_best_action(section, *action, program);
        } else {
            if (section.table.get("actions"))
                add_error(section.table.get("actions")->source().begin,
                          "actions of [[program]] needs action = \"best\"");
            read_message(section, program.channel, program.priority, program.template_name);
        }
        program.when = read_condition(section, Presence::optional);
        if (section.table.get("goal")) program.goal = read_goal(section, "[[program]]");
        if (auto holdout = share(section, "holdout")) program.holdout = *holdout;
        read_send_time(section, program);
        config_.journey.programs.push_back(std::move(program));
    }

    // send_at and send_within. The window bounds the hours best_hour weighs (one zone lookup
    // each) and how long a request waits in the coordinator.
    void read_send_time(const Section& section, Program& program) {
        const auto send_at = optional_string(section, "send_at");
        if (send_at && send_at->value != "now" && send_at->value != "best_hour")
            add_error(send_at->where,
                      "send_at of [[program]] must be \"now\" or \"best_hour\", "
                      "not " +
                          quote(send_at->value));
        program.send_at_best_hour = send_at && send_at->value == "best_hour";
        if (auto within = duration_value(section, "send_within")) {
            if (!program.send_at_best_hour)
                add_error(within->where,
                          "send_within of [[program]] needs send_at = \"best_hour\"");
            else if (within->value <= 0 || within->value > kLongestSendWithin)
                add_error(within->where,
                          "send_within of [[program]] must be more than 0 and at "
                          "most 7d");
            else
                program.send_within = within->value;
        }
        if (program.send_at_best_hour && config_.journey.rhythm.engagement.empty())
            add_error(send_at->where,
                      "send_at = \"best_hour\" needs [rhythm] engagement: without "
                      "engagement events no customer has a best hour");
    }

    // channel, priority and template: what a program or an action sends.
    void read_message(const Section& section, std::string& channel, PriorityClass& priority,
                      std::string& template_name) {
        if (auto read = required_string(section, "channel")) channel = read->value;
        if (auto name = required_string(section, "priority")) {
            if (auto index = resolve_class(*name, "priority")) priority = *index;
        }
        if (auto name = required_string(section, "template")) template_name = name->value;
    }

    // `action = "best"`: the program sends the best of its candidate actions, so it names no
    // message of its own.
    void read_best_action(const Section& section, const Located<std::string>& action,
                          Program& program) {
        if (action.value != "best")
            add_error(action.where,
                      "action of [[program]] must be \"best\", not " + quote(action.value));
        for (const char* key : {"channel", "priority", "template"})
            if (const toml::node* node = section.table.get(key))
                add_error(node->source().begin,
                          std::string(key) +
                              " of [[program]] comes from the chosen action with action = "
                              "\"best\"; remove it");
        program.best_action = true;
        const auto& actions = config_.journey.actions;
        if (actions.empty())
            add_error(action.where, "action = \"best\" needs at least one [[action]]");
        if (const auto listed = string_list(section, "actions", Presence::optional)) {
            if (listed->empty())
                add_error(section.table.get("actions")->source().begin,
                          "actions of [[program]] must name at least one action (or be left out "
                          "for all)");
            for (const Located<std::string>& name : *listed) {
                if (const auto id = config_.journey.action_id(name.value))
                    program.candidates.push_back(*id);
                else
                    add_error(name.where, "unknown action " + quote(name.value));
            }
        } else {
            for (size_t i = 0; i < actions.size(); ++i)
                program.candidates.push_back(static_cast<ActionId>(i));
        }
    }

    void read_decisioning(const Section& top) {
        const std::optional<Section> decisioning =
            optional_table(top, "decisioning", "[decisioning]");
        if (!decisioning) return;
        check_known_keys(*decisioning);
        if (const auto explore = optional_string(*decisioning, "explore")) {
            if (explore->value == "thompson")
                config_.journey.explore = Explore::thompson;
            else if (explore->value == "greedy")
                config_.journey.explore = Explore::greedy;
            else
                add_error(explore->where,
                          "explore in [decisioning] must be \"thompson\" or "
                          "\"greedy\", not " +
                              quote(explore->value));
        }
    }

    void read_actions(const Section& top) {
        std::map<std::string, int> first_lines;
        for (const Section& section : array_of_tables(top, "action", "[[action]]")) {
            check_known_keys(section);
            Action action;
            if (auto name = required_string(section, "name")) {
                note_unique(first_lines, *name, "action name");
                action.name = name->value;
            }
            read_message(section, action.channel, action.priority, action.template_name);
            if (auto value = positive_number(section, "value")) action.value = *value;
            if (auto weight = positive_number(section, "weight")) action.weight = *weight;
            action.when = read_condition(section, Presence::optional);
            if (auto cooldown = duration_value(section, "cooldown"))
                action.cooldown = cooldown->value;
            if (auto holdout = share(section, "holdout")) action.holdout = *holdout;
            if (section.table.get("goal"))
                action.goal = read_goal(section, "[[action]]");
            else
                add_error(section.table.source().begin,
                          "[[action]] needs goal = { event = \"...\", within = \"...\" }: its "
                          "propensity is learned from it");
            config_.journey.actions.push_back(std::move(action));
        }
    }

    // `goal = { event = "...", within = "3d" }` of an action or a program (`owner`).
    Goal read_goal(const Section& section, const std::string& owner) {
        Goal read;
        const std::optional<Section> goal = optional_table(section, "goal", owner + ".goal");
        if (!goal) return read;
        check_known_keys(*goal);
        if (auto event = required_string(*goal, "event")) read.event = event->value;
        if (auto within = duration_value(*goal, "within", Presence::required)) {
            if (within->value <= 0)
                add_error(within->where, "within of " + owner + ".goal must be longer than 0");
            read.within = within->value;
        }
        return read;
    }

    void read_rhythm(const Section& top) {
        const std::optional<Section> rhythm = optional_table(top, "rhythm", "[rhythm]");
        if (!rhythm) return;
        check_known_keys(*rhythm);
        if (const auto types = string_list(*rhythm, "engagement", Presence::optional)) {
            std::map<std::string, int> first_lines;
            for (const Located<std::string>& type : *types)
                if (note_unique(first_lines, type, "engagement event type"))
                    config_.journey.rhythm.engagement.push_back(type.value);
        }
        if (const auto half_life = duration_value(*rhythm, "half_life")) {
            if (half_life->value <= 0)
                add_error(half_life->where, subject("half_life", *rhythm) + " must be more than 0");
            else
                config_.journey.rhythm.half_life = half_life->value;
        }
    }

    void read_experiment(const Section& top) {
        const std::optional<Section> experiment = optional_table(top, "experiment", "[experiment]");
        if (!experiment) return;
        check_known_keys(*experiment);
        if (auto global = share(*experiment, "global_holdout"))
            config_.journey.experiment.global_holdout = *global;
        if (auto salt = optional_string(*experiment, "salt"))
            config_.journey.experiment.salt = salt->value;
    }

    // A share of customers: from 0 up to, not including, 1 (a holdout of everyone would leave
    // no treated arm to compare with).
    std::optional<double> share(const Section& section, std::string_view key) {
        return number(
            section, key, [](double x) { return x >= 0 && x < 1; },
            "a share from 0 up to (not including) 1");
    }

    std::optional<double> positive_number(const Section& section, std::string_view key) {
        return number(
            section, key, [](double x) { return x > 0; }, "a number above 0");
    }

    // An integer or a float for which `valid` holds; else an error saying it must be `what`.
    template <class Valid>
    std::optional<double> number(const Section& section, std::string_view key, Valid valid,
                                 std::string_view what) {
        const toml::node* node = field(section, key, Presence::optional);
        if (!node) return std::nullopt;
        std::optional<double> number;
        if (const auto* integer = node->as_integer()) number = double(integer->get());
        if (const auto* floating = node->as_floating_point()) number = floating->get();
        if (!number || !valid(*number)) {
            add_error(node->source().begin,
                      subject(key, section) + " must be " + std::string(what));
            return std::nullopt;
        }
        return number;
    }

    // --- conditions (segments, and `when` of programs and actions) -----------------------------

    // Segment names are known before any condition is read, so a condition may name a segment
    // defined further down; then segments are ordered so that each comes after those it names.
    void read_segments(const Section& top) {
        const std::vector<Section> sections = array_of_tables(top, "segment", "[[segment]]");
        ConditionModel& model = config_.journey.conditions;
        std::map<std::string, int> first_lines;
        for (const Section& section : sections) {
            check_known_keys(section);
            SegmentRule rule;
            rule.line = section.line();
            if (auto name = required_string(section, "name"))
                if (note_unique(first_lines, *name, "segment name")) rule.name = name->value;
            model.segments.push_back(std::move(rule));
        }
        for (size_t i = 0; i < sections.size(); ++i)
            model.segments[i].when = read_condition(sections[i], Presence::required);
        order_segments();
    }

    // Depth first from each segment over the segments its condition names; a segment met again
    // while its own references are being followed closes a cycle.
    void order_segments() {
        std::vector<SegmentRule>& segments = config_.journey.conditions.segments;
        enum class Mark { none, visiting, done };
        std::vector<Mark> marks(segments.size(), Mark::none);
        std::vector<uint16_t> order;
        std::vector<uint16_t> path;
        bool cyclic = false;
        std::function<void(uint16_t)> visit = [&](uint16_t at) {
            if (marks[at] == Mark::done) return;
            if (marks[at] == Mark::visiting) {
                std::string cycle;
                for (auto it = std::find(path.begin(), path.end(), at); it != path.end(); ++it)
                    cycle += quote(segments[*it].name) + " -> ";
                add_error({static_cast<toml::source_index>(segments[at].line), 1},
                          "segment cycle: " + cycle + quote(segments[at].name));
                cyclic = true;
                return;
            }
            marks[at] = Mark::visiting;
            path.push_back(at);
            for (const ConditionEntry& entry : segments[at].when.entries)
                if (entry.kind == EntryKind::segment || entry.kind == EntryKind::not_segment)
                    visit(entry.segment);
            path.pop_back();
            marks[at] = Mark::done;
            order.push_back(at);
        };
        for (size_t i = 0; i < segments.size(); ++i) visit(static_cast<uint16_t>(i));
        if (cyclic) return;
        std::vector<uint16_t> new_index(segments.size());
        for (size_t i = 0; i < order.size(); ++i) new_index[order[i]] = static_cast<uint16_t>(i);
        std::vector<SegmentRule> ordered;
        for (uint16_t old : order) ordered.push_back(std::move(segments[old]));
        for (SegmentRule& rule : ordered)
            for (ConditionEntry& entry : rule.when.entries)
                if (entry.kind == EntryKind::segment || entry.kind == EntryKind::not_segment)
                    entry.segment = new_index[entry.segment];
        segments = std::move(ordered);
    }

    // `when = [ {...}, ... ]` of `section`: every entry must hold.
    Condition read_condition(const Section& section, Presence presence) {
        Condition condition;
        const toml::node* node = field(section, "when", presence);
        if (!node) return condition;
        const std::string what = subject("when", section);
        if (!node->is_array()) {
            add_error(node->source().begin,
                      what + " must be an array of conditions, e.g. [ { stage = [\"active\"] } ]");
            return condition;
        }
        for (const toml::node& element : *node->as_array()) {
            if (!element.is_table()) {
                add_error(element.source().begin, "each condition of " + what +
                                                      " must be a table, not " +
                                                      std::string(with_article(element.type())));
                continue;
            }
            const Section entry{*element.as_table(), "a condition of " + section.label};
            if (auto read = read_entry(entry)) condition.entries.push_back(std::move(*read));
        }
        return condition;
    }

    // Refuses keys of `entry` beyond `allowed`; `message` says what is wrong with one.
    bool only_keys(const Section& entry, std::initializer_list<std::string_view> allowed,
                   const std::string& message) {
        bool clean = true;
        for (auto&& [key, node] : entry.table) {
            if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
            add_error(key.source().begin, message + " " + quote(key.str()));
            clean = false;
        }
        return clean;
    }

    std::optional<ConditionEntry> read_entry(const Section& entry) {
        ConditionEntry read;
        read.line = entry.line();
        const toml::table& table = entry.table;
        if (table.contains("stage")) return read_stage_entry(entry, read);
        if (table.contains("attr")) return read_attr_entry(entry, read);
        if (table.contains("event")) return read_event_entry(entry, read);
        if (table.contains("in_stage_for")) {
            if (!only_keys(entry, {"in_stage_for"}, "unknown key in an in_stage_for condition:"))
                return std::nullopt;
            auto duration = duration_value(entry, "in_stage_for", Presence::required);
            if (!duration) return std::nullopt;
            read.kind = EntryKind::in_stage_for;
            read.duration = duration->value;
            return read;
        }
        for (const char* key : {"segment", "not_segment"}) {
            if (!table.contains(key)) continue;
            if (!only_keys(entry, {key}, "unknown key in a segment condition:"))
                return std::nullopt;
            auto name = required_string(entry, key);
            if (!name) return std::nullopt;
            auto id = resolve_segment(*name);
            if (!id) return std::nullopt;
            read.kind =
                std::string_view(key) == "segment" ? EntryKind::segment : EntryKind::not_segment;
            read.segment = *id;
            return read;
        }
        add_error(table.source().begin,
                  "a condition needs one of stage, attr, event, in_stage_for, segment, "
                  "not_segment");
        return std::nullopt;
    }

    std::optional<ConditionEntry> read_stage_entry(const Section& entry, ConditionEntry& read) {
        if (!only_keys(entry, {"stage"}, "unknown key in a stage condition:")) return std::nullopt;
        const toml::node* node = entry.table.get("stage");
        std::vector<Located<std::string>> names;
        if (node->is_string()) {
            if (auto one = string_value(*node, subject("stage", entry), AllowEmpty::no))
                names.push_back(std::move(*one));
        } else if (auto list = string_list(entry, "stage", Presence::required)) {
            names = std::move(*list);
        }
        if (names.empty()) return std::nullopt;
        read.kind = EntryKind::stage;
        read.stages = resolve_stages(names);
        return read;
    }

    std::optional<ConditionEntry> read_attr_entry(const Section& entry, ConditionEntry& read) {
        static constexpr std::string_view kOperators[] = {"eq", "in",  "gt",    "gte",
                                                          "lt", "lte", "exists"};
        bool clean = true;
        std::vector<std::string_view> operators;
        for (auto&& [key, node] : entry.table) {
            if (key.str() == "attr") continue;
            if (std::find(std::begin(kOperators), std::end(kOperators), key.str()) ==
                std::end(kOperators)) {
                add_error(key.source().begin, "unknown attribute operator " + quote(key.str()) +
                                                  " (operators: eq, in, gt, gte, lt, lte, exists)");
                clean = false;
                continue;
            }
            operators.push_back(key.str());
        }
        auto attr = required_string(entry, "attr");
        if (!clean || !attr) return std::nullopt;
        if (operators.size() != 1) {
            add_error(entry.table.source().begin,
                      "an attr condition needs exactly one operator of eq, in, gt, gte, lt, lte, "
                      "exists, found " +
                          std::to_string(operators.size()));
            return std::nullopt;
        }
        read.attr = attr->value;
        const std::string_view op = operators.front();
        const toml::node& value = *entry.table.get(op);
        const std::string what = subject(op, entry);
        if (op == "exists") {
            if (!expect_type(value, toml::node_type::boolean, what)) return std::nullopt;
            read.kind = EntryKind::attr_exists;
            read.exists = value.as_boolean()->get();
        } else if (op == "eq") {
            auto scalar = scalar_value(value, what);
            if (!scalar) return std::nullopt;
            read.kind = EntryKind::attr_equals;
            read.values.push_back(std::move(*scalar));
        } else if (op == "in") {
            if (!expect_type(value, toml::node_type::array, what)) return std::nullopt;
            for (const toml::node& element : *value.as_array()) {
                auto scalar = scalar_value(element, "each element of " + what);
                if (!scalar) return std::nullopt;
                read.values.push_back(std::move(*scalar));
            }
            read.kind = EntryKind::attr_in;
        } else {
            if (!value.is_number()) {
                add_error(value.source().begin, what + " must be a number, not " +
                                                    std::string(with_article(value.type())));
                return std::nullopt;
            }
            read.kind = EntryKind::attr_compare;
            read.number = value.is_integer() ? double(value.as_integer()->get())
                                             : value.as_floating_point()->get();
            read.comparison = op == "gt"    ? Comparison::gt
                              : op == "gte" ? Comparison::gte
                              : op == "lt"  ? Comparison::lt
                                            : Comparison::lte;
        }
        return read;
    }

    // A string, number or bool compared with a profile attribute.
    std::optional<nlohmann::json> scalar_value(const toml::node& node, const std::string& what) {
        if (const auto* text = node.as_string()) return nlohmann::json(text->get());
        if (const auto* integer = node.as_integer()) return nlohmann::json(integer->get());
        if (const auto* number = node.as_floating_point()) return nlohmann::json(number->get());
        if (const auto* flag = node.as_boolean()) return nlohmann::json(flag->get());
        add_error(node.source().begin, what + " must be a string, a number or a bool, not " +
                                           std::string(with_article(node.type())));
        return std::nullopt;
    }

    std::optional<ConditionEntry> read_event_entry(const Section& entry, ConditionEntry& read) {
        if (!only_keys(entry, {"event", "min", "max", "within"},
                       "unknown key in an event condition:"))
            return std::nullopt;
        auto type = required_string(entry, "event");
        const bool has_min = entry.table.contains("min"), has_max = entry.table.contains("max");
        if (has_min == has_max) {
            add_error(entry.table.source().begin,
                      std::string("an event condition needs exactly one of min / max, found ") +
                          (has_min ? "both" : "neither"));
            return std::nullopt;
        }
        if (!entry.table.contains("within")) {
            add_error(entry.table.source().begin,
                      "an event condition needs within: the window its events are counted in");
            return std::nullopt;
        }
        auto within = duration_value(entry, "within", Presence::required);
        auto count = integer_value(entry, has_min ? "min" : "max", Presence::required);
        if (!type || !within || !count) return std::nullopt;
        const int64_t lowest = has_min ? 1 : 0;
        if (count->value < lowest || count->value > 10'000) {
            add_error(count->where, subject(has_min ? "min" : "max", entry) + " must be from " +
                                        std::to_string(lowest) + " to 10000");
            return std::nullopt;
        }
        if (within->value <= 0) {
            add_error(within->where, subject("within", entry) + " must be longer than 0s");
            return std::nullopt;
        }
        read.kind = EntryKind::event_count;
        read.at_least = has_min;
        read.count = static_cast<uint32_t>(count->value);
        read.duration = within->value;
        read.window =
            event_window(type->value, within->value, has_min ? read.count : read.count + 1);
        return read;
    }

    // The window of an event type, made on first use: it keeps the most times any entry on
    // the type needs, for the longest `within` of them (each entry counts in its own).
    uint16_t event_window(const std::string& type, DurationMs within, uint32_t needs) {
        std::vector<EventWindow>& windows = config_.journey.conditions.windows;
        for (size_t i = 0; i < windows.size(); ++i) {
            if (windows[i].type != type) continue;
            windows[i].keep = std::max(windows[i].keep, needs);
            windows[i].within = std::max(windows[i].within, within);
            return static_cast<uint16_t>(i);
        }
        windows.push_back({type, within, needs});
        return static_cast<uint16_t>(windows.size() - 1);
    }

    // --- references --------------------------------------------------------------------------

    std::optional<uint16_t> resolve_segment(const Located<std::string>& name) {
        if (auto id = config_.journey.conditions.segment_id(name.value)) return id;
        add_error(name.where, "unknown segment " + quote(name.value));
        return std::nullopt;
    }

    std::optional<StageId> resolve_stage(const Located<std::string>& name) {
        if (!stages_known_) return std::nullopt;
        if (auto id = config_.journey.stage_id(name.value)) return id;
        add_error(name.where, "unknown stage " + quote(name.value) +
                                  " (stages: " + join(config_.journey.stages) + ")");
        return std::nullopt;
    }

    std::vector<StageId> resolve_stages(const std::vector<Located<std::string>>& names) {
        std::vector<StageId> ids;
        for (const Located<std::string>& name : names) {
            if (auto id = resolve_stage(name)) ids.push_back(*id);
        }
        return ids;
    }

    // `what` names the reference in the message: "priority", "exempt class".
    std::optional<PriorityClass> resolve_class(const Located<std::string>& name,
                                               std::string_view what) {
        if (!hierarchy_known_) return std::nullopt;
        if (auto index = config_.pressure.priority_class(name.value)) return index;
        const std::vector<std::string>& classes = config_.pressure.hierarchy;
        add_error(
            name.where,
            std::string(what) + " " + quote(name.value) + " is not in [pressure].hierarchy (" +
                (classes.empty() ? "which is empty or missing" : "classes: " + join(classes)) +
                ")");
        return std::nullopt;
    }

    // Records a name that must be unique among `first_lines`; false (and an error) if seen.
    bool note_unique(std::map<std::string, int>& first_lines, const Located<std::string>& name,
                     std::string_view what) {
        const auto [it, inserted] =
            first_lines.emplace(name.value, static_cast<int>(name.where.line));
        if (!inserted) {
            add_error(name.where, "duplicate " + std::string(what) + " " + quote(name.value) +
                                      " (first on line " + std::to_string(it->second) + ")");
        }
        return inserted;
    }

    // --- errors and typed access -------------------------------------------------------------

    void add_error(toml::source_position where, std::string message) {
        errors_.push_back(ConfigError{source_, static_cast<int>(where.line),
                                      static_cast<int>(where.column), std::move(message)});
    }

    void check_known_keys(const Section& section) {
        const std::vector<std::string_view>& known = keys_of(section.label);
        for (auto&& [key, node] : section.table) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            std::vector<std::string> names(known.begin(), known.end());
            add_error(key.source().begin, "unknown key " + quote(key.str()) + " in " +
                                              section.label + " (known keys: " + join(names) + ")");
        }
    }

    const toml::node* field(const Section& section, std::string_view key, Presence presence) {
        const toml::node* node = section.table.get(key);
        if (!node && presence == Presence::required) {
            add_error(section.table.source().begin,
                      "missing required key " + quote(key) + " in " + section.label);
        }
        return node;
    }

    // `subject` is how messages refer to the value: `"count" in [[journey.transition]]`.
    static std::string subject(std::string_view key, const Section& section) {
        return quote(key) + " in " + section.label;
    }

    bool expect_type(const toml::node& node, toml::node_type expected, const std::string& what) {
        if (node.type() == expected) return true;
        add_error(node.source().begin, what + " must be " + std::string(with_article(expected)) +
                                           ", not " + std::string(with_article(node.type())));
        return false;
    }

    std::optional<Located<std::string>> string_value(const toml::node& node,
                                                     const std::string& what, AllowEmpty empty) {
        if (!expect_type(node, toml::node_type::string, what)) return std::nullopt;
        const std::string& text = node.as_string()->get();
        if (text.empty() && empty == AllowEmpty::no) {
            add_error(node.source().begin, what + " must not be empty");
            return std::nullopt;
        }
        return Located<std::string>{text, node.source().begin};
    }

    std::optional<Located<std::string>> optional_string(const Section& section,
                                                        std::string_view key,
                                                        AllowEmpty empty = AllowEmpty::no) {
        const toml::node* node = field(section, key, Presence::optional);
        if (!node) return std::nullopt;
        return string_value(*node, subject(key, section), empty);
    }

    std::optional<bool> optional_bool(const Section& section, std::string_view key) {
        const toml::node* node = field(section, key, Presence::optional);
        if (!node || !expect_type(*node, toml::node_type::boolean, subject(key, section)))
            return std::nullopt;
        return node->as_boolean()->get();
    }

    std::optional<Located<std::string>> required_string(const Section& section,
                                                        std::string_view key) {
        const toml::node* node = field(section, key, Presence::required);
        if (!node) return std::nullopt;
        return string_value(*node, subject(key, section), AllowEmpty::no);
    }

    // nullopt when absent or wrong; an error then names every bad element, not just the first.
    std::optional<std::vector<Located<std::string>>> string_list(const Section& section,
                                                                 std::string_view key,
                                                                 Presence presence) {
        const toml::node* node = field(section, key, presence);
        if (!node || !expect_type(*node, toml::node_type::array, subject(key, section)))
            return std::nullopt;
        std::vector<Located<std::string>> items;
        bool all_valid = true;
        for (const toml::node& element : *node->as_array()) {
            auto item =
                string_value(element, "each element of " + subject(key, section), AllowEmpty::no);
            if (item)
                items.push_back(std::move(*item));
            else
                all_valid = false;
        }
        if (!all_valid) return std::nullopt;
        return items;
    }

    // `on` takes one event type or a list of them.
    std::optional<std::vector<std::string>> event_types(const Section& section,
                                                        std::string_view key) {
        const toml::node* node = field(section, key, Presence::required);
        if (!node) return std::nullopt;
        if (node->is_string()) {
            auto single = string_value(*node, subject(key, section), AllowEmpty::no);
            if (!single) return std::nullopt;
            return std::vector<std::string>{single->value};
        }
        if (!node->is_array()) {
            add_error(node->source().begin, subject(key, section) +
                                                " must be a string or an array of strings, not " +
                                                std::string(with_article(node->type())));
            return std::nullopt;
        }
        auto list = string_list(section, key, Presence::required);
        if (!list) return std::nullopt;
        if (list->empty()) {
            add_error(node->source().begin,
                      subject(key, section) + " must list at least one event type");
        }
        std::vector<std::string> types;
        for (Located<std::string>& type : *list) types.push_back(std::move(type.value));
        return types;
    }

    std::optional<Located<int64_t>> integer_value(const Section& section, std::string_view key,
                                                  Presence presence = Presence::optional) {
        const toml::node* node = field(section, key, presence);
        if (!node || !expect_type(*node, toml::node_type::integer, subject(key, section)))
            return std::nullopt;
        return Located<int64_t>{node->as_integer()->get(), node->source().begin};
    }

    std::optional<Located<DurationMs>> duration_value(const Section& section, std::string_view key,
                                                      Presence presence = Presence::optional) {
        const toml::node* node = field(section, key, presence);
        if (!node || !expect_type(*node, toml::node_type::string, subject(key, section)))
            return std::nullopt;
        const std::string& text = node->as_string()->get();
        const std::optional<DurationMs> duration = parse_duration(text);
        if (!duration) {
            add_error(node->source().begin, "invalid duration " + quote(text) + " for " +
                                                subject(key, section) + ": expected " +
                                                std::string(kDurationForms));
            return std::nullopt;
        }
        return Located<DurationMs>{*duration, node->source().begin};
    }

    // An integer (bytes) or a string with a unit: see kByteSizeForms.
    std::optional<Located<uint64_t>> byte_size_value(const Section& section, std::string_view key) {
        const toml::node* node = field(section, key, Presence::optional);
        if (!node) return std::nullopt;
        const toml::source_position where = node->source().begin;
        std::string written;
        if (const auto* integer = node->as_integer()) {
            if (integer->get() >= 0) return Located<uint64_t>{uint64_t(integer->get()), where};
            written = std::to_string(integer->get());
        } else if (const auto* text = node->as_string()) {
            if (const auto bytes = parse_byte_size(text->get()))
                return Located<uint64_t>{*bytes, where};
            written = quote(text->get());
        } else {
            add_error(where, subject(key, section) + " must be an integer or a string, not " +
                                 std::string(with_article(node->type())));
            return std::nullopt;
        }
        add_error(where, "invalid size " + written + " for " + subject(key, section) +
                             ": expected " + std::string(kByteSizeForms));
        return std::nullopt;
    }

    std::optional<Section> optional_table(const Section& parent, std::string_view key,
                                          std::string label) {
        const toml::node* node = parent.table.get(key);
        if (!node) return std::nullopt;
        if (!node->is_table()) {
            add_error(node->source().begin,
                      label + " must be a table, not " + std::string(with_article(node->type())));
            return std::nullopt;
        }
        return Section{*node->as_table(), std::move(label)};
    }

    std::vector<Section> array_of_tables(const Section& parent, std::string_view key,
                                         const std::string& label) {
        std::vector<Section> sections;
        const toml::node* node = parent.table.get(key);
        if (!node) return sections;
        const toml::array* array = node->as_array();
        if (!array) {
            add_error(node->source().begin,
                      subject(key, parent) + " must be an array of tables: write each as " + label);
            return sections;
        }
        for (const toml::node& element : *array) {
            if (const toml::table* table = element.as_table())
                sections.push_back(Section{*table, label});
            else
                add_error(element.source().begin, "each " + label + " must be a table, not " +
                                                      std::string(with_article(element.type())));
        }
        return sections;
    }

    std::string source_;
    std::vector<ConfigError> errors_;
    Config config_;
    bool node_name_known_ = true;  // false when [node] name is there but unreadable
    bool stages_known_ = false;
    bool hierarchy_known_ = false;
};

}  // namespace

ConfigResult load_config_text(std::string_view toml_text, const std::string& source_name) {
    ConfigReader reader(source_name);
    toml::table root;
    try {
        root = toml::parse(toml_text, std::string_view(source_name));
    } catch (const toml::parse_error& error) {
        return reader.syntax_error(error);
    }
    return reader.read(root);
}

std::optional<std::string> read_config_file(const std::string& path, ConfigError& error) {
    const auto unreadable = [&](int error_number) {
        error = ConfigError{path, 0, 0,
                            "cannot read file: " + std::string(std::strerror(error_number))};
        return std::nullopt;
    };
    // stdio rather than ifstream: it reports why a read failed (e.g. EISDIR for a directory).
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) return unreadable(errno);
    std::string text;
    char buffer[64 * 1024];
    size_t read_bytes = 0;
    while ((read_bytes = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
        text.append(buffer, read_bytes);
    if (std::ferror(file.get())) return unreadable(errno);
    return text;
}

ConfigResult load_config_file(const std::string& path) {
    ConfigError error;
    const std::optional<std::string> text = read_config_file(path, error);
    if (!text) return ConfigResult{std::nullopt, {error}};
    return load_config_text(*text, path);
}

}  // namespace journeyd
