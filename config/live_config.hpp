// The configuration in force while journeyd runs, and its replacement by a checked change
// (docs/operations.md, "Changing the configuration").
//
// A LiveConfig is immutable once published: the text and version, the compiled journey the
// customers run under, and the actions' outcome counts ranked by it. A change compiles a new
// one (its model aligned to the running one's ids, model_alignment.hpp) and publishes it;
// nothing is recompiled per customer. Each customer actor compares the generation it runs
// under with generation() at the start of every message it handles and, when they differ,
// brings its state to current() first (customer_upgrade.hpp), so one event or timer is applied
// wholly under one version.
//
// Thread-safety: current() and generation() from any thread; publish() from one thread at a
// time (the daemon serializes changes).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "config/config_version.hpp"
#include "state/decisioning/action_totals.hpp"
#include "state/journey/journey_engine.hpp"

namespace journeyd {

struct LiveConfig {
    RunningConfig running;
    std::shared_ptr<const JourneyEngine> engine;
    // Learned by the customers under this configuration; a change carries the counts over.
    std::shared_ptr<ActionTotals> action_totals;
    uint64_t generation = 0;
};

class LiveConfigs {
  public:
    explicit LiveConfigs(std::shared_ptr<const LiveConfig> first)
        : current_(std::move(first)), generation_(current_->generation) {}

    std::shared_ptr<const LiveConfig> current() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return current_;
    }
    // One load: what a customer checks on every message.
    uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

    // `next->generation` must be higher than the current one's.
    void publish(std::shared_ptr<const LiveConfig> next) {
        std::lock_guard<std::mutex> lock(mutex_);
        current_ = std::move(next);
        generation_.store(current_->generation, std::memory_order_release);
    }

  private:
    mutable std::mutex mutex_;
    std::shared_ptr<const LiveConfig> current_;
    std::atomic<uint64_t> generation_;
};

// The configuration that follows `live` once `running` (a checked text, loaded) is applied:
// its journey aligned to live's ids, the actions' counts carried over, the next generation.
std::shared_ptr<LiveConfig> following_config(const LiveConfig& live, RunningConfig running,
                                             std::shared_ptr<const RemoteCounters> others);

// The configuration a process starts with (generation 1).
inline std::shared_ptr<LiveConfigs> starting_configs(RunningConfig running,
                                                    std::shared_ptr<const JourneyEngine> engine,
                                                    std::shared_ptr<ActionTotals> action_totals) {
    auto first = std::make_shared<LiveConfig>();
    first->running = std::move(running);
    first->engine = std::move(engine);
    first->action_totals = std::move(action_totals);
    first->generation = 1;
    return std::make_shared<LiveConfigs>(std::move(first));
}

}  // namespace journeyd
