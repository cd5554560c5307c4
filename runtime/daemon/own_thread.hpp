// Spawns an event-based actor on a thread of its own (caf::detached), named for operators
// (`top -H`, perf), optionally asking for prompt wake-ups (thread_latency.hpp).
//
// Why a thread of its own: every message to a scheduled actor that sleeps goes through the
// sharing scheduler's one queue and its mutex. A worker preempted while holding that mutex
// stalled the coordinator's sends to the store writer for up to 8 ms; an actor on its own
// thread is woken through its own mutex instead.
#pragma once

#include <spdlog/spdlog.h>

#include <caf/all.hpp>
#include <string>
#include <tuple>
#include <utility>

#include "runtime/daemon/thread_latency.hpp"
#include "state/thread_name.hpp"

namespace journeyd {

struct OwnThread {
    enum class Wakeups { as_any_thread, prompt, prompt_realtime };
    std::string name;
    Wakeups wakeups = Wakeups::as_any_thread;  // prompt_realtime: a short slice if refused
};

template <class Behavior, class... Args>
caf::actor spawn_on_own_thread(caf::actor_system& system, OwnThread thread, Behavior behavior,
                               Args... args) {
    return system.spawn<caf::detached>(
        [thread, behavior,
         args = std::make_tuple(std::move(args)...)](caf::event_based_actor* self) mutable {
            name_this_thread(thread.name);
            if (thread.wakeups != OwnThread::Wakeups::as_any_thread) {
                const bool realtime = thread.wakeups == OwnThread::Wakeups::prompt_realtime;
                const WakeLatency granted =
                    request_prompt_wakeups(realtime, std::chrono::microseconds(100));
                spdlog::info("thread prompt wake-ups name={} granted={}{}", thread.name,
                             to_string(granted),
                             realtime && granted != WakeLatency::realtime
                                 ? " (real-time priority refused: needs CAP_SYS_NICE or "
                                   "LimitRTPRIO=1)"
                                 : "");
            }
            return std::apply(
                [&](auto&... unpacked) { return behavior(self, std::move(unpacked)...); }, args);
        });
}

}  // namespace journeyd
