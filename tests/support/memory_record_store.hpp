// A RecordStore in memory, for tests of the layers above the store: the actors run on it,
// and lmdb_store_test holds LmdbStore to its semantics. Nothing is durable; a test "restarts"
// by building a new fixture on the same object. commits() counts commit() calls, to see that
// group commit batched.
//
// Thread-safety: any method from any thread; one mutex guards all of it.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "state/store/record_store.hpp"

namespace journeyd {

class MemoryRecordStore final : public RecordStore {
  public:
    void commit(const std::vector<StoreRecord>& batch) override {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const StoreRecord& r : batch) {
            count_moves(r, in_stage_);
            if (r.record.empty()) continue;
            records_[r.customer] = r.record;
            auto old = due_of_.find(r.customer);
            if (reindex(old == due_of_.end() ? std::nullopt : std::optional(old->second), r)) {
                if (old != due_of_.end()) {
                    index_.erase({old->second, r.customer});
                    due_of_.erase(old);
                }
                if (r.next_due) {
                    index_.insert({*r.next_due, r.customer});
                    due_of_[r.customer] = *r.next_due;
                }
            }
            if (r.applied_event) {
                applied_[{r.customer, *r.applied_event}] = r.applied_at;
                applied_by_time_.insert({r.applied_at, {r.customer, *r.applied_event}});
            }
        }
        for (const StoreRecord& r : batch)
            for (const TableWrite& w : r.writes) {
                auto& table = tables_[static_cast<size_t>(w.table)];
                if (w.value)
                    table[w.key] = *w.value;
                else
                    table.erase(w.key);
            }
        ++commits_;
    }

    std::optional<std::string> read(const std::string& customer) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = records_.find(customer);
        if (it == records_.end()) return std::nullopt;
        return it->second;
    }

    std::optional<std::string> read(Table table, const std::string& key) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto& entries = tables_[static_cast<size_t>(table)];
        auto it = entries.find(key);
        if (it == entries.end()) return std::nullopt;
        return it->second;
    }

    std::vector<std::pair<std::string, std::string>> read_all(Table table) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto& entries = tables_[static_cast<size_t>(table)];
        return {entries.begin(), entries.end()};
    }

    std::vector<DueTimer> timers_due(TimeMs until, size_t limit,
                                     const std::optional<DueTimer>& after = {}) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<DueTimer> due;
        auto it = after ? index_.upper_bound({after->due, after->customer}) : index_.begin();
        for (; it != index_.end() && it->first <= until; ++it) {
            if (due.size() == limit) break;
            due.push_back({it->first, it->second});
        }
        return due;
    }

    bool was_applied(const std::string& customer, uint64_t event_fingerprint) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        return applied_.count({customer, event_fingerprint}) > 0;
    }

    size_t forget_applied_before(TimeMs cutoff, size_t limit) override {
        std::lock_guard<std::mutex> lock(mutex_);
        size_t forgotten = 0;
        for (auto it = applied_by_time_.begin();
             it != applied_by_time_.end() && it->first < cutoff && forgotten < limit;
             it = applied_by_time_.erase(it), ++forgotten) {
            auto applied = applied_.find(it->second);  // unless applied again since
            if (applied != applied_.end() && applied->second == it->first) applied_.erase(applied);
        }
        return forgotten;
    }

    StoreStats stats() const override {
        std::lock_guard<std::mutex> lock(mutex_);
        uint64_t bytes = 0;
        for (const auto& [customer, record] : records_) bytes += customer.size() + record.size();
        StoreStats stats;
        stats.customers = records_.size();
        stats.pending_timers = index_.size();
        stats.applied_events = applied_.size();
        stats.bytes = bytes;
        stats.pending_requests = tables_[static_cast<size_t>(Table::requests)].size();
        stats.outbox = tables_[static_cast<size_t>(Table::outbox)].size();
        stats.dead_letters = tables_[static_cast<size_t>(Table::dead_letters)].size();
        add_counts(in_stage_, stats);
        return stats;
    }

    size_t commits() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return commits_;
    }

  private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::string> records_;
    std::set<std::pair<TimeMs, std::string>> index_;
    std::unordered_map<std::string, TimeMs> due_of_;
    using AppliedKey = std::pair<std::string, uint64_t>;
    std::map<AppliedKey, TimeMs> applied_;
    std::multimap<TimeMs, AppliedKey> applied_by_time_;
    std::map<std::string, int64_t> in_stage_;
    std::map<std::string, std::string> tables_[kTables];
    size_t commits_ = 0;
};

}  // namespace journeyd
