// The decisions of each customer, newest first, bounded per customer: the answer to "why
// did (or didn't) this customer get that message?" (GET /customers/{id}/decisions).
// Not thread-safe: owned by the coordinator actor; the admin port asks the coordinator.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "state/pressure/pressure_ledger.hpp"
#include "state/sharded_hash_map.hpp"

namespace journeyd {

class DecisionLog {
  public:
    explicit DecisionLog(size_t per_customer) : per_customer_(per_customer) {}

    void record(const Decision& decision) {
        auto& entries = by_customer_[decision.customer];
        if (entries.size() >= per_customer_) entries.pop_back();
        entries.insert(entries.begin(), decision);
    }

    void restore(const std::string& customer, const std::vector<Decision>& newest_first) {
        auto& entries = by_customer_[customer];
        entries.assign(newest_first.begin(), newest_first.end());
        if (entries.size() > per_customer_) entries.resize(per_customer_);
    }

    // An identify merged `alias` into `canonical`: one log, newest first, bounded as ever.
    void merge(const std::string& alias, const std::string& canonical) {
        std::vector<Decision>* found = by_customer_.find(alias);
        if (found == nullptr || alias == canonical) return;
        std::vector<Decision> from = std::move(*found);
        by_customer_.erase(alias);
        auto& entries = by_customer_[canonical];
        entries.insert(entries.end(), from.begin(), from.end());
        std::stable_sort(entries.begin(), entries.end(),
                         [](const Decision& a, const Decision& b) { return a.at > b.at; });
        if (entries.size() > per_customer_) entries.resize(per_customer_);
    }

    // Its entries are durable with the customer's contact history; restore() brings them back.
    void forget(const std::string& customer) { by_customer_.erase(customer); }

    std::vector<Decision> newest_first(const std::string& customer) const {
        return entries_of(customer);
    }
    // The same, without a copy; empty for a customer it has no entries of.
    const std::vector<Decision>& entries_of(const std::string& customer) const {
        static const std::vector<Decision> none;
        const std::vector<Decision>* entries = by_customer_.find(customer);
        return entries ? *entries : none;
    }

  private:
    size_t per_customer_;
    // Newest first. A vector, not a deque: libstdc++'s deque allocates ~600 bytes for its
    // first element, and most customers have one or two decisions.
    ShardedHashMap<std::vector<Decision>> by_customer_;  // no stall while growing
};

}  // namespace journeyd
