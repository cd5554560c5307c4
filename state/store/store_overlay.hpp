// What committed batches changed since a checkpoint, in memory, over a base that holds the
// rest: LoggedStore (state/store/logged_store.hpp) keeps the newest overlay, the one being
// checkpointed beneath it, and LMDB beneath both. A read asks the overlays newest first and
// LMDB last; the first that holds the key answers.
//
// apply() gives a batch exactly LmdbStore::commit's meaning: only a customer's last record in a
// batch is its state, its next_due moves the index entry by reindex() against the entry before
// the batch, and every record's applied id and stage move count. Timer entries are kept exact:
// the first time the overlay meets a customer (or an applied id, or a table key) it asks the base
// what is there, so the overlay knows each key's value before and after, and coalesced() can
// name final states and stats_delta() the change of every count.
//
// Thread-safety: none of its own. LoggedStore mutates the newest overlay under an exclusive
// lock and reads under a shared one; an overlay being checkpointed is no longer mutated.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "state/store/lmdb_store.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

// What the overlay's base holds for keys the overlay does not.
struct OverlayBase {
    // none: no such customer; else the customer's index entry (none: not indexed).
    std::function<std::optional<std::optional<TimeMs>>(std::string_view customer)> customer;
    std::function<bool(std::string_view customer, uint64_t fingerprint)> applied;
    std::function<bool(Table table, std::string_view key)> has;
};

class StoreOverlay {
  public:
    struct Customer {
        std::string record;
        std::optional<TimeMs> due;  // the index entry now (none: not indexed)
        bool existed = false;       // in the base
        bool was_indexed = false;   // in the base's index
    };
    struct Entry {
        std::optional<std::string> value;  // none: erased
        bool existed = false;
    };

    // `base_sequence`: the last log sequence beneath this overlay.
    explicit StoreOverlay(uint64_t base_sequence) : last_sequence_(base_sequence) {}

    void apply(const std::vector<StoreRecord>& batch, uint64_t sequence, const OverlayBase& base);

    bool empty() const {
        return records_ == 0 && applied_.empty() && stage_deltas_.empty() && !has_writes_;
    }
    size_t records() const { return records_; }
    uint64_t last_sequence() const { return last_sequence_; }

    const Customer* customer(std::string_view id) const;
    bool was_applied(std::string_view customer, uint64_t fingerprint) const;
    const Entry* entry(Table table, const std::string& key) const;
    const std::map<std::string, Entry>& entries(Table table) const;
    const std::set<std::pair<TimeMs, std::string>>& index() const { return index_; }

    // Adds this overlay's changes to stats of its base.
    void add_to(StoreStats& stats) const;
    // Final states, for one LMDB transaction; views into this overlay.
    CoalescedWrites coalesced() const;

  private:
    static std::string applied_key(std::string_view customer, uint64_t fingerprint);

    std::unordered_map<std::string, Customer> customers_;
    std::set<std::pair<TimeMs, std::string>> index_;
    struct Applied {
        TimeMs at = 0;
        bool existed = false;
    };
    std::unordered_map<std::string, Applied> applied_;  // fingerprint (8 bytes) + customer
    std::map<std::string, int64_t> stage_deltas_;
    std::map<std::string, Entry> tables_[kTables];
    bool has_writes_ = false;
    size_t records_ = 0;  // records applied (not customers): the checkpoint policy counts them
    uint64_t last_sequence_;
};

}  // namespace journeyd
