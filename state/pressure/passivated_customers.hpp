// Which customers the coordinator may let go of, and when. A customer whose actor passivated
// is forgotten once the ledger holds no request of theirs, no decision of theirs waits to be
// committed, and every commit sent so far that may hold their decisions was answered: their
// contact history and decision log are then in the store, and are read back at their next
// request, as after a restart. Without this the coordinator kept every customer it ever
// decided for.
//
// Commits are numbered in the order the coordinator sends them; the store writer answers
// them in that order. "Settled" (nothing held, nothing pending) is the caller's to judge.
// Not thread-safe: owned by the coordinator actor.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace journeyd {

class PassivatedCustomers {
  public:
    // The customer's actor passivated. Returns whether they may be forgotten at once: settled,
    // and no commit in flight that may hold their decisions.
    bool passivated(const std::string& customer, bool settled) {
        passivated_.insert(customer);
        if (!settled) return false;
        if (answered_ == sent_) return true;
        due_.emplace_back(sent_, customer);
        return false;
    }

    // A request of theirs arrived: the customer is live again and stays.
    void active(const std::string& customer) {
        if (!passivated_.empty()) passivated_.erase(customer);
    }

    bool waiting(const std::string& customer) const {
        return !passivated_.empty() && passivated_.count(customer) > 0;
    }

    // A passivated customer's decisions go into the commit about to be sent; `settled` after it.
    void committing(const std::string& customer, bool settled) {
        if (settled && waiting(customer)) due_.emplace_back(sent_ + 1, customer);
    }
    void sent_commit() { ++sent_; }

    // The oldest commit in flight was answered. Returns the passivated customers it settles,
    // for the caller to check once more and forget; none if the commit failed (`durable`
    // false): they stay until a later commit of theirs succeeds.
    std::vector<std::string> answered(bool durable) {
        ++answered_;
        std::vector<std::string> due;
        while (!due_.empty() && due_.front().first <= answered_) {
            if (durable && waiting(due_.front().second))
                due.push_back(std::move(due_.front().second));
            due_.pop_front();
        }
        return due;
    }

    void forgot(const std::string& customer) { passivated_.erase(customer); }

    size_t size() const { return passivated_.size(); }

  private:
    std::unordered_set<std::string> passivated_;
    std::deque<std::pair<uint64_t, std::string>> due_;  // (commit to be answered, customer)
    uint64_t sent_ = 0;
    uint64_t answered_ = 0;
};

}  // namespace journeyd
