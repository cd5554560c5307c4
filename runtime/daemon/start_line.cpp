#include "runtime/daemon/start_line.hpp"

#include <charconv>
#include <limits>
#include <utility>

namespace journeyd {
namespace {

constexpr std::string_view kStarted = "journeyd started node=";

std::string host_port(const std::string& host, uint16_t port) {
    // A bare IPv6 host's colons would run into the one before the port.
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// What follows the last colon of "HOST:PORT", "[IPV6]:PORT" or "IPV6:PORT".
std::optional<uint16_t> port_of(std::string_view address) {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    const std::string_view digits = address.substr(colon + 1);
    unsigned port = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() ||
        port > std::numeric_limits<uint16_t>::max())
        return std::nullopt;
    return static_cast<uint16_t>(port);
}

// "ingest=ADDRESS admin=ADDRESS data_dir=" at the start of `fields`.
std::optional<BoundPorts> ports_of(std::string_view fields) {
    BoundPorts ports;
    for (const auto& [key, port] :
         {std::pair<std::string_view, uint16_t*>{"ingest=", &ports.ingest},
          {"admin=", &ports.admin}}) {
        if (fields.substr(0, key.size()) != key) return std::nullopt;
        fields.remove_prefix(key.size());
        const size_t space = fields.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        const std::optional<uint16_t> parsed = port_of(fields.substr(0, space));
        if (!parsed) return std::nullopt;
        *port = *parsed;
        fields.remove_prefix(space + 1);
    }
    constexpr std::string_view kNext = "data_dir=";
    if (fields.substr(0, kNext.size()) != kNext) return std::nullopt;
    return ports;
}

}  // namespace

std::string format_start_line(const StartLine& line) {
    return std::string(kStarted) + line.node +
           " ingest=" + host_port(line.ingest_host, line.ingest_port) +
           " admin=" + host_port(line.admin_host, line.admin_port) + " data_dir=" + line.data_dir +
           " stored_customers=" + std::to_string(line.stored_customers) + " sink=" + line.sink +
           " stages=" + std::to_string(line.stages) + " programs=" + std::to_string(line.programs) +
           " shards=" + std::to_string(line.shards) + " config_version=" + line.config_version;
}

std::optional<BoundPorts> bound_ports_in_log(std::string_view log) {
    std::optional<BoundPorts> last;
    for (size_t begin = 0, end; (end = log.find('\n', begin)) != std::string_view::npos;
         begin = end + 1) {
        const std::string_view line = log.substr(begin, end - begin);
        const size_t started = line.find(kStarted);
        if (started == std::string_view::npos) continue;
        // The node's name comes first and may hold anything, " ingest=" too: the fields are at
        // the first " ingest=" that all of them follow.
        for (size_t at = line.find(" ingest=", started); at != std::string_view::npos;
             at = line.find(" ingest=", at + 1)) {
            if (const std::optional<BoundPorts> ports = ports_of(line.substr(at + 1))) {
                last = ports;
                break;
            }
        }
    }
    return last;
}

}  // namespace journeyd
