#include "state/journey/flow_counters.hpp"

#include <algorithm>
#include <string_view>

#include "state/decimal.hpp"
#include "state/journey/stay_sketch.hpp"

namespace journeyd {
namespace {

std::string move_key(const std::string& prefix, std::string_view from, std::string_view to) {
    std::string key = prefix;
    key.append(from).push_back('\0');
    key.append(to);
    return key;
}

std::string driver_key(const std::string& driver, char cell, std::string_view event = {}) {
    std::string key = kDriverCount;
    key.append(driver).push_back('\0');
    key.push_back(cell);
    key.append(event);
    return key;
}

bool starts_with(std::string_view key, std::string_view prefix) {
    return key.compare(0, prefix.size(), prefix) == 0;
}

// "from NUL to" into its two names.
std::optional<std::pair<std::string, std::string>> split_move(std::string_view rest) {
    const size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) return std::nullopt;
    return std::make_pair(std::string(rest.substr(0, nul)), std::string(rest.substr(nul + 1)));
}

}  // namespace

void add_flow_counters(const JourneyModel& model, const Effects& effects, TimeMs now,
                       std::vector<std::pair<std::string, int64_t>>& changes) {
    // Most events move no one and close no episode: nothing to format for them.
    if (effects.stage_changes.empty() && effects.closed_episodes.empty()) return;
    const std::string day = std::to_string(now / kDayMs);
    for (const StageChange& change : effects.stage_changes) {
        static const std::string kCreated;  // a creation moves from no stage
        const std::string& from = change.had_stage ? model.stages[change.from] : kCreated;
        const std::string& to = model.stages[change.to];
        changes.emplace_back(move_key(kFlowCount, from, to), 1);
        changes.emplace_back(move_key(kFlowDayCount + day + std::string(1, '\0'), from, to), 1);
        if (change.had_stage)
            changes.emplace_back(
                move_key(kStayCount, from, std::to_string(stay_bucket(change.stayed))), 1);
    }
    for (const ClosedEpisode& closed : effects.closed_episodes) {
        const std::string& driver = model.driver_name(closed.episode.driver);
        const int64_t advanced = closed.advanced ? 1 : 0;
        changes.emplace_back(driver_key(driver, 'N'), 1);
        if (advanced) changes.emplace_back(driver_key(driver, 'A'), 1);
        auto exposed = [&](std::string_view type) {
            changes.emplace_back(driver_key(driver, 'n', type), 1);
            if (advanced) changes.emplace_back(driver_key(driver, 'a', type), 1);
        };
        closed.episode.for_each_type(exposed);
        if (closed.episode.other) exposed("other");
    }
}

JourneyFlow journey_flow(const JourneyModel& model, const std::map<std::string, int64_t>& counters,
                         std::optional<TimeMs> since) {
    JourneyFlow flow;
    std::map<std::string, size_t> index;
    auto stage = [&](const std::string& name) -> StageFlow& {
        auto [it, inserted] = index.try_emplace(name, flow.stages.size());
        if (inserted) {
            flow.stages.emplace_back();
            flow.stages.back().name = name;
        }
        return flow.stages[it->second];
    };
    for (const std::string& name : model.stages) stage(name);
    std::optional<int64_t> first_day;
    if (since) {
        first_day = (*since >= 0 ? *since : *since - kDayMs + 1) / kDayMs;
        flow.since = *first_day * kDayMs;
    }
    std::map<std::pair<std::string, std::string>, int64_t> moves;
    std::map<std::string, std::map<int, int64_t>> stays;
    for (const auto& [key, count] : counters) {
        std::optional<std::pair<std::string, std::string>> move;
        if (!first_day && starts_with(key, kFlowCount)) {
            move = split_move(std::string_view(key).substr(kFlowCount.size()));
        } else if (first_day && starts_with(key, kFlowDayCount)) {
            const std::string_view rest = std::string_view(key).substr(kFlowDayCount.size());
            const size_t nul = rest.find('\0');
            if (nul == std::string_view::npos) continue;
            const auto day = parse_decimal<int64_t>(rest.substr(0, nul));
            if (!day || *day < *first_day) continue;
            move = split_move(rest.substr(nul + 1));
        } else if (starts_with(key, kStayCount)) {
            if (auto bucket = split_move(std::string_view(key).substr(kStayCount.size())))
                if (auto index = parse_decimal<int>(bucket->second))
                    stays[bucket->first][*index] += count;
        } else if (!key.empty() && key[0] != '\0' && index.count(key) > 0) {
            stage(key).customers += count;
        }
        if (move) moves[*move] += count;
    }
    for (const auto& [move, count] : moves) {
        if (count == 0) continue;
        stage(move.second).entered += count;
        if (move.first.empty()) continue;  // a creation: an entry, not a transition
        stage(move.first).left += count;
        flow.transitions.push_back({move.first, move.second, count});
    }
    for (const auto& [name, buckets] : stays)
        stage(name).median_time_in_stage_ms = stay_quantile(buckets, 0.5);
    std::stable_sort(
        flow.transitions.begin(), flow.transitions.end(),
        [](const FlowTransition& a, const FlowTransition& b) { return a.count > b.count; });
    return flow;
}

std::vector<DriverRow> driver_rows(const JourneyModel& model, size_t driver,
                                   const std::map<std::string, int64_t>& counters) {
    const std::string prefix = kDriverCount + model.driver_name(driver) + std::string(1, '\0');
    DriverCells all;
    std::map<std::string, DriverCells> exposed;
    for (auto it = counters.lower_bound(prefix);
         it != counters.end() && starts_with(it->first, prefix); ++it) {
        const std::string_view rest = std::string_view(it->first).substr(prefix.size());
        if (rest.empty()) continue;
        const std::string event(rest.substr(1));
        switch (rest[0]) {
            case 'N':
                all.episodes += it->second;
                break;
            case 'A':
                all.advanced += it->second;
                break;
            case 'n':
                exposed[event].episodes += it->second;
                break;
            case 'a':
                exposed[event].advanced += it->second;
                break;
            default:
                break;
        }
    }
    std::vector<DriverRow> rows;
    for (const auto& [event, cells] : exposed) {
        DriverRow row;
        row.event = event;
        row.exposed = cells;
        row.unexposed = {all.episodes - cells.episodes, all.advanced - cells.advanced};
        row.odds =
            odds_ratio(cells.advanced, cells.episodes - cells.advanced, row.unexposed.advanced,
                       row.unexposed.episodes - row.unexposed.advanced);
        rows.push_back(std::move(row));
    }
    std::sort(rows.begin(), rows.end(), [](const DriverRow& a, const DriverRow& b) {
        if (a.odds.lo != b.odds.lo) return a.odds.lo > b.odds.lo;
        if (a.odds.ratio != b.odds.ratio) return a.odds.ratio > b.odds.ratio;
        return a.event < b.event;
    });
    return rows;
}

}  // namespace journeyd
