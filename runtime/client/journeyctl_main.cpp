// journeyctl: the operator's and integrator's CLI of docs/protocol.md. `send` turns JSON lines into
// msgpack frames for the ingest port; `show`, `decisions`, `stats` and `cluster` read the
// admin port, over HTTP or, given `--admin https://HOST:PORT`, HTTPS trusting `--tls-ca`;
// `check-config` validates a configuration file without starting anything; `reload` checks
// one against the running daemon and applies it (POST /config).
// cpp-httplib's client is compiled into Debian's libcpp-httplib with OpenSSL, and the
// cpp_httplib CMake target defines CPPHTTPLIB_OPENSSL_SUPPORT to match, so its SSLClient is
// there to use.
#include <httplib.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "runtime/client/ingest_client.hpp"

namespace journeyd {
namespace {

using json = nlohmann::json;

enum ExitCode : int { kSuccess = 0, kRejected = 1, kFailure = 2 };

constexpr const char* kExitCodesHelp =
    "Exit codes:\n"
    "  0  success; for send: every event accepted (duplicates included)\n"
    "  1  send: some events rejected or lines not JSON objects; show/decisions: customer not\n"
    "     found; check-config: the file has errors; cluster: a member is not up; reload: the\n"
    "     check found errors, or the change was not applied\n"
    "  2  usage error, connection or protocol error, or unauthorized (check --token)";

struct GlobalOptions {
    std::string ingest = "127.0.0.1:7400";
    std::string admin = "127.0.0.1:7401";
    std::string token;
    // PEM CA certificate(s) trusted for a TLS port (the server's own certificate, when it is
    // self-signed); empty: the system's store.
    std::string tls_ca;
    double timeout_seconds = 10;

    std::chrono::milliseconds timeout() const {
        return std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
    }
};

// Ends the command: main prints the message and exits with the code.
class CommandError : public std::runtime_error {
  public:
    CommandError(ExitCode exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {}
    ExitCode exit_code() const { return exit_code_; }

  private:
    ExitCode exit_code_;
};

// RFC 3986 percent-encoding of everything but unreserved characters, so an id holding '/',
// '?' or '#' stays one path segment.
std::string encode_path_segment(const std::string& text) {
    constexpr char kHexDigits[] = "0123456789ABCDEF";
    std::string encoded;
    for (const unsigned char c : text) {
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            encoded += static_cast<char>(c);
        } else {
            encoded += '%';
            encoded += kHexDigits[c >> 4];
            encoded += kHexDigits[c & 0xF];
        }
    }
    return encoded;
}

// httplib names its errors ("Connection", "Read"); an operator needs to know what failed.
std::string describe(httplib::Error error, std::chrono::milliseconds timeout) {
    const std::string within = " within " + std::to_string(timeout.count()) + " ms";
    switch (error) {
        case httplib::Error::Connection:
            return "connection failed (nothing listening, or unreachable)";
        case httplib::Error::ConnectionTimeout:
            return "no connection" + within;
        case httplib::Error::Read:
            return "no answer" + within + ", or the connection broke";
        case httplib::Error::Write:
            return "the connection broke while sending the request";
        case httplib::Error::SSLConnection:
            return "TLS handshake failed (is the port HTTPS? HOST:PORT without https:// is "
                   "plain HTTP)";
        case httplib::Error::SSLLoadingCerts:
            return "cannot load the CA certificates (check --tls-ca)";
        case httplib::Error::SSLServerVerification:
            return "the server's certificate is not trusted or does not name the host (check "
                   "--tls-ca and the host in the address)";
        default:
            return httplib::to_string(error);
    }
}

// A client for --admin: "HOST:PORT" or "http://HOST:PORT" speaks HTTP, "https://HOST:PORT"
// HTTPS, checking the server's certificate and that it names HOST.
std::unique_ptr<httplib::ClientImpl> admin_client(const GlobalOptions& options) {
    constexpr std::string_view kHttps = "https://";
    constexpr std::string_view kHttp = "http://";
    std::string_view address = options.admin;
    const bool tls = address.substr(0, kHttps.size()) == kHttps;
    if (tls)
        address.remove_prefix(kHttps.size());
    else if (address.substr(0, kHttp.size()) == kHttp)
        address.remove_prefix(kHttp.size());
    const std::optional<HostPort> admin = parse_host_port(address);
    if (!admin) {
        throw CommandError(kFailure, "invalid admin address \"" + options.admin +
                                         "\": expected HOST:PORT or https://HOST:PORT");
    }
    if (!tls) return std::make_unique<httplib::ClientImpl>(admin->host, admin->port);
    auto client = std::make_unique<httplib::SSLClient>(admin->host, admin->port);
    if (!options.tls_ca.empty()) client->set_ca_cert_path(options.tls_ca);
    client->enable_server_certificate_verification(true);
    return client;
}

// `method` (GET, or POST with `request_body`) on `path` of the admin port, answered with one of the
// `expected` statuses and JSON. A 404 means "not found" (exit 1) only for paths that name
// something that may not exist; for the others it is the wrong server (exit 2).
json admin_call(const GlobalOptions& options, const std::string& method, const std::string& path,
                std::initializer_list<int> expected,
                const std::optional<std::string>& not_found_message,
                const std::string& request_body = "",
                const std::string& content_type = "application/json") {
    const std::unique_ptr<httplib::ClientImpl> client = admin_client(options);
    client->set_connection_timeout(options.timeout());
    client->set_read_timeout(options.timeout());
    client->set_write_timeout(options.timeout());
    if (!options.token.empty()) client->set_bearer_token_auth(options.token);

    const httplib::Result result =
        method == "POST" ? client->Post(path, request_body, content_type) : client->Get(path);
    if (!result) {
        // A port that speaks TLS closes a plain request unanswered: the likely mistake then.
        const std::string hint = result.error() == httplib::Error::Read &&
                                         !dynamic_cast<httplib::SSLClient*>(client.get())
                                     ? " (if the port speaks HTTPS: --admin https://HOST:PORT)"
                                     : "";
        throw CommandError(kFailure, "cannot reach the admin port at " + options.admin + ": " +
                                         describe(result.error(), options.timeout()) + hint);
    }
    if (result->status == 401) throw CommandError(kFailure, "unauthorized: check --token");
    if (result->status == 404 && not_found_message) {
        throw CommandError(kRejected, *not_found_message);
    }
    if (std::find(expected.begin(), expected.end(), result->status) == expected.end()) {
        throw CommandError(kFailure, method + " " + path + " on " + options.admin + " answered " +
                                         std::to_string(result->status) + ": " + result->body);
    }
    json body = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) {
        throw CommandError(
            kFailure, method + " " + path + " on " + options.admin + " answered with invalid JSON");
    }
    return body;
}

json admin_get(const GlobalOptions& options, const std::string& path,
               const std::optional<std::string>& not_found_message = std::nullopt) {
    return admin_call(options, "GET", path, {200}, not_found_message);
}

int run_send(const GlobalOptions& global, const std::string& path, const SendOptions& options,
             const std::string& ingest_token) {
    std::ifstream file;
    const bool from_stdin = path.empty() || path == "-";
    if (!from_stdin) {
        file.open(path);
        if (!file) throw CommandError(kFailure, "cannot open " + path + ": " + strerror(errno));
    }
    IngestClient client = IngestClient::connect(global.ingest, global.timeout());
    if (!ingest_token.empty()) client.hello(ingest_token);
    SendSummary summary;
    std::optional<std::string> failure;
    try {
        send_json_lines(client, from_stdin ? std::cin : file, options, summary);
    } catch (const IngestError& e) {
        failure = e.what();
    }
    for (const LineError& error : summary.errors) {
        std::cerr << "line " << error.line << ": " << error.error << "\n";
    }
    std::cout << "accepted=" << summary.accepted << " duplicates=" << summary.duplicates
              << " errors=" << summary.errors.size() << std::endl;
    if (failure) {
        throw CommandError(kFailure,
                           *failure + " (frames still in flight may or may not have been applied)");
    }
    return summary.errors.empty() ? kSuccess : kRejected;
}

std::string customer_path(const std::string& customer) {
    return "/customers/" + encode_path_segment(customer);
}

std::string customer_not_found(const std::string& customer) {
    return "customer " + customer + " not found";
}

// `suffix`: "" for the live state, "/record" for what the store holds.
int run_show(const GlobalOptions& global, const std::string& customer, const std::string& suffix) {
    std::cout
        << admin_get(global, customer_path(customer) + suffix, customer_not_found(customer)).dump(2)
        << "\n";
    return kSuccess;
}

// Milliseconds since the epoch as ISO 8601 UTC, what an operator reads at a glance.
std::string format_utc_ms(int64_t ms) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    const size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    std::snprintf(text + length, sizeof text - length, ".%03dZ", static_cast<int>(ms % 1000));
    return text;
}

// A dead letter's `error` is the endpoint's answer, which may span lines: one row stays one line.
std::string table_cell(const json& object, const std::string& column) {
    const auto value = object.find(column);
    if (value == object.end() || value->is_null()) return "-";
    if (value->is_string()) {
        std::string text = value->get<std::string>();
        std::replace_if(
            text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
        return text;
    }
    const bool is_time = column == "at" || column == "until";
    if (is_time && value->is_number_integer() && *value > 0) {
        return format_utc_ms(value->get<int64_t>());
    }
    return value->dump();
}

// One row an object of `objects`, one column a key, aligned; a header row first.
void print_table(const json& objects, const std::vector<std::string>& columns) {
    std::vector<std::vector<std::string>> rows = {columns};
    for (const json& object : objects) {
        std::vector<std::string> row;
        for (const std::string& column : columns) row.push_back(table_cell(object, column));
        rows.push_back(std::move(row));
    }
    std::vector<size_t> widths(columns.size(), 0);
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) {
            std::cout << row[i];
            if (i + 1 < row.size()) std::cout << std::string(widths[i] - row[i].size() + 2, ' ');
        }
        std::cout << "\n";
    }
}

int run_decisions(const GlobalOptions& global, const std::string& customer, bool as_json) {
    const json decisions =
        admin_get(global, customer_path(customer) + "/decisions", customer_not_found(customer));
    if (as_json) {
        std::cout << decisions.dump(2) << "\n";
    } else if (!decisions.is_array()) {
        throw CommandError(kFailure, "GET decisions on " + global.admin +
                                         " answered with something other than a list");
    } else if (decisions.empty()) {
        std::cout << "no decisions for customer " << customer << "\n";
    } else {
        print_table(decisions, {"at", "decision_id", "program", "channel", "priority", "outcome",
                                "reason", "until"});
    }
    return kSuccess;
}

// An endpoint that answers a JSON list.
json admin_list(const GlobalOptions& global, const std::string& path) {
    const json list = admin_get(global, path);
    if (!list.is_array())
        throw CommandError(kFailure, "GET " + path + " on " + global.admin +
                                         " answered with something other than a list");
    return list;
}

json dead_letters(const GlobalOptions& global) {
    return admin_list(global, "/deliveries/dead");
}

// A list as JSON, or as a table of `columns`, or `none` when it is empty.
int print_list(const json& list, bool as_json, const std::string& none,
               const std::vector<std::string>& columns) {
    if (as_json)
        std::cout << list.dump(2) << "\n";
    else if (list.empty())
        std::cout << none << "\n";
    else
        print_table(list, columns);
    return kSuccess;
}

int run_dead(const GlobalOptions& global, bool as_json) {
    return print_list(dead_letters(global), as_json, "no dead letters",
                      {"at", "decision_id", "customer", "program", "channel", "status", "error"});
}

// The table has no column for it: a partial sum must not pass for the whole cluster's. A list
// names the missing members in each entry, an object (GET /journey) once.
void warn_if_partial(const json& list, bool as_json) {
    if (as_json || list.empty()) return;
    const json& holder = list.is_object() ? list : list[0];
    if (!holder.contains("partial")) return;
    std::string missing;
    for (const json& name : holder["partial"])
        missing += (missing.empty() ? "" : ", ") + name.get<std::string>();
    std::cerr << "partial: not counted are the customers of " << missing
              << ", which did not answer\n";
}

int run_segments(const GlobalOptions& global, bool as_json) {
    const json list = admin_list(global, "/segments");
    const int status = print_list(list, as_json, "no segments configured", {"name", "members"});
    warn_if_partial(list, as_json);
    return status;
}

std::string fixed(double number, int decimals) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", decimals, number);
    return text;
}

// An arm of a control group as "converted/n rate%".
std::string arm_rate(const json& arm) {
    const int64_t n = arm.value("n", int64_t{0});
    const int64_t converted = arm.value("converted", int64_t{0});
    return std::to_string(converted) + "/" + std::to_string(n) +
           (n > 0 ? " " + fixed(100.0 * double(converted) / double(n), 1) + "%" : "");
}

// An uplift in percentage points with its interval; "" for null.
std::string uplift_text(const json& uplift) {
    if (!uplift.is_object()) return "";
    const json interval = uplift.value("ci95", json::array({0.0, 0.0}));
    return fixed(100.0 * uplift.value("absolute", 0.0), 1) + " pts [" +
           fixed(100.0 * interval[0].get<double>(), 1) + ", " +
           fixed(100.0 * interval[1].get<double>(), 1) + "]";
}

// `journeyctl actions`: the catalogue with its outcomes; `journeyctl actions CUSTOMER`: the
// catalogue ranked for that customer now.
int run_actions(const GlobalOptions& global, const std::string& customer, bool as_json) {
    if (!customer.empty()) {
        const json ranked =
            admin_get(global, customer_path(customer) + "/actions", customer_not_found(customer));
        if (as_json) return print_list(ranked, true, "", {});
        json rows = json::array();
        for (const json& a : ranked)
            rows.push_back({{"action", a.value("action", "")},
                            {"eligible", a.value("eligible", false) ? "yes" : "no"},
                            {"reason", a.value("reason", "")},
                            {"propensity", fixed(a.value("propensity", 0.0), 3)},
                            {"value", a.value("value", 0.0)},
                            {"weight", a.value("weight", 0.0)},
                            {"score", fixed(a.value("score", 0.0), 3)}});
        return print_list(
            rows, false, "no actions configured",
            {"action", "eligible", "reason", "propensity", "value", "weight", "score"});
    }
    const json list = admin_list(global, "/actions");
    if (as_json) return print_list(list, true, "", {});
    json rows = json::array();
    for (const json& a : list) {
        const json propensity = a.value("propensity", json::object());
        const json interval = propensity.value("ci95", json::array({0.0, 0.0}));
        rows.push_back({{"action", a.value("action", "")},
                        {"sent", a.value("sent", 0)},
                        {"successes", a.value("successes", 0)},
                        {"failures", a.value("failures", 0)},
                        {"open", a.value("open", 0)},
                        {"propensity", fixed(propensity.value("mean", 0.0), 3)},
                        {"ci95", fixed(interval[0].get<double>(), 3) + "-" +
                                     fixed(interval[1].get<double>(), 3)},
                        {"control", a.contains("control") ? arm_rate(a["control"]) : ""},
                        {"uplift", uplift_text(a.value("uplift", json()))}});
    }
    const int status = print_list(rows, false, "no actions configured",
                                  {"action", "sent", "successes", "failures", "open", "propensity",
                                   "ci95", "control", "uplift"});
    warn_if_partial(list, as_json);
    return status;
}

// `journeyctl programs`: each program's decisions, goal conversion per arm and uplift.
int run_programs(const GlobalOptions& global, bool as_json) {
    const json list = admin_list(global, "/programs");
    if (as_json) return print_list(list, true, "", {});
    json rows = json::array();
    for (const json& p : list) {
        std::string suppressed;
        const json by_reason = p.value("suppressed", json::object());
        for (auto it = by_reason.begin(); it != by_reason.end(); ++it)
            suppressed += (suppressed.empty() ? "" : " ") + it.key() + ":" + it.value().dump();
        json row = {{"program", p.value("program", "")},
                    {"requests", p.value("requests", 0)},
                    {"sent", p.value("sent", 0)},
                    {"deferred", p.value("deferred", 0)},
                    {"suppressed", suppressed},
                    {"holdout", fixed(100.0 * p.value("holdout", 0.0), 1) + "%"},
                    {"goal", ""},
                    {"treated", ""},
                    {"control", ""},
                    {"uplift", ""}};
        const json goal = p.value("goal", json());
        if (goal.is_object()) {
            row["goal"] = goal.value("event", "");
            row["treated"] = arm_rate(goal.value("treated", json::object()));
            row["control"] = arm_rate(goal.value("control", json::object()));
        }
        row["uplift"] = uplift_text(p.value("uplift", json()));
        rows.push_back(std::move(row));
    }
    const int status = print_list(rows, false, "no programs configured",
                                  {"program", "requests", "sent", "deferred", "suppressed",
                                   "holdout", "goal", "treated", "control", "uplift"});
    warn_if_partial(list, as_json);
    return status;
}

// `journeyctl journey [--since MS]`: the stages with their flow, then the transitions.
int run_journey(const GlobalOptions& global, std::optional<int64_t> since, bool as_json) {
    const std::string path = since ? "/journey?since=" + std::to_string(*since) : "/journey";
    const json flow = admin_get(global, path);
    if (!flow.is_object() || !flow.contains("stages") || !flow.contains("transitions"))
        throw CommandError(kFailure, "GET " + path + " on " + global.admin +
                                         " answered with something other than a journey");
    if (as_json) {
        std::cout << flow.dump(2) << "\n";
        return kSuccess;
    }
    if (flow.value("since", json()).is_number_integer())
        std::cout << "moves since " << format_utc_ms(flow["since"].get<int64_t>()) << "\n";
    print_table(flow["stages"],
                {"name", "customers", "entered", "left", "median_time_in_stage_ms"});
    std::cout << "\n";
    print_list(flow["transitions"], false, "no transitions yet", {"from", "to", "count"});
    warn_if_partial(flow, as_json);
    return kSuccess;
}

// `journeyctl drivers FROM TO [--window D]`: the pair's event types, strongest driver first.
int run_drivers(const GlobalOptions& global, const std::string& from, const std::string& to,
                const std::string& window, bool as_json) {
    std::string path =
        "/journey/drivers?from=" + encode_path_segment(from) + "&to=" + encode_path_segment(to);
    if (!window.empty()) path += "&window=" + encode_path_segment(window);
    const json list = admin_list(global, path);
    if (as_json) return print_list(list, true, "", {});
    json rows = json::array();
    auto cells = [](const json& c) {
        return std::to_string(c.value("advanced", 0)) + "/" +
               std::to_string(c.value("episodes", 0));
    };
    for (const json& d : list) {
        const json interval = d.value("ci95", json::array({0.0, 0.0}));
        rows.push_back({{"event", d.value("event", "")},
                        {"exposed", cells(d.value("exposed", json::object()))},
                        {"unexposed", cells(d.value("unexposed", json::object()))},
                        {"odds_ratio", fixed(d.value("odds_ratio", 0.0), 2)},
                        {"ci95", fixed(interval[0].get<double>(), 2) + "-" +
                                     fixed(interval[1].get<double>(), 2)}});
    }
    const int status = print_list(rows, false, "no closed episodes yet",
                                  {"event", "exposed", "unexposed", "odds_ratio", "ci95"});
    warn_if_partial(list, as_json);
    return status;
}

// Each id, or every dead letter with `all`; exits kRejected when one was not a dead letter.
int run_redeliver(const GlobalOptions& global, std::vector<std::string> ids, bool all) {
    if (all)
        for (const json& dead : dead_letters(global)) ids.push_back(dead.value("decision_id", ""));
    if (ids.empty()) {
        std::cout << "no dead letters\n";
        return kSuccess;
    }
    int status = kSuccess;
    for (const std::string& id : ids) {
        try {
            admin_call(global, "POST", "/deliveries/dead/" + encode_path_segment(id) + "/retry",
                       {202}, "no dead letter " + id);
            std::cout << "re-queued " << id << "\n";
        } catch (const CommandError& e) {
            if (e.exit_code() != kRejected) throw;
            std::cerr << e.what() << "\n";
            status = kRejected;
        }
    }
    return status;
}

int run_stats(const GlobalOptions& global) {
    std::cout << admin_get(global, "/stats").dump(2) << "\n";
    return kSuccess;
}

// One line a member; exits kRejected when a member is not up, so scripts can wait on it.
int run_cluster(const GlobalOptions& global) {
    const json view = admin_get(global, "/cluster");
    bool all_up = true;
    std::printf("%-20s %-11s %-24s %s\n", "MEMBER", "STATE", "ADDRESS", "REASON");
    for (const json& member : view.value("members", json::array())) {
        const std::string state = member.value("state", "");
        all_up = all_up && (state == "up" || state == "self");
        std::printf("%-20s %-11s %-24s %s\n", member.value("name", "").c_str(), state.c_str(),
                    member.value("address", "").c_str(), member.value("reason", "").c_str());
    }
    return all_up ? kSuccess : kRejected;
}

int run_check_config(const std::string& path) {
    const ConfigResult loaded = load_config_file(path);
    if (!loaded.config) {
        for (const ConfigError& error : loaded.errors) std::cerr << error.to_string() << "\n";
        std::cerr << path << ": " << loaded.errors.size() << " configuration error(s)\n";
        return kRejected;
    }
    const JourneyModel& journey = loaded.config->journey;
    std::cout << path << ": ok (" << journey.stages.size() << " stages, "
              << journey.transitions.size() << " transitions, " << journey.programs.size()
              << " programs)\n";
    return kSuccess;
}

// The names of a list of the check's "changes" as "a, b", or "" when there are none.
std::string joined_names(const json& names) {
    std::string text;
    if (!names.is_array()) return text;
    for (const json& name : names)
        if (name.is_string()) text += (text.empty() ? "" : ", ") + name.get<std::string>();
    return text;
}

// POST /config's answer, readably: its errors, then what would change, then the customers in
// the stages it removes or redefines.
void print_config_check(const json& check) {
    const json errors = check.value("errors", json::array());
    std::cout << "version " << check.value("version", "?") << ": "
              << (errors.empty() ? "ok" : std::to_string(errors.size()) + " error(s)") << "\n";
    for (const json& error : errors) {
        const int line = error.value("line", 0);
        std::cout << (line > 0 ? "line " + std::to_string(line) + ": " : "")
                  << error.value("message", "") << "\n";
    }
    const json all_changes = check.value("changes", json::object());
    std::string changes;
    for (const std::string kind :
         {"stages_added", "stages_removed", "programs_added", "programs_removed",
          "programs_changed", "segments_changed", "actions_changed"}) {
        const std::string listed = joined_names(all_changes.value(kind, json::array()));
        if (listed.empty()) continue;
        std::string label = kind;
        std::replace(label.begin(), label.end(), '_', ' ');
        changes += "  " + label + ": " + listed + "\n";
    }
    std::cout << (changes.empty() ? "no changes to stages, programs, segments or actions\n"
                                  : "changes:\n" + changes);
    const json affected = check.value("customers_affected", json::object());
    if (affected.empty()) return;
    std::cout << "customers affected:\n";
    for (const auto& [stage, customers] : affected.items())
        std::cout << "  " << stage << ": " << customers.dump() << "\n";
}

// `journeyctl reload FILE [--dry-run]`: POSTs the file to /config. Exits 0 only for a check
// without errors (--dry-run) or a change applied; a refused one (422) exits 1.
int run_reload(const GlobalOptions& global, const std::string& path, bool dry_run) {
    ConfigError unreadable;
    const std::optional<std::string> text = read_config_file(path, unreadable);
    if (!text) throw CommandError(kFailure, unreadable.to_string());
    const json check = admin_call(global, "POST", dry_run ? "/config?dry_run=true" : "/config",
                                  {200, 422, 501}, std::nullopt, *text, "application/toml");
    if (!check.is_object())
        throw CommandError(kFailure, "POST /config on " + global.admin +
                                         " answered with something other than a check");
    print_config_check(check);
    if (!dry_run)
        std::cout << (check.value("applied", false) ? "applied: in force from now on\n"
                                                    : "not applied: nothing changed\n");
    const bool clean = check.value("errors", json::array()).empty();
    return clean && (dry_run || check.value("applied", false)) ? kSuccess : kRejected;
}

int run(int argc, char** argv) {
    CLI::App app{"journeyctl: send events to journeyd and inspect it"};
    app.footer(kExitCodesHelp);
    app.require_subcommand(1);
    GlobalOptions global;
    app.add_option("--ingest", global.ingest, "ingest port HOST:PORT")->capture_default_str();
    app.add_option("--admin", global.admin, "admin port HOST:PORT, or https://HOST:PORT")
        ->capture_default_str();
    app.add_option("--token", global.token, "admin bearer token")->envname("JOURNEYD_TOKEN");
    app.add_option("--tls-ca", global.tls_ca,
                   "PEM CA certificate(s) to trust on TLS ports (default: the system's store)")
        ->check(CLI::ExistingFile);
    app.add_option("--timeout", global.timeout_seconds, "seconds to wait to connect or read")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();

    CLI::App* send = app.add_subcommand("send", "send JSON-lines events to the ingest port");
    std::string send_path;
    SendOptions send_options;
    send->add_option("FILE", send_path, "one event object a line; - or absent: stdin");
    send->add_option("--batch", send_options.batch_size, "events per frame (1: single events)")
        ->check(CLI::Range(size_t{1}, size_t{1} << 20))
        ->capture_default_str();
    send->add_option("--window", send_options.window, "frames in flight")
        ->check(CLI::Range(size_t{1}, size_t{1} << 16))
        ->capture_default_str();
    // Not the global --token, which is the admin port's: the ports have tokens of their own.
    std::string ingest_token;
    send->add_option("--token", ingest_token, "[ingest] token, sent in a hello first")
        ->envname("JOURNEYD_INGEST_TOKEN");

    std::string customer;
    CLI::App* show = app.add_subcommand("show", "print a customer's live state");
    show->add_option("CUSTOMER", customer, "customer id")->required();

    CLI::App* record = app.add_subcommand("record", "print a customer's record as stored on disk");
    record->add_option("CUSTOMER", customer, "customer id")->required();

    CLI::App* decisions = app.add_subcommand("decisions", "list a customer's decisions");
    bool decisions_as_json = false;
    decisions->add_option("CUSTOMER", customer, "customer id")->required();
    decisions->add_flag("--json", decisions_as_json, "print the JSON list instead of a table");

    CLI::App* dead = app.add_subcommand("dead", "list the sends the endpoint refused for good");
    bool dead_as_json = false;
    dead->add_flag("--json", dead_as_json, "print the JSON list instead of a table");
    CLI::App* redeliver =
        app.add_subcommand("redeliver", "send dead letters again (each once, same decision id)");
    std::vector<std::string> redeliver_ids;
    bool redeliver_all = false;
    redeliver->add_option("ID", redeliver_ids, "decision ids of dead letters");
    redeliver->add_flag("--all", redeliver_all, "every dead letter");
    redeliver->callback([&] {
        if (redeliver_ids.empty() == !redeliver_all)
            throw CLI::ValidationError("redeliver", "give decision ids or --all, not both");
    });

    CLI::App* segments = app.add_subcommand("segments", "list the segments and their members");
    bool segments_as_json = false;
    segments->add_flag("--json", segments_as_json, "print the JSON list instead of a table");

    CLI::App* programs = app.add_subcommand(
        "programs", "list the programs: decisions, goal conversion per arm, uplift");
    bool programs_as_json = false;
    programs->add_flag("--json", programs_as_json, "print the JSON list instead of a table");

    CLI::App* actions = app.add_subcommand(
        "actions", "list the next best actions and their outcomes, or rank them for a customer");
    std::string actions_customer;
    bool actions_as_json = false;
    actions->add_option("CUSTOMER", actions_customer, "rank the catalogue for this customer now");
    actions->add_flag("--json", actions_as_json, "print the JSON list instead of a table");

    CLI::App* journey = app.add_subcommand(
        "journey", "list the stages with entries, exits and time in stage, and the transitions");
    std::optional<int64_t> journey_since;
    bool journey_as_json = false;
    journey->add_option("--since", journey_since,
                        "count moves from the UTC day of this instant (ms since the epoch)");
    journey->add_flag("--json", journey_as_json, "print the JSON object instead of tables");

    CLI::App* drivers = app.add_subcommand(
        "drivers", "rank the events that precede advancing from one stage to another");
    std::string drivers_from, drivers_to, drivers_window;
    bool drivers_as_json = false;
    drivers->add_option("FROM", drivers_from, "the stage episodes are stays in")->required();
    drivers->add_option("TO", drivers_to, "the stage an episode advances to")->required();
    drivers->add_option("--window", drivers_window,
                        "the pair's window (needed when FROM and TO are declared twice)");
    drivers->add_flag("--json", drivers_as_json, "print the JSON list instead of a table");

    CLI::App* stats = app.add_subcommand("stats", "print the daemon's statistics");
    CLI::App* cluster = app.add_subcommand(
        "cluster", "list the cluster's members as this node sees them (exit 1: one is not up)");

    CLI::App* check_config = app.add_subcommand("check-config", "validate a configuration file");
    std::string config_path;
    check_config->add_option("FILE", config_path, "TOML configuration file")->required();

    CLI::App* reload = app.add_subcommand(
        "reload", "check a configuration file against the running daemon and apply it");
    std::string reload_path;
    bool reload_dry_run = false;
    reload->add_option("FILE", reload_path, "TOML configuration file")->required();
    reload->add_flag("--dry-run", reload_dry_run, "check and report, change nothing");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? kSuccess : kFailure;  // --help exits 0
    }

    try {
        if (*send) return run_send(global, send_path, send_options, ingest_token);
        if (*show) return run_show(global, customer, "");
        if (*record) return run_show(global, customer, "/record");
        if (*decisions) return run_decisions(global, customer, decisions_as_json);
        if (*dead) return run_dead(global, dead_as_json);
        if (*redeliver) return run_redeliver(global, redeliver_ids, redeliver_all);
        if (*segments) return run_segments(global, segments_as_json);
        if (*actions) return run_actions(global, actions_customer, actions_as_json);
        if (*programs) return run_programs(global, programs_as_json);
        if (*journey) return run_journey(global, journey_since, journey_as_json);
        if (*drivers)
            return run_drivers(global, drivers_from, drivers_to, drivers_window, drivers_as_json);
        if (*stats) return run_stats(global);
        if (*cluster) return run_cluster(global);
        if (*reload) return run_reload(global, reload_path, reload_dry_run);
        return run_check_config(config_path);
    } catch (const CommandError& e) {
        std::cerr << e.what() << "\n";
        return e.exit_code();
    } catch (const IngestError& e) {
        std::cerr << e.what() << "\n";
        return kFailure;
    }
}

}  // namespace
}  // namespace journeyd

int main(int argc, char** argv) {
    return journeyd::run(argc, argv);
}
