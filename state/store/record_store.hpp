// Where customer records go to be durable. The store writer actor is the only writer: it
// hands over a batch from many customers and acknowledges their events only after
// commit() returns, so commit() must not return before the batch is durable.
//
// Besides the records, a store keeps the timer index: for every customer with a pending
// timer, when the earliest one is due. It lets timers fire for customers that have no
// live actor (after a restart, or once idle customers are passivated) without loading
// every customer: timers_due() names the customers to wake.
//
// Beside the records, three tables keep the contact-pressure coordinator's state (see
// actors/coordinator.hpp): a record's own TableWrites are committed with it, in the same
// transaction, so a customer's program requests are durable exactly when the event that made
// them is.
//
// Implementations: LmdbStore (state/store/lmdb_store.hpp), the daemon's; MemoryRecordStore
// (tests/support/memory_record_store.hpp), for tests of the layers above.
//
// Thread-safety: every implementation lets any number of threads read (customer actors,
// shards, the coordinator, the timer sweeper, the gateway, admin threads) while the store
// writer writes.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "state/decisioning/action_outcome.hpp"
#include "state/duration.hpp"

namespace journeyd {

// Keys and values are opaque bytes to the store.
enum class Table : uint8_t {
    requests,      // decision id -> a contact request not yet finally decided
    pressure,      // customer id -> the customer's contact history and decision log
    outbox,        // decision id -> a send the delivery sink has not yet confirmed
    dead_letters,  // decision id -> a send the endpoint refused for good (DeadLetter)
    notices,       // decision id -> an action's send its customer has not yet heard of
    aliases,       // canonical customer id -> its aliases (state/journey/identity.hpp)
    merges,        // alias id -> a merge into another member's customer, until it is settled
    rhythm,        // "population" -> all customers' engagement hours (population_rhythm.hpp)
};
constexpr size_t kTables = 8;

struct TableWrite {
    Table table = Table::requests;
    std::string key;
    std::optional<std::string> value;  // none: the key is erased
};

struct StoreRecord {
    std::string customer;
    std::string record;              // empty: nothing to write, see StoreWriter
    std::optional<TimeMs> next_due;  // with a record: the customer's earliest pending timer
    // false: next_due replaces the index entry (none: removes it). true: the entry only has
    // to be no later than the timer, so it is moved only to an earlier due (or created);
    // a later or missing next_due leaves it. An event re-arms the customer's inactivity
    // timer a little later every time; lower_bound spares the index two random B-tree
    // writes per event, and an early entry costs only a wake-up that then writes exactly.
    bool index_lower_bound = false;
    // With a record: the fingerprint of an applied event, remembered until purged by
    // forget_applied_before, so a retry is recognised long after the record's own window
    // (the customer actor writes the one its window of recent ids just forgot).
    std::optional<uint64_t> applied_event;
    TimeMs applied_at = 0;
    // With a record: the stage the customer left ("" when the record creates it) and the one
    // it is in now, when they differ ("" for none: an alias record, state/journey/identity.hpp).
    // The store counts customers per stage from these.
    std::optional<std::pair<std::string, std::string>> stage_move;
    // With a record: the segments the customer entered (true) or left (false), by name. The
    // store counts customers per segment from these.
    std::vector<std::pair<std::string, bool>> segment_moves;
    // With a record: changes of other counters of the store's counters table, by key (an
    // action's outcomes, action_counter_key).
    std::vector<std::pair<std::string, int64_t>> counter_changes;
    // Applied after the record (if any), in order; a batch applies its records' writes in the
    // order the records came.
    std::vector<TableWrite> writes;
    // Only in a batch read back from the write-ahead log: the record was left out of the log
    // since a later record of the same customer in the batch holds the state that counts
    // (store_record_codec.hpp). Applied as a record that is not its customer's last.
    bool superseded = false;
};

// A record that writes a customer's state (a superseded one did, before it was logged); not a
// barrier nor the coordinator's counts.
inline bool has_state(const StoreRecord& record) {
    return !record.record.empty() || record.superseded;
}

// A record that writes nothing: answered in order behind the commits before it.
inline StoreRecord store_barrier(std::string customer) {
    StoreRecord barrier;
    barrier.customer = std::move(customer);
    return barrier;
}

// Table writes alone, committed in order with the batch they join.
inline StoreRecord table_writes(std::vector<TableWrite> writes) {
    StoreRecord record;
    record.writes = std::move(writes);
    return record;
}

// The earlier of two index entries; none is later than any instant.
inline std::optional<TimeMs> earlier_due(std::optional<TimeMs> a, std::optional<TimeMs> b) {
    if (!a) return b;
    if (!b) return a;
    return std::min(*a, *b);
}

// Whether a record's next_due changes the customer's index entry, `indexed` (see
// StoreRecord::index_lower_bound).
inline bool reindex(std::optional<TimeMs> indexed, const StoreRecord& record) {
    if (!record.index_lower_bound || !indexed) return true;
    return record.next_due && *record.next_due < *indexed;
}

// For each customer with a record in `batch`, the index of its last one: the record that holds
// the customer's state after the batch, since a record carries the whole state.
inline std::unordered_map<std::string_view, size_t> last_records(
    const std::vector<StoreRecord>& batch) {
    std::unordered_map<std::string_view, size_t> last;
    for (size_t i = 0; i < batch.size(); ++i)
        if (!batch[i].record.empty()) last[batch[i].customer] = i;  // never a superseded one
    return last;
}

struct DueTimer {
    TimeMs due = 0;
    std::string customer;
};

struct StoreStats {
    uint64_t customers = 0;         // entries of the customers table, alias records included
    int64_t aliases = 0;            // alias records among them
    uint64_t pending_timers = 0;    // customers in the timer index
    uint64_t applied_events = 0;    // event ids remembered for idempotency
    uint64_t bytes = 0;             // space the store uses
    uint64_t pending_requests = 0;  // contact requests not finally decided
    uint64_t outbox = 0;            // sends not yet confirmed by the delivery sink
    uint64_t dead_letters = 0;      // sends parked after a permanent failure
    std::map<std::string, int64_t> customers_in_stage;
    std::map<std::string, int64_t> customers_in_segment;
    std::map<std::string, ActionCounts> actions;          // by action name
    std::map<std::string, ActionCounts> action_controls;  // their control groups' windows
    // Every counter as stored (the three above are read from it): what a cluster member
    // sends the others, who sum them.
    std::map<std::string, int64_t> counters;
};

// Customers the store holds, its alias records left out.
inline uint64_t stored_customers(const StoreStats& stats) {
    const uint64_t aliases = static_cast<uint64_t>(std::max<int64_t>(0, stats.aliases));
    return stats.customers - std::min(stats.customers, aliases);
}

// Stores keep customers per stage and per segment as one table of counters: a stage under its
// name, a segment under kSegmentCount + its name (a NUL first, which no stage name has), an
// action's outcome under kActionCount + ["control_"] "sent:" | "success:" | "failure:" + its name;
// a program's decisions and goal windows under kProgramCount
// (state/decisioning/program_counts.hpp).
inline const std::string kSegmentCount{"\0segment:", 9};
inline const std::string kActionCount{"\0action:", 8};
// Alias records (state/journey/identity.hpp) are entries of the customers table too: `customers`
// counts them, `aliases` says how many of them there are.
inline const std::string kAliasCount{"\0aliases", 8};

// `control`: the goal windows of the action's control group (held out, would have been sent),
// under "control_sent:" and so on.
inline std::string action_counter_key(std::string_view action, ActionOutcome outcome,
                                      bool control = false) {
    static constexpr std::string_view kNames[] = {"sent:", "success:", "failure:"};
    std::string key = kActionCount;
    if (control) key += "control_";
    key += kNames[static_cast<size_t>(outcome)];
    key += action;
    return key;
}

// Adds the counter changes of `record` to `deltas`.
inline void count_moves(const StoreRecord& record, std::map<std::string, int64_t>& deltas) {
    if (record.stage_move) {
        if (!record.stage_move->first.empty()) --deltas[record.stage_move->first];
        if (!record.stage_move->second.empty()) ++deltas[record.stage_move->second];
    }
    for (const auto& [segment, entered] : record.segment_moves)
        deltas[kSegmentCount + segment] += entered ? 1 : -1;
    for (const auto& [key, change] : record.counter_changes) deltas[key] += change;
}

// Adds counters (or their changes) to the stats' counts per stage and per segment.
inline void add_counts(const std::map<std::string, int64_t>& counters, StoreStats& stats) {
    auto starts = [](const std::string& key, const std::string& prefix) {
        return key.compare(0, prefix.size(), prefix) == 0;
    };
    for (const auto& [key, count] : counters) {
        stats.counters[key] += count;
        if (key == kAliasCount) {
            stats.aliases += count;
        } else if (starts(key, kSegmentCount)) {
            stats.customers_in_segment[key.substr(kSegmentCount.size())] += count;
        } else if (starts(key, kActionCount)) {
            const size_t colon = key.find(':', kActionCount.size());
            if (colon == std::string::npos) continue;
            std::string_view outcome =
                std::string_view(key).substr(kActionCount.size(), colon - kActionCount.size());
            constexpr std::string_view kControl = "control_";
            const bool control = outcome.substr(0, kControl.size()) == kControl;
            if (control) outcome.remove_prefix(kControl.size());
            ActionCounts& counts =
                (control ? stats.action_controls : stats.actions)[key.substr(colon + 1)];
            if (outcome == "sent") counts.sent += count;
            if (outcome == "success") counts.successes += count;
            if (outcome == "failure") counts.failures += count;
        } else if (key.empty() || key[0] != '\0') {
            // Other NUL-prefixed counters (programs: program_counts.hpp; journey flow and
            // drivers: flow_counters.hpp) are read from `counters` by whoever knows them.
            stats.customers_in_stage[key] += count;
        }
    }
}

class RecordStore {
  public:
    virtual ~RecordStore() = default;
    // All of the batch or nothing; a later record for the same customer wins, and its
    // next_due replaces the customer's entry in the timer index (none: removed).
    virtual void commit(const std::vector<StoreRecord>& batch) = 0;
    virtual std::optional<std::string> read(const std::string& customer) const = 0;
    virtual std::optional<std::string> read(Table table, const std::string& key) const = 0;
    // The whole table in key order: for the tables that hold only unfinished work (requests,
    // outbox), read once at start.
    virtual std::vector<std::pair<std::string, std::string>> read_all(Table table) const = 0;
    // Customers whose earliest timer is due at or before `until`, earliest first; with
    // `after`, only the entries that come after that one (to go on where a full slice ended).
    virtual std::vector<DueTimer> timers_due(TimeMs until, size_t limit,
                                             const std::optional<DueTimer>& after = {}) const = 0;
    virtual bool was_applied(const std::string& customer, uint64_t event_fingerprint) const = 0;
    // Forgets up to `limit` applied event ids recorded before `cutoff`, oldest first, in one
    // transaction; returns how many. A write: only the store writer calls it.
    virtual size_t forget_applied_before(TimeMs cutoff, size_t limit) = 0;
    virtual StoreStats stats() const = 0;
    // Why commits fail now (the store is full, or its disk failed), or "" while they succeed.
    // Set by a failed commit or checkpoint, cleared once one succeeds; /health reports it.
    virtual std::string write_error() const { return {}; }
};

}  // namespace journeyd
