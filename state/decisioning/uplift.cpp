#include "state/decisioning/uplift.hpp"

#include <algorithm>
#include <cmath>

namespace journeyd {
namespace {

constexpr double kZ = 1.959963984540054;  // the standard normal's 97.5th percentile

}  // namespace

std::pair<double, double> wilson_interval(int64_t converted, int64_t n) {
    const double size = static_cast<double>(n);
    const double p = static_cast<double>(converted) / size;
    const double z2 = kZ * kZ;
    const double centre = (p + z2 / (2 * size)) / (1 + z2 / size);
    const double half =
        kZ / (1 + z2 / size) * std::sqrt(p * (1 - p) / size + z2 / (4 * size * size));
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::optional<Uplift> uplift(int64_t treated_n, int64_t treated_converted, int64_t control_n,
                             int64_t control_converted) {
    if (treated_n <= 0 || control_n <= 0) return std::nullopt;
    const double p1 = static_cast<double>(treated_converted) / static_cast<double>(treated_n);
    const double p2 = static_cast<double>(control_converted) / static_cast<double>(control_n);
    const auto [l1, u1] = wilson_interval(treated_converted, treated_n);
    const auto [l2, u2] = wilson_interval(control_converted, control_n);
    Uplift result;
    result.absolute = p1 - p2;
    if (p2 > 0) result.relative = result.absolute / p2;
    result.ci95 = {result.absolute - std::sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2)),
                   result.absolute + std::sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2))};
    return result;
}

}  // namespace journeyd
