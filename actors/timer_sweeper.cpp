#include "actors/timer_sweeper.hpp"

#include "actors/messages.hpp"

namespace journeyd {

caf::behavior timer_sweeper(caf::event_based_actor* self, SweeperSetup setup) {
    auto s = std::make_shared<SweeperSetup>(std::move(setup));
    self->send(self, flush_atom::value);
    return {
        [self, s](flush_atom) {
            for (const DueTimer& due : s->store->timers_due(s->now(), s->batch))
                self->send(s->router.shard_for(due.customer), wakeup_atom::value, due.customer);
            self->delayed_send(self, s->interval, flush_atom::value);
        },
        [self](drain_atom) { self->quit(); },
    };
}

}  // namespace journeyd
