#include "runtime/delivery/delivery_sink.hpp"

#include <algorithm>
#include <cctype>

#include "runtime/delivery/file_sink.hpp"
#include "runtime/delivery/http_sink.hpp"

namespace journeyd {
namespace {

constexpr std::string_view kFilePrefix = "file:";
constexpr std::string_view kHttpPrefix = "http://";

// Values that would make a sink refuse everything (a zero capacity) or spin (a zero backoff)
// become the nearest working ones: options come from configuration, and a sink that never
// delivers would only show up much later as a full queue.
SinkOptions workable(SinkOptions options) {
    options.queue_capacity = std::max<size_t>(options.queue_capacity, 1);
    options.http_lanes = std::clamp<size_t>(options.http_lanes, 1, options.queue_capacity);
    options.retry_initial = std::max(options.retry_initial, std::chrono::milliseconds{1});
    options.retry_max = std::max(options.retry_max, options.retry_initial);
    if (options.tail_lines == 0) options.tail_lines = options.queue_capacity * 4;
    return options;
}

bool parse_port(std::string_view text, int& port) {
    if (text.empty() || text.size() > 5) return false;
    if (!std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(c) != 0; }))
        return false;
    port = std::stoi(std::string(text));
    return port >= 1 && port <= 65535;
}

}  // namespace

std::unique_ptr<DeliverySink> make_sink(const std::string& spec, const SinkOptions& options,
                                        std::string& error) {
    const std::string_view text = spec;
    if (text.substr(0, kFilePrefix.size()) == kFilePrefix) {
        const std::string path(text.substr(kFilePrefix.size()));
        if (!path.empty()) return open_file_sink(path, workable(options), error);
    } else if (text.substr(0, kHttpPrefix.size()) == kHttpPrefix) {
        const std::string_view rest = text.substr(kHttpPrefix.size());
        const size_t slash = rest.find('/');
        const std::string_view authority = rest.substr(0, slash);
        const size_t colon = authority.rfind(':');
        int port = 0;
        if (slash != std::string_view::npos && colon != std::string_view::npos && colon > 0 &&
            parse_port(authority.substr(colon + 1), port)) {
            return make_http_sink(std::string(authority.substr(0, colon)), port,
                                  std::string(rest.substr(slash)), workable(options));
        }
    }
    error = "delivery sink \"" + spec + "\": expected file:PATH or http://HOST:PORT/PATH";
    return nullptr;
}

}  // namespace journeyd
