#include "actors/timer_sweeper.hpp"

#include "actors/messages.hpp"

namespace journeyd {
namespace {

// Wakes the customers of one slice of due entries, starting after `after`. A full slice
// means more are due: the next follows shortly, from where this one ended, rather than a
// whole interval later from the start of the index, where the customers just woken still
// stand until their commits move their entries on.
void sweep(caf::event_based_actor* self, const SweeperSetup& s,
           const std::optional<DueTimer>& after) {
    const std::vector<DueTimer> due = s.store->timers_due(s.now(), s.batch, after);
    for (const DueTimer& timer : due)
        self->send(s.router.shard_for(timer.customer), timer_due_atom::value, timer.customer);
    if (due.size() == s.batch)
        self->delayed_send(self, s.next_slice_after, sweep_atom::value, due.back());
    else
        self->delayed_send(self, s.interval, sweep_atom::value);
}

}  // namespace

caf::behavior timer_sweeper(caf::event_based_actor* self, SweeperSetup setup) {
    auto s = std::make_shared<SweeperSetup>(std::move(setup));
    self->send(self, sweep_atom::value);
    return {
        [self, s](sweep_atom) { sweep(self, *s, std::nullopt); },
        [self, s](sweep_atom, const DueTimer& after) { sweep(self, *s, after); },
    };
}

}  // namespace journeyd
