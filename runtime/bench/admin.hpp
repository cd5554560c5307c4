// journeyd's admin port as the benchmark reads it: GET /stats and GET /cluster (JSON), and
// GET /metrics (Prometheus text exposition), parsed into series.
//
// Histograms are compared between two scrapes: since() subtracts an earlier scrape's
// buckets, so a run's figures cover only what happened during the run, and quantile()
// interpolates linearly inside the bucket holding the rank, as Prometheus'
// histogram_quantile does (the first bucket starts at 0). A rank beyond the last finite
// bound is reported as that bound, and beyond_last_bound() says how many observations lie
// there, so a caller can say "at least".
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/bench/report.hpp"

namespace journeyd::bench {

struct Histogram {
    std::vector<double> bounds;      // finite upper bounds ("le"), ascending
    std::vector<double> cumulative;  // observations <= each bound
    double count = 0;                // all observations (the +Inf bucket)
    double sum = 0;

    Histogram since(const Histogram& earlier) const;
    std::optional<double> quantile(double q) const;  // nullopt without observations
    double beyond_last_bound() const;
};

// Rows `<key>_p50_ms`, `_p99_ms` and `_p999_ms` ("<label> p50 (ms)" ...) of `histogram`,
// a note when observations lie beyond its last bound, and the --check that they are ordered.
void report_percentiles(Report& report, const std::string& column, const std::string& key,
                        const std::string& label, const Histogram& histogram);

class MetricsScrape {
  public:
    explicit MetricsScrape(const std::string& exposition);

    // A series by its full name, labels included: `journeyd_decisions_total{outcome="send"}`.
    std::optional<double> value(const std::string& series) const;
    // Throws std::runtime_error when the exposition has no histogram of that name.
    Histogram histogram(const std::string& name) const;

  private:
    std::map<std::string, double> series_;
};

class AdminClient {
  public:
    explicit AdminClient(const std::string& host_port);

    nlohmann::json stats() const;
    nlohmann::json cluster() const;  // GET /cluster
    MetricsScrape metrics() const;
    // A gauge or counter of /metrics; throws when journeyd does not expose it.
    double metric(const std::string& series) const;

  private:
    // Throws on any answer but 200; a 503 (runtime busy) is asked again for up to 2 minutes.
    std::string get(const std::string& path) const;

    std::string host_;
    uint16_t port_ = 0;
};

}  // namespace journeyd::bench
