// What a program's goal says of the program: the difference between the conversion of the
// customers it was sent to (treated) and of those held out when it would have been sent
// (control), with a 95% interval (GET /programs, docs/protocol.md).
//
// The interval is Newcombe's hybrid score interval for a difference of two independent
// proportions (Newcombe 1998, method 10): a Wilson score interval for each arm, combined. Unlike
// the textbook Wald interval it stays inside [-1, 1], is not of zero width when an arm converts
// never or always, and keeps close to its nominal coverage with the small control groups a
// holdout of a few percent gives.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

namespace journeyd {

struct Uplift {
    double absolute = 0;             // treated rate - control rate
    std::optional<double> relative;  // absolute / control rate; none when the control rate is 0
    std::pair<double, double> ci95;  // of `absolute`
};

// The Wilson score interval of `converted` out of `n` (n > 0) at 95%.
std::pair<double, double> wilson_interval(int64_t converted, int64_t n);

// None while either arm has no closed window.
std::optional<Uplift> uplift(int64_t treated_n, int64_t treated_converted, int64_t control_n,
                             int64_t control_converted);

}  // namespace journeyd
