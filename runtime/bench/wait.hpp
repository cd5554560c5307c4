// How journey-bench waits for the daemon: poll a condition until it holds or a deadline
// passes, never a fixed sleep hoping the daemon got there.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace journeyd::bench {

// Returns once `condition()` is true; throws std::runtime_error naming `what` when it is
// still false at `deadline`.
template <class Condition>
void poll_until(Condition condition, std::chrono::milliseconds deadline, const std::string& what,
                std::chrono::milliseconds every = std::chrono::milliseconds(100)) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= until)
            throw std::runtime_error("gave up after " + std::to_string(deadline.count() / 1000) +
                                     " s waiting for " + what);
        std::this_thread::sleep_for(every);
    }
}

}  // namespace journeyd::bench
