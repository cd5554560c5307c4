// A crash test's hook: JOURNEYD_TEST_KILL_POINT=<name>:<n> makes the process SIGKILL itself the
// n-th time it reaches kill_point(<name>) (n defaults to 1). Unset, a call costs one comparison:
// it is compiled into the daemon but inert, so tests/crash_test.cpp can kill it at a moment no
// outside signal could hit reliably (right after a checkpoint's LMDB commit, or after the log's
// release).
//
// Thread-safety: any thread; the count is atomic.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace journeyd {

inline void kill_point(const char* name) {
    struct Plan {
        std::string name;
        long at = 1;
    };
    static const Plan plan = [] {
        Plan p;
        const char* value = std::getenv("JOURNEYD_TEST_KILL_POINT");
        if (value == nullptr) return p;
        const std::string spec = value;
        const size_t colon = spec.find(':');
        p.name = spec.substr(0, colon);
        if (colon != std::string::npos) p.at = std::strtol(spec.c_str() + colon + 1, nullptr, 10);
        return p;
    }();
    static std::atomic<long> reached{0};
    if (plan.name.empty() || plan.name != name) return;
    if (++reached >= plan.at) ::kill(::getpid(), SIGKILL);
}

}  // namespace journeyd
