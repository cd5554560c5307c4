// ActionTotals: every action's outcome counts as this process knows them, the input of the
// learned propensities (action_ranking.hpp).
//
// The store's counters are the durable truth (GET /actions reads them); this is their copy in
// memory, loaded from the store at start and moved by the customer actors as they open and
// close goal windows, so that ranking an action reads a few atomics instead of the store. In
// a cluster the other members' counts are added as their last exchange reported them
// (state/cluster/remote_counters.hpp), parsed once per report. A commit that fails after a count
// moved leaves this copy a little ahead of the store until the next start: a propensity is an
// estimate, and the store stays exact.
//
// Thread-safety: every method from any thread at once (customer actors on every scheduler
// thread, admin threads).
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "state/cluster/remote_counters.hpp"
#include "state/decisioning/action_outcome.hpp"
#include "state/journey/journey_model.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

class ActionTotals {
  public:
    // `others`: the other cluster members' counters; null on a single node.
    ActionTotals(const JourneyModel& model, std::shared_ptr<const RemoteCounters> others = {})
        : size_(model.actions.size()),
          counts_(new std::atomic<int64_t>[size_ * 3]),
          others_(std::move(others)) {
        for (size_t i = 0; i < size_ * 3; ++i) counts_[i] = 0;
        for (const Action& action : model.actions) names_.push_back(action.name);
    }

    // This node's stored counts (StoreStats::actions), at start.
    void load(const std::map<std::string, ActionCounts>& stored) {
        for (size_t a = 0; a < size_; ++a) {
            auto found = stored.find(names_[a]);
            if (found == stored.end()) continue;
            add(static_cast<ActionId>(a), ActionOutcome::sent, found->second.sent);
            add(static_cast<ActionId>(a), ActionOutcome::success, found->second.successes);
            add(static_cast<ActionId>(a), ActionOutcome::failure, found->second.failures);
        }
    }

    // A configuration change: the counts of `previous`, made under the running model, which
    // this one's is aligned to (model_alignment.hpp: an action keeps its index). Counts the
    // customers still add to `previous` after this are not carried: a propensity is an
    // estimate, and the store's counters, read at the next start, stay exact.
    void carry_over(const ActionTotals& previous) {
        for (size_t i = 0; i < std::min(size_, previous.size_) * 3; ++i)
            counts_[i] = previous.counts_[i].load(std::memory_order_relaxed);
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
        if (others_) {
            const auto others = others_by_action();
            for (size_t a = 0; a < size_; ++a) all[a] += others->counts[a];
        }
        return all;
    }

  private:
    struct Others {
        std::shared_ptr<const StoreCounters> from;  // the report they were parsed from
        std::vector<ActionCounts> counts;           // by ActionId
    };

    std::shared_ptr<const Others> others_by_action() const {
        const std::shared_ptr<const StoreCounters> sum = others_->sum();
        auto parsed = std::atomic_load(&parsed_);
        if (parsed && parsed->from == sum) return parsed;
        auto fresh = std::make_shared<Others>();
        fresh->from = sum;
        fresh->counts.resize(size_);
        StoreStats stats;
        if (sum) add_counts(*sum, stats);
        for (size_t a = 0; a < size_; ++a) {
            auto found = stats.actions.find(names_[a]);
            if (found != stats.actions.end()) fresh->counts[a] = found->second;
        }
        std::atomic_store(&parsed_, std::shared_ptr<const Others>(fresh));
        return fresh;
    }

    const size_t size_;
    std::unique_ptr<std::atomic<int64_t>[]> counts_;  // sent, successes, failures per action
    std::vector<std::string> names_;
    std::shared_ptr<const RemoteCounters> others_;
    mutable std::shared_ptr<const Others> parsed_;
};

}  // namespace journeyd
