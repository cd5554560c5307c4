// How tests wait: poll a condition until it holds or a deadline passes, never a fixed sleep
// hoping the work is done. The default deadline is generous because the tests share a
// loaded 2-core CI machine; a condition that holds returns at once, so it costs nothing.
#pragma once

#include <chrono>
#include <thread>

namespace journeyd::test {

constexpr std::chrono::seconds kPollDeadline{15};

// Whether `condition()` held before `deadline` passed; it is asked once more at the deadline,
// so a condition that comes true during the last interval still counts.
template <class Condition>
bool poll_until(Condition condition, std::chrono::milliseconds deadline = kPollDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
        if (condition()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
}

}  // namespace journeyd::test
