#include "runtime/bench/admin.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "runtime/client/ingest_client.hpp"

namespace journeyd::bench {

Histogram Histogram::since(const Histogram& earlier) const {
    if (earlier.bounds != bounds)
        throw std::runtime_error("histogram buckets changed between scrapes");
    Histogram delta = *this;
    for (size_t i = 0; i < cumulative.size(); ++i) delta.cumulative[i] -= earlier.cumulative[i];
    delta.count -= earlier.count;
    delta.sum -= earlier.sum;
    return delta;
}

std::optional<double> Histogram::quantile(double q) const {
    if (count <= 0) return std::nullopt;
    const double rank = q * count;
    double lower = 0, below = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
        if (cumulative[i] >= rank) {
            const double in_bucket = cumulative[i] - below;
            return lower + (bounds[i] - lower) * (in_bucket > 0 ? (rank - below) / in_bucket : 1);
        }
        lower = bounds[i];
        below = cumulative[i];
    }
    return bounds.empty() ? std::nullopt : std::optional<double>(bounds.back());
}

double Histogram::beyond_last_bound() const {
    return bounds.empty() ? count : count - cumulative.back();
}

void report_percentiles(Report& report, const std::string& column, const std::string& key,
                        const std::string& label, const Histogram& histogram) {
    std::vector<std::string> keys;
    for (const auto& [q, name] : {std::pair{0.50, "p50"}, {0.99, "p99"}, {0.999, "p999"}}) {
        const auto seconds = histogram.quantile(q);
        keys.push_back(key + "_" + name + "_ms");
        report.set(column, keys.back(), label + " " + name + " (ms)",
                   seconds ? std::optional<double>(*seconds * 1000) : std::nullopt, 2);
    }
    report.require_ordered(column, keys);
    if (histogram.beyond_last_bound() > 0)
        report.note(column + ": " +
                    std::to_string(static_cast<uint64_t>(histogram.beyond_last_bound())) + " of " +
                    std::to_string(static_cast<uint64_t>(histogram.count)) + " " + label +
                    " observations lie beyond the histogram's last bound (" +
                    std::to_string(static_cast<int>(histogram.bounds.back())) +
                    " s); percentiles among them read as that bound");
}

MetricsScrape::MetricsScrape(const std::string& exposition) {
    std::istringstream lines(exposition);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.empty() || line[0] == '#') continue;
        const size_t space = line.rfind(' ');
        if (space == std::string::npos) continue;
        try {
            series_[line.substr(0, space)] = std::stod(line.substr(space + 1));
        } catch (const std::exception&) {
            throw std::runtime_error("unreadable /metrics line: " + line);
        }
    }
}

std::optional<double> MetricsScrape::value(const std::string& series) const {
    auto it = series_.find(series);
    if (it == series_.end()) return std::nullopt;
    return it->second;
}

Histogram MetricsScrape::histogram(const std::string& name) const {
    Histogram h;
    const std::string prefix = name + "_bucket{le=\"";
    std::vector<std::pair<double, double>> buckets;
    for (auto it = series_.lower_bound(prefix);
         it != series_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        const std::string bound =
            it->first.substr(prefix.size(), it->first.size() - prefix.size() - 2);
        if (bound != "+Inf") buckets.emplace_back(std::stod(bound), it->second);
    }
    const auto count = value(name + "_count");
    if (!count || buckets.empty())
        throw std::runtime_error("journeyd's /metrics has no histogram " + name +
                                 " (is it an older journeyd?)");
    std::sort(buckets.begin(), buckets.end());
    for (const auto& [bound, cumulative] : buckets) {
        h.bounds.push_back(bound);
        h.cumulative.push_back(cumulative);
    }
    h.count = *count;
    h.sum = value(name + "_sum").value_or(0);
    return h;
}

AdminClient::AdminClient(const std::string& host_port) {
    const auto parsed = parse_host_port(host_port);
    if (!parsed) throw std::runtime_error("invalid admin address \"" + host_port + "\"");
    host_ = parsed->host;
    port_ = parsed->port;
}

std::string AdminClient::get(const std::string& path) const {
    httplib::Client client(host_, port_);
    client.set_connection_timeout(std::chrono::seconds(5));
    client.set_read_timeout(std::chrono::seconds(30));
    auto answer = client.Get(path.c_str());
    // A 503 is journeyd's runtime not answering within its admin timeout: actors behind a
    // backlog the benchmark itself just sent (a million decisions, say). That passes; a
    // benchmark asks again rather than fail, for a while.
    const auto busy_until = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    while (answer && answer->status == 503 && std::chrono::steady_clock::now() < busy_until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        answer = client.Get(path.c_str());
    }
    if (!answer)
        throw std::runtime_error("GET " + path + " on " + host_ + ":" + std::to_string(port_) +
                                 " failed: " + httplib::to_string(answer.error()));
    if (answer->status != 200)
        throw std::runtime_error("GET " + path + " answered " + std::to_string(answer->status) +
                                 ": " + answer->body);
    return answer->body;
}

nlohmann::json AdminClient::stats() const {
    return nlohmann::json::parse(get("/stats"));
}

nlohmann::json AdminClient::cluster() const {
    return nlohmann::json::parse(get("/cluster"));
}

MetricsScrape AdminClient::metrics() const {
    return MetricsScrape(get("/metrics"));
}

double AdminClient::metric(const std::string& series) const {
    const auto v = metrics().value(series);
    if (!v) throw std::runtime_error("journeyd's /metrics has no series " + series);
    return *v;
}

}  // namespace journeyd::bench
