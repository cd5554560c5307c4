#include "runtime/daemon/thread_latency.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace journeyd {
namespace {

// The kernel's struct sched_attr (include/uapi/linux/sched/types.h, its first version): its
// header redefines glibc's sched_param, and glibc 2.36 has no sched_setattr wrapper.
struct SchedAttr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

bool request_short_time_slice(std::chrono::microseconds slice) {
    SchedAttr attr{};
    attr.size = sizeof(attr);
    attr.sched_policy = SCHED_OTHER;
    attr.sched_runtime =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(slice).count());
    return syscall(SYS_sched_setattr, 0, &attr, 0) == 0;
}

}  // namespace

const char* to_string(WakeLatency granted) {
    switch (granted) {
        case WakeLatency::realtime:
            return "realtime";
        case WakeLatency::short_slice:
            return "short_slice";
        case WakeLatency::ordinary:
            break;
    }
    return "ordinary";
}

WakeLatency request_prompt_wakeups(bool realtime, std::chrono::microseconds slice) {
    if (realtime) {
        sched_param lowest{};
        lowest.sched_priority = 1;
        if (sched_setscheduler(0, SCHED_FIFO, &lowest) == 0) return WakeLatency::realtime;
    }
    return request_short_time_slice(slice) ? WakeLatency::short_slice : WakeLatency::ordinary;
}

}  // namespace journeyd
