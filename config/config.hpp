// The whole configuration file (docs/configuration.md), loaded and validated.
//
// load_config_text parses TOML with toml++ and validates everything at once: every error is
// reported with its line (and column), not only the first, so an operator fixes a file in
// one pass. A Config is returned only when there are no errors. The same loader validates
// the embedded default journey (default_config_text), so the default can never drift from
// the language.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/journey/journey_model.hpp"
#include "state/pressure/pressure_policy.hpp"

namespace journeyd {

struct NodeSettings {
    std::string name = "node-a";
    std::string data_dir = "./journeyd-data";
    std::string ingest = "127.0.0.1:7400";
    std::string admin = "127.0.0.1:7401";
};

// `tls_cert` and `tls_key` of [admin] or [ingest]: PEM files, both or neither. Set, the port
// speaks TLS only. The files are read when journeyd starts (a path relative to its working
// directory), and an unreadable file or a key that does not match stops it there.
struct TlsSettings {
    std::string cert;  // the certificate chain, leaf first
    std::string key;   // its private key, unencrypted
    bool enabled() const { return !cert.empty(); }
};

struct AdminSettings {
    std::string token;                // empty: no auth, allowed only on a loopback address
    uint64_t max_body = 1u << 20;     // bytes in a request body; a longer one is answered 413
    uint64_t max_connections = 1024;  // more are answered 503 right after accept
    DurationMs read_timeout = 5'000;  // for a whole request, idle wait included; then closed
    TlsSettings tls;
};

struct DeliverySettings {
    std::string sink = "file:deliveries.ndjson";
};

struct StoreSettings {
    bool sync = true;  // false: commits are not fsync'd; a crash can lose acknowledged events
    DurationMs applied_ids_retention = 7 * 86'400'000;  // how long event ids stay known
    // Bytes the store (LMDB's map) may hold; beyond it commits fail until a restart with more.
    uint64_t max_size = uint64_t(64) << 30;
};

// Limits of the ingest port: connections, and per connection.
struct IngestSettings {
    uint64_t max_connections = 1024;       // more are closed right after accept
    uint64_t max_frame = 1u << 20;         // bytes in one frame body
    uint64_t max_pending_frames = 256;     // unanswered frames before reading pauses
    uint64_t max_unsent_bytes = 4u << 20;  // answers the client has not read before pausing
    uint64_t io_threads = 0;               // threads running the ingest sockets; 0: one a core
    DurationMs idle_timeout = 5 * 60'000;  // a connection silent this long is closed; 0: never
    std::string token;  // set: a connection's first frame must be a hello carrying it
    TlsSettings tls;
};

struct RuntimeSettings {
    DurationMs idle_after = 10 * 60'000;  // passivate customers idle this long; 0: never
    // The coordinator's thread asks for real-time priority (SCHED_FIFO 1); refused or false:
    // a short time slice. See runtime/daemon/thread_latency.hpp.
    bool realtime_coordinator = true;
};

// `[identity]`: limits of identify merges (docs/configuration.md).
struct IdentitySettings {
    uint64_t max_aliases = 50;  // aliases one customer may have; a merge beyond is refused
};

// `[cluster]`: the static member list. Empty members: a single
// node, no middleman port. This node is the member named [node] name.
struct ClusterMember {
    std::string name;
    std::string host;
    uint16_t port = 0;
};

struct ClusterSettings {
    std::vector<ClusterMember> members;  // in file order
    std::string listen;  // HOST:PORT the middleman binds; empty: this node's member address
    DurationMs connect_timeout = 2'000;   // one attempt to reach a member, TCP and handshake
    DurationMs forward_timeout = 10'000;  // a forwarded event or admin question
};

struct Config {
    NodeSettings node;
    ClusterSettings cluster;
    IngestSettings ingest;
    RuntimeSettings runtime;
    IdentitySettings identity;
    AdminSettings admin;
    DeliverySettings delivery;
    StoreSettings store;
    JourneyModel journey;
    PressurePolicy pressure;
};

struct ConfigError {
    std::string source;  // file name, or "<default>" for the embedded journey
    int line = 0;        // 1-based; 0 when the error is about the file as a whole
    int column = 0;
    std::string message;

    // "source:line:column: message", the format compilers use, so editors can jump to it.
    std::string to_string() const;
};

struct ConfigResult {
    std::optional<Config> config;  // set only when errors is empty
    std::vector<ConfigError> errors;
};

struct Address {
    std::string host;  // an IPv6 host without its brackets
    uint16_t port = 0;
};

// "HOST:PORT" with a port of 0..65535 (0 lets the OS pick, which tests rely on); an IPv6 host
// must be bracketed so its colons are not mistaken for the port separator.
std::optional<Address> parse_address(std::string_view text);

// Whether HOST of "HOST:PORT" can only be reached from this machine: 127.0.0.0/8, [::1]
// (also as ::ffff:127.x.y.z) or "localhost".
bool is_loopback_address(std::string_view host_port);

// Why journeyd must not start with these admin settings, empty when it may: an admin port
// reachable from other machines without a token would give anyone every customer's data
// and a way to post events. The loader reports it for a file, journeyd again after its
// command-line overrides.
std::string admin_exposure_error(std::string_view admin_host_port, std::string_view token);

// The keys the loader accepts in each table, under the name its errors give the table
// ("[node]", "[[program]]"), so that the documentation can be checked against them. The
// top-level table's keys are the other tables; [pressure.rate] is absent: its keys are
// channel names.
inline constexpr std::string_view kTopLevelTable = "the top-level table";
struct TableKeys {
    std::string_view table;
    std::vector<std::string_view> keys;
};
const std::vector<TableKeys>& known_config_keys();

ConfigResult load_config_text(std::string_view toml_text, const std::string& source_name);
ConfigResult load_config_file(const std::string& path);
// The file's text as load_config_file reads it; nullopt, with `error` saying why, when it
// cannot be read.
std::optional<std::string> read_config_file(const std::string& path, ConfigError& error);

// The classifieds marketplace journey (docs/configuration.md), as TOML text compiled into the
// binary.
std::string_view default_config_text();
ConfigResult load_default_config();

}  // namespace journeyd
