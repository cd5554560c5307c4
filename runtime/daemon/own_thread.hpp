// Spawns an event-based actor on a thread of its own, named for operators (`top -H`, perf),
// optionally asking for prompt wake-ups (thread_latency.hpp).
//
// Why a thread of its own: every message to a scheduled actor that sleeps goes through the
// sharing scheduler's one queue and its mutex. A worker preempted while holding that mutex
// stalled the coordinator's sends to the store writer for up to 8 ms.
//
// Why not caf::detached: CAF 0.17 wakes a detached actor's thread by notifying its condition
// variable while the sender holds the thread's mutex. A real-time coordinator woken that way
// preempts the sender, finds the mutex held and sleeps again; the sender, an ordinary thread,
// then waits for a CPU behind everything else, and every request that arrives meanwhile waits
// with it. At half of peak ingest, half of the requests decided later than 2 ms after they
// were sent had waited 1-4 ms for such a wake-up with the coordinator idle
// (docs/performance.md). Here a sender that finds the actor asleep posts a semaphore and holds
// no lock: the woken thread can run at once.
//
// Contract: as caf::detached otherwise. Messages run one at a time, in mailbox order, on the
// actor's thread; the thread ends when the actor quits, and the actor system's destructor
// waits for it. Thread-safe: any thread may send to the actor.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

namespace journeyd {

// Lingering: once its mailbox is empty, the thread looks again `times` times, `every` apart,
// before it sleeps. Meanwhile senders only push: waking a sleeping thread (a futex wake, an IPI
// and a switch on a VM) cost the CAF workers a fifth of their time at peak ingest, one wake-up
// per message to a thread that is idle for microseconds between them. A message that arrives
// while it lingers waits up to `every`; an idle thread pays `times` short sleeps per idle spell.
struct Linger {
    std::chrono::microseconds every{0};
    int times = 0;
};

struct OwnThread {
    enum class Wakeups { as_any_thread, prompt, prompt_realtime };
    OwnThread(std::string name, Wakeups wakeups = Wakeups::as_any_thread, Linger linger = {})
        : name(std::move(name)), wakeups(wakeups), linger(linger) {}
    std::string name;
    Wakeups wakeups;  // prompt_realtime: a short slice if refused
    Linger linger;    // none: sleeps as soon as the mailbox is empty
};

class ThreadWakeup;

class OwnThreadActor : public caf::event_based_actor {
  public:
    using Init = std::function<caf::behavior(caf::event_based_actor*)>;

    OwnThreadActor(caf::actor_config& config, OwnThread thread, Init init);

    caf::behavior make_behavior() override;
    void launch(caf::execution_unit* unit, bool lazy, bool hide) override;
    using caf::event_based_actor::enqueue;
    void enqueue(caf::mailbox_element_ptr element, caf::execution_unit* unit) override;

  private:
    OwnThread thread_;
    Init init_;
    // Shared with the thread, which still waits on it after the actor is gone.
    std::shared_ptr<ThreadWakeup> wakeup_;
};

template <class Behavior, class... Args>
caf::actor spawn_on_own_thread(caf::actor_system& system, OwnThread thread, Behavior behavior,
                               Args... args) {
    return system.spawn<OwnThreadActor>(
        std::move(thread), [behavior, args = std::make_tuple(std::move(args)...)](
                               caf::event_based_actor* self) mutable {
            return std::apply(
                [&](auto&... unpacked) { return behavior(self, std::move(unpacked)...); }, args);
        });
}

}  // namespace journeyd
