// Asks the kernel to run the calling thread promptly when it wakes, for the one thread whose
// wake-up latency is the product's: the contact-pressure coordinator's (event->decision).
//
// `realtime`: SCHED_FIFO at the lowest real-time priority (1). The thread then runs as soon
// as it is runnable, ahead of every ordinary thread, and keeps the CPU until it blocks. Without
// it, on busy cores a woken coordinator waited up to 15 ms behind the checkpoint, the store
// and the actors' workers (perf sched timehist, docs/performance.md). It needs CAP_SYS_NICE or
// an RLIMIT_RTPRIO of at least 1 (systemd: LimitRTPRIO=1). The kernel's real-time throttling
// (sched_rt_runtime_us) and its fair server keep a runaway real-time thread from starving
// the rest of the machine.
//
// Otherwise, or when refused: a short time slice under Linux's EEVDF scheduler
// (sched_setattr with sched_runtime on a SCHED_OTHER thread, 6.6 and later), so that it runs
// within about `slice` of waking instead of after the running thread's default slice. It
// does not raise the thread's share of the CPU and needs no privilege.
//
// Best effort: returns what the kernel granted; the caller logs it and goes on.
#pragma once

#include <chrono>

namespace journeyd {

enum class WakeLatency { realtime, short_slice, ordinary };

const char* to_string(WakeLatency granted);

WakeLatency request_prompt_wakeups(bool realtime, std::chrono::microseconds slice);

}  // namespace journeyd
