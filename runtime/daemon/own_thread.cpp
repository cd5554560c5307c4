#include "runtime/daemon/own_thread.hpp"

#include <semaphore.h>
#include <spdlog/spdlog.h>

#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <cerrno>
#include <limits>
#include <thread>

#include "runtime/daemon/thread_latency.hpp"
#include "state/thread_name.hpp"

namespace journeyd {

// A POSIX semaphore: sem_post wakes a waiter without holding any lock the waiter then needs.
class ThreadWakeup {
  public:
    ThreadWakeup() { ::sem_init(&semaphore_, 0, 0); }
    ~ThreadWakeup() { ::sem_destroy(&semaphore_); }
    ThreadWakeup(const ThreadWakeup&) = delete;
    ThreadWakeup& operator=(const ThreadWakeup&) = delete;

    void post() { ::sem_post(&semaphore_); }
    void wait() {
        while (::sem_wait(&semaphore_) != 0 && errno == EINTR) {
        }
    }

  private:
    sem_t semaphore_;
};

namespace {

void ask_for_prompt_wakeups(const OwnThread& thread) {
    if (thread.wakeups == OwnThread::Wakeups::as_any_thread) return;
    const bool realtime = thread.wakeups == OwnThread::Wakeups::prompt_realtime;
    const WakeLatency granted = request_prompt_wakeups(realtime, std::chrono::microseconds(100));
    spdlog::info("thread prompt wake-ups name={} granted={}{}", thread.name, to_string(granted),
                 realtime && granted != WakeLatency::realtime
                     ? " (real-time priority refused: needs CAP_SYS_NICE or LimitRTPRIO=1)"
                     : "");
}

enum class Lingered { not_at_all, message_came, nothing_came };

// After resume() found the mailbox empty and marked it blocked (senders post): unmarks it, so
// senders only push, and looks every linger.every, up to linger.times. Not at all when there is
// no lingering or a sender came before the unmark (it posted).
Lingered linger(OwnThreadActor* actor, const Linger& linger) {
    if (linger.times <= 0 || !actor->mailbox().try_unblock()) return Lingered::not_at_all;
    for (int look = 0; look < linger.times; ++look) {
        std::this_thread::sleep_for(linger.every);
        if (!actor->mailbox().empty()) return Lingered::message_came;
    }
    return Lingered::nothing_came;
}

// The actor holds one reference for as long as it is runnable (taken at launch and by the
// enqueue that woke it), as CAF's own scheduler does; it is given back when the actor sleeps
// or ends. After the last release the actor may be gone: only `wakeup` and `system` remain.
void run_actor(OwnThreadActor* actor, std::shared_ptr<ThreadWakeup> wakeup, OwnThread thread,
               caf::actor_system* system) {
    name_this_thread(thread.name);
    ask_for_prompt_wakeups(thread);
    caf::scoped_execution_unit unit{system};
    for (bool running = true; running;) {
        wakeup->wait();
        bool idle = false;  // lingered and nothing came: an empty mailbox now means sleep
        for (bool runnable = true; runnable;) {
            switch (actor->resume(&unit, std::numeric_limits<size_t>::max())) {
                case caf::resumable::resume_later:
                    break;
                case caf::resumable::awaiting_message:
                    if (!idle) {
                        const Lingered lingered = linger(actor, thread.linger);
                        if (lingered != Lingered::not_at_all) {
                            // resume() takes what came, or marks the mailbox blocked again.
                            idle = lingered == Lingered::nothing_came;
                            break;
                        }
                    }
                    runnable = false;
                    caf::intrusive_ptr_release(actor->ctrl());
                    break;
                case caf::resumable::done:
                    runnable = running = false;
                    caf::intrusive_ptr_release(actor->ctrl());
                    break;
                case caf::resumable::shutdown_execution_unit:
                    runnable = running = false;
                    break;
            }
        }
    }
    system->dec_detached_threads();
}

}  // namespace

OwnThreadActor::OwnThreadActor(caf::actor_config& config, OwnThread thread, Init init)
    : caf::event_based_actor(config),
      thread_(std::move(thread)),
      init_(std::move(init)),
      wakeup_(std::make_shared<ThreadWakeup>()) {}

caf::behavior OwnThreadActor::make_behavior() {
    return init_(this);
}

void OwnThreadActor::launch(caf::execution_unit*, bool, bool hide) {
    if (!hide) register_at_system();
    caf::intrusive_ptr_add_ref(ctrl());
    home_system().inc_detached_threads();
    std::thread(run_actor, this, wakeup_, thread_, &home_system()).detach();
    wakeup_->post();
}

void OwnThreadActor::enqueue(caf::mailbox_element_ptr element, caf::execution_unit*) {
    const caf::message_id id = element->mid;
    const caf::strong_actor_ptr sender = element->sender;
    switch (mailbox().push_back(std::move(element))) {
        case caf::intrusive::inbox_result::unblocked_reader:
            caf::intrusive_ptr_add_ref(ctrl());
            wakeup_->post();
            break;
        case caf::intrusive::inbox_result::queue_closed:
            if (id.is_request()) caf::detail::sync_request_bouncer{fail_state()}(sender, id);
            break;
        case caf::intrusive::inbox_result::success:
            break;
    }
}

}  // namespace journeyd
