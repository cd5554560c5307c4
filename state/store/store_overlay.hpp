// What committed batches changed since a checkpoint, in memory, over a base that holds the
// rest: LoggedStore (state/store/logged_store.hpp) keeps the newest overlay, the one being
// checkpointed beneath it, and LMDB beneath both. A read asks the overlays newest first and
// LMDB last; the first that holds the key answers.
//
// Applying a batch gives it LmdbStore::commit's meaning without ever reading the base, so that a
// commit costs hash-map updates and no B-tree lookups: only a customer's last record in a batch
// is its state; every record's applied id and stage move count.
//
// The timer index is kept as what each customer's records do to the entry below, composed: an
// exact entry (StoreRecord::index_lower_bound false: "the entry is now d", d may be none) or a
// lower bound ("the entry is now min(entry below, d)", none counting as later than anything).
// Composed, a sequence of them is again one of the two: exact d then bound e is exact min(d, e);
// bound d then bound e is bound min(d, e); anything then exact e is exact e. The layer beneath
// resolves it: LmdbStore::write_coalesced at the checkpoint, LoggedStore::timers_due on a read.
//
// Counts (add_to) come from what the records say, not from the base: a stage move from "" is a
// new customer, an applied id or a table key first met in this overlay is new (a key first met
// as an erase was there before), a customer's exact "none" removed an entry. That is exact for
// what the daemon writes (ids and decision ids are never applied or written twice); LMDB counts
// its entries itself, so every checkpoint makes the counts exact again whatever was written.
//
// Thread-safety: none of its own. LoggedStore mutates the newest overlay under an exclusive
// lock and reads under a shared one; an overlay being checkpointed is no longer mutated.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "state/store/lmdb_store.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

class StoreOverlay {
  public:
    struct Customer {
        std::string record;
        std::optional<TimeMs> due;  // the composed index operation, see above
        bool lower_bound = false;
        bool created = false;  // a record in this overlay created the customer
    };
    struct Entry {
        std::optional<std::string> value;  // none: erased
        bool first_erased = false;         // first met as an erase: it was in the base
    };

    // `base_sequence`: the last log sequence beneath this overlay.
    explicit StoreOverlay(uint64_t base_sequence) : last_sequence_(base_sequence) {}

    // A batch is applied in slices, so that a caller can let readers in between them: plan the
    // batch, apply its records [begin, end) slice after slice, then finish. Each record's state is
    // whole in every slice; a reader between slices sees part of the batch, which nothing in
    // the process waits for: a batch's commit is answered after finish().
    struct Plan {
        std::unordered_map<std::string_view, size_t> last_record;
        std::unordered_set<std::string_view> created;  // customers a record of the batch creates
    };
    static Plan plan(const std::vector<StoreRecord>& batch);
    void apply_slice(const std::vector<StoreRecord>& batch, const Plan& plan, size_t begin,
                     size_t end);
    void finish(uint64_t sequence) { last_sequence_ = sequence; }

    bool empty() const {
        return records_ == 0 && applied_.empty() && stage_deltas_.empty() && !has_writes_;
    }
    size_t records() const { return records_; }
    uint64_t last_sequence() const { return last_sequence_; }

    const Customer* customer(std::string_view id) const;
    bool was_applied(std::string_view customer, uint64_t fingerprint) const;
    const Entry* entry(Table table, const std::string& key) const;
    const std::unordered_map<std::string, Entry>& entries(Table table) const;
    // (due, customer) of every customer whose composed operation names an instant.
    const std::set<std::pair<TimeMs, std::string>>& index() const { return index_; }

    // Adds this overlay's changes to stats of its base, as the records declare them.
    void add_to(StoreStats& stats) const;
    // Final states, for one LMDB transaction; views into this overlay.
    CoalescedWrites coalesced() const;

  private:
    static std::string applied_key(std::string_view customer, uint64_t fingerprint);

    std::unordered_map<std::string, Customer> customers_;
    std::set<std::pair<TimeMs, std::string>> index_;
    std::unordered_map<std::string, TimeMs> applied_;  // fingerprint (8 bytes) + customer -> at
    std::map<std::string, int64_t> stage_deltas_;
    std::unordered_map<std::string, Entry> tables_[kTables];
    bool has_writes_ = false;
    size_t records_ = 0;  // records applied (not customers): the checkpoint policy counts them
    uint64_t created_ = 0;
    uint64_t last_sequence_;
};

}  // namespace journeyd
