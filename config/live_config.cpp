#include "config/live_config.hpp"

#include "state/journey/model_alignment.hpp"

namespace journeyd {

std::shared_ptr<LiveConfig> following_config(const LiveConfig& live, RunningConfig running,
                                             std::shared_ptr<const RemoteCounters> others) {
    auto next = std::make_shared<LiveConfig>();
    next->engine = std::make_shared<JourneyEngine>(
        align_ids(running.config.journey, live.engine->model()));
    next->action_totals = std::make_shared<ActionTotals>(next->engine->model(), std::move(others));
    if (live.action_totals) next->action_totals->carry_over(*live.action_totals);
    next->running = std::move(running);
    next->generation = live.generation + 1;
    return next;
}

}  // namespace journeyd
