// Asks the kernel to treat the calling thread as latency-sensitive: a short time slice under
// Linux's EEVDF scheduler (sched_setattr with sched_runtime on a SCHED_OTHER thread, 6.6 and
// later), so that when it wakes on a busy machine it runs within about `slice` instead of
// after the running thread's default slice of a few milliseconds. It does not raise the
// thread's share of the CPU, and needs no privilege.
//
// Best effort: false when the kernel refuses (older kernels ignore or reject the field); the
// caller logs and goes on.
#pragma once

#include <chrono>

namespace journeyd {

bool request_short_time_slice(std::chrono::microseconds slice);

}  // namespace journeyd
