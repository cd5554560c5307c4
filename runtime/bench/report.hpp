// What one journey-bench mode measured, for people (a table) and for scripts (one JSON
// object), built from the same values so that the two never disagree.
//
// Values sit in columns, one per run of a mode ("peak" and "half", "live" and "passivated";
// a single column for single-run modes), under row keys; the table shows each row's label,
// JSON its key:
//   {"mode", "settings": {...}, "results": {COLUMN: {KEY: number|null}}, "notes": [...],
//    "check": {"ok": bool, "failures": [...]}}
// A value that could not be measured is null in JSON and "-" in the table.
//
// Sanity checks (--check) are recorded next to the values: require_positive, require_zero,
// require_equal and require_ordered add a failure when a value is missing, not positive,
// not zero, unlike the other, or out of order.
// They judge whether the numbers make sense, never whether they are fast.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace journeyd::bench {

inline constexpr double kMiB = 1024.0 * 1024.0;  // the tables show memory in MiB

class Report {
  public:
    explicit Report(std::string mode) : mode_(std::move(mode)) {}

    void setting(const std::string& key, nlohmann::json value);
    // `decimals` is how the table rounds it; JSON gets the value as measured.
    void set(const std::string& column, const std::string& key, const std::string& label,
             std::optional<double> value, int decimals = 0);
    void note(std::string text);

    void require_positive(const std::string& column, const std::string& key);
    void require_zero(const std::string& column, const std::string& key);
    // Two counts of one thing, taken two ways (the bench's and the daemon's).
    void require_equal(const std::string& column, const std::string& key,
                       const std::string& other_key);
    // Each present value at most the next present one (p50 <= p99 <= p999); missing values
    // are skipped: a histogram without observations has no percentiles to order.
    void require_ordered(const std::string& column, const std::vector<std::string>& keys);

    const std::vector<std::string>& failures() const { return failures_; }

    nlohmann::json to_json() const;
    void print_table(std::ostream& out) const;

  private:
    struct Row {
        std::string key;
        std::string label;
        int decimals = 0;
    };
    struct Cell {
        std::string column;
        std::string key;
        std::optional<double> value;
    };
    const Cell* find(const std::string& column, const std::string& key) const;
    std::optional<double> value(const std::string& column, const std::string& key) const;

    std::string mode_;
    nlohmann::json settings_ = nlohmann::json::object();
    std::vector<std::string> columns_;  // in order of first use
    std::vector<Row> rows_;             // in order of first use
    std::vector<Cell> cells_;
    std::vector<std::string> notes_;
    std::vector<std::string> failures_;
};

}  // namespace journeyd::bench
