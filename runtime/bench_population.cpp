#include "runtime/bench_population.hpp"

#include <unistd.h>

#include <chrono>

namespace journeyd::bench {

std::string unique_run_prefix() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    return "b" + std::to_string(ms) + "." + std::to_string(::getpid()) + "-";
}

}  // namespace journeyd::bench
