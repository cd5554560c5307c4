// The odds ratio of a 2×2 table with its 95% Woolf (log) interval: how much more likely an
// episode that saw an event type was to advance than one that did not.
//
//                 advanced   not advanced
//     exposed        a            b
//     unexposed      c            d
//
// OR = (a·d) / (b·c); when any cell is 0, 0.5 is added to every cell (the Haldane–Anscombe
// correction) so that the ratio and its interval stay finite. The interval is
// exp(ln OR ± 1.959964 · sqrt(1/a + 1/b + 1/c + 1/d)).
//
// Pure function; thread-safe.
#pragma once

#include <cmath>
#include <cstdint>

namespace journeyd {

struct OddsRatio {
    double ratio = 1;
    double lo = 0;
    double hi = 0;
};

inline OddsRatio odds_ratio(int64_t a, int64_t b, int64_t c, int64_t d) {
    double cells[4] = {double(a), double(b), double(c), double(d)};
    if (a == 0 || b == 0 || c == 0 || d == 0)
        for (double& cell : cells) cell += 0.5;
    const double log_ratio =
        std::log(cells[0]) + std::log(cells[3]) - std::log(cells[1]) - std::log(cells[2]);
    const double se = std::sqrt(1 / cells[0] + 1 / cells[1] + 1 / cells[2] + 1 / cells[3]);
    constexpr double kZ95 = 1.959963984540054;
    return {std::exp(log_ratio), std::exp(log_ratio - kZ95 * se), std::exp(log_ratio + kZ95 * se)};
}

}  // namespace journeyd
