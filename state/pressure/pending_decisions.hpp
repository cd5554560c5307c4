// Decisions made but not yet committed, grouped by customer: the coordinator commits them in
// slices of whole customers, so that a slice holds every pending decision of each of its
// customers (whose history is encoded from the ledger as it is now, with all of them), and
// taking a slice costs what the slice holds, however many decisions wait behind it.
//
// Order: customers in the order of their first pending decision; each customer's decisions
// in the order they were made. Not thread-safe: owned by the coordinator actor.
#pragma once

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "state/pressure/pressure_ledger.hpp"

namespace journeyd {

class PendingDecisions {
  public:
    void add(std::vector<Decision>& decided) {
        for (Decision& d : decided) {
            std::vector<Decision>& of_customer = by_customer_[d.customer];
            if (of_customer.empty()) order_.push_back(d.customer);
            of_customer.push_back(std::move(d));
        }
        size_ += decided.size();
        decided.clear();
    }

    // Whole customers from the front until at least `limit` decisions are taken, or all.
    std::vector<Decision> take(size_t limit) {
        std::vector<Decision> slice;
        while (!order_.empty() && slice.size() < limit) {
            auto customer = by_customer_.find(order_.front());
            for (Decision& d : customer->second) slice.push_back(std::move(d));
            by_customer_.erase(customer);
            order_.pop_front();
        }
        size_ -= slice.size();
        return slice;
    }
    std::vector<Decision> take_all() { return take(size_); }

    bool contains(const std::string& customer) const { return by_customer_.count(customer) > 0; }
    bool contains(const std::string& customer, const std::string& decision_id) const {
        auto of_customer = by_customer_.find(customer);
        if (of_customer == by_customer_.end()) return false;
        return std::any_of(of_customer->second.begin(), of_customer->second.end(),
                           [&](const Decision& d) { return d.decision_id == decision_id; });
    }
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }

  private:
    std::deque<std::string> order_;
    std::unordered_map<std::string, std::vector<Decision>> by_customer_;
    size_t size_ = 0;
};

}  // namespace journeyd
