// ActionTotals: every action's outcome counts as this process knows them, the input of the
// learned propensities (action_ranking.hpp).
//
// The store's counters are the durable truth (GET /actions reads them); this is their copy in
// memory, loaded from the store at start and moved by the customer actors as they open and
// close goal windows, so that ranking an action reads a few atomics instead of the store. In
// a cluster the other members' counts are added as the last exchange reported them
// (set_others). A commit that fails after a count moved leaves this copy a little ahead of
// the store until the next start: a propensity is an estimate, and the store stays exact.
//
// Thread-safety: add() and snapshot() from any thread at once (customer actors on every
// scheduler thread); set_others() from the one actor that exchanges counts.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "state/decisioning/action_outcome.hpp"
#include "state/journey/journey_model.hpp"

namespace journeyd {

class ActionTotals {
  public:
    explicit ActionTotals(size_t actions)
        : size_(actions), counts_(new std::atomic<int64_t>[actions * 3]) {
        for (size_t i = 0; i < actions * 3; ++i) counts_[i] = 0;
    }

    size_t size() const { return size_; }

    void add(ActionId action, ActionOutcome outcome, int64_t n = 1) {
        if (action >= size_) return;
        counts_[action * 3 + static_cast<size_t>(outcome)].fetch_add(n, std::memory_order_relaxed);
    }

    // This node's counts together with the other members', by ActionId.
    std::vector<ActionCounts> snapshot() const {
        std::vector<ActionCounts> all(size_);
        for (size_t a = 0; a < size_; ++a) {
            all[a].sent = counts_[a * 3].load(std::memory_order_relaxed);
            all[a].successes = counts_[a * 3 + 1].load(std::memory_order_relaxed);
            all[a].failures = counts_[a * 3 + 2].load(std::memory_order_relaxed);
        }
        const auto others = std::atomic_load(&others_);
        if (others)
            for (size_t a = 0; a < size_ && a < others->size(); ++a) all[a] += (*others)[a];
        return all;
    }

    // What the other cluster members counted, by ActionId, replacing the last report.
    void set_others(std::vector<ActionCounts> others) {
        std::atomic_store(&others_, std::make_shared<const std::vector<ActionCounts>>(
                                        std::move(others)));
    }

  private:
    const size_t size_;
    std::unique_ptr<std::atomic<int64_t>[]> counts_;  // sent, successes, failures per action
    std::shared_ptr<const std::vector<ActionCounts>> others_;
};

}  // namespace journeyd
