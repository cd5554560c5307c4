#include "runtime/bench/report.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace journeyd::bench {
namespace {

// 1234567.8 with 0 decimals -> "1,234,568": big counts and byte sizes stay readable.
std::string format_number(double value, int decimals) {
    std::ostringstream fixed;
    fixed << std::fixed << std::setprecision(decimals) << std::abs(value);
    std::string text = fixed.str();
    const size_t point = text.find('.');
    const size_t integer_digits = point == std::string::npos ? text.size() : point;
    for (size_t at = integer_digits; at > 3; at -= 3) text.insert(at - 3, ",");
    return (value < 0 ? "-" : "") + text;
}

}  // namespace

void Report::setting(const std::string& key, nlohmann::json value) {
    settings_[key] = std::move(value);
}

void Report::set(const std::string& column, const std::string& key, const std::string& label,
                 std::optional<double> value, int decimals) {
    if (std::find(columns_.begin(), columns_.end(), column) == columns_.end())
        columns_.push_back(column);
    if (std::none_of(rows_.begin(), rows_.end(), [&](const Row& r) { return r.key == key; }))
        rows_.push_back({key, label, decimals});
    if (value && !std::isfinite(*value)) value.reset();
    for (Cell& cell : cells_)
        if (cell.column == column && cell.key == key) {
            cell.value = value;
            return;
        }
    cells_.push_back({column, key, value});
}

void Report::note(std::string text) {
    notes_.push_back(std::move(text));
}

const Report::Cell* Report::find(const std::string& column, const std::string& key) const {
    for (const Cell& cell : cells_)
        if (cell.column == column && cell.key == key) return &cell;
    return nullptr;
}

std::optional<double> Report::value(const std::string& column, const std::string& key) const {
    const Cell* cell = find(column, key);
    return cell ? cell->value : std::nullopt;
}

void Report::require_positive(const std::string& column, const std::string& key) {
    const auto v = value(column, key);
    if (!v)
        failures_.push_back(column + "." + key + " was not measured");
    else if (*v <= 0)
        failures_.push_back(column + "." + key + " = " + format_number(*v, 3) +
                            ", expected more than 0");
}

void Report::require_zero(const std::string& column, const std::string& key) {
    const auto v = value(column, key);
    if (!v)
        failures_.push_back(column + "." + key + " was not measured");
    else if (*v != 0)
        failures_.push_back(column + "." + key + " = " + format_number(*v, 3) + ", expected 0");
}

void Report::require_equal(const std::string& column, const std::string& key,
                           const std::string& other_key) {
    const auto v = value(column, key);
    const auto other = value(column, other_key);
    if (!v || !other)
        failures_.push_back(column + "." + (v ? other_key : key) + " was not measured");
    else if (*v != *other)
        failures_.push_back(column + "." + key + " = " + format_number(*v, 3) + " but " +
                            other_key + " = " + format_number(*other, 3));
}

void Report::require_ordered(const std::string& column, const std::vector<std::string>& keys) {
    std::optional<double> previous;
    std::string previous_key;
    for (const std::string& key : keys) {
        const auto v = value(column, key);
        if (!v) continue;
        if (previous && *previous > *v)
            failures_.push_back(column + ": " + previous_key + " = " + format_number(*previous, 3) +
                                " exceeds " + key + " = " + format_number(*v, 3));
        previous = v;
        previous_key = key;
    }
}

nlohmann::json Report::to_json() const {
    nlohmann::json results = nlohmann::json::object();
    for (const std::string& column : columns_) {
        nlohmann::json values = nlohmann::json::object();
        for (const Row& row : rows_)
            if (const Cell* cell = find(column, row.key))
                values[row.key] = cell->value ? nlohmann::json(*cell->value) : nullptr;
        results[column] = std::move(values);
    }
    return {{"mode", mode_},
            {"settings", settings_},
            {"results", std::move(results)},
            {"notes", notes_},
            {"check", {{"ok", failures_.empty()}, {"failures", failures_}}}};
}

void Report::print_table(std::ostream& out) const {
    out << "journey-bench " << mode_ << "\n";
    for (const auto& [key, value] : settings_.items())
        out << "  " << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump())
            << "\n";
    size_t label_width = 0;
    for (const Row& row : rows_) label_width = std::max(label_width, row.label.size());
    std::vector<std::vector<std::string>> texts(rows_.size());
    std::vector<size_t> widths;
    for (const std::string& column : columns_) widths.push_back(column.size());
    for (size_t r = 0; r < rows_.size(); ++r)
        for (size_t c = 0; c < columns_.size(); ++c) {
            const Cell* cell = find(columns_[c], rows_[r].key);
            texts[r].push_back(cell && cell->value ? format_number(*cell->value, rows_[r].decimals)
                                                   : "-");
            widths[c] = std::max(widths[c], texts[r].back().size());
        }
    out << "\n" << std::string(label_width, ' ');
    for (size_t c = 0; c < columns_.size(); ++c)
        out << "  " << std::setw(static_cast<int>(widths[c])) << columns_[c];
    out << "\n";
    for (size_t r = 0; r < rows_.size(); ++r) {
        out << std::left << std::setw(static_cast<int>(label_width)) << rows_[r].label
            << std::right;
        for (size_t c = 0; c < columns_.size(); ++c)
            out << "  " << std::setw(static_cast<int>(widths[c])) << texts[r][c];
        out << "\n";
    }
    if (!notes_.empty()) out << "\n";
    for (const std::string& note : notes_) out << "note: " << note << "\n";
    for (const std::string& failure : failures_) out << "CHECK FAILED: " << failure << "\n";
}

}  // namespace journeyd::bench
