// The daemon's RecordStore: one LMDB environment in a directory of its own, with the semantics
// of MemoryRecordStore (tests/support/memory_record_store.hpp) made durable.
//
// Durability: commit() writes the whole batch in one write transaction and returns only after
// mdb_txn_commit, which fsyncs the data file unless LmdbOptions::sync is false (MDB_NOSYNC: a
// process crash loses nothing, an OS crash or power loss can lose the last commits). A batch
// is never partially visible, before or after a crash. On failure commit() aborts the
// transaction, so nothing of the batch is written, and throws std::runtime_error naming the
// LMDB call. A full map (MDB_MAP_FULL, LmdbOptions::map_size reached) is such a failure; its
// error says the store reached [store] max_size (the daemon's name for map_size) and to restart
// journeyd with a larger one: the map is not grown at run time.
//
// Layout, ten named databases:
//   "customers"        customer id -> the record bytes, exactly as committed
//   "timer_index"      due key (below) + customer id -> empty; a cursor walks it earliest first
//   "timer_of"         customer id -> due key, to find the index entry an update replaces
//   "applied"          event fingerprint (8 bytes) + customer id -> due key of applied_at
//   "applied_by_time"  due key of applied_at + fingerprint + customer id -> empty, so that
//                      forget_applied_before walks the oldest first
//   "stage_counts"     stage name -> customers in it (8-byte big-endian two's complement); a
//                      segment's count under a NUL, "segment:" and its name (kSegmentCount)
//   "requests", "pressure", "outbox", "dead_letters"   the Tables, key -> value as written
//   "meta"             "format" -> "1"; "log_through" -> the last write-ahead log sequence a
//                      checkpoint wrote (8 bytes big-endian; absent: none), see write_coalesced
// A due key is the TimeMs as 8 big-endian bytes with the sign bit flipped, so that LMDB's
// bytewise key order is the signed order (negative instants first). LMDB limits keys to 511
// bytes, so customer ids must be at most 503 bytes (8 go to the due key); longer ones make
// commit() throw.
//
// Format version: open() writes "1" into a new store and refuses, with an error naming both
// versions, a store that holds any other version; there is no migration.
//
// LoggedStore (state/store/logged_store.hpp) puts a write-ahead log in front: it reads through a
// Snapshot and checkpoints with write_coalesced(), which records in the same transaction how far
// the log is in, so a replay after a crash skips exactly what is already here.
//
// Thread-safety: the reads (read(), read_all(), timers_due(), was_applied(), stats(), and a
// Snapshot's) each run in
// a read transaction of their own (MDB_NOTLS: not tied to a thread), so any number of threads
// may call them, also while a write runs; they see the last committed batch. The writes,
// commit(), write_coalesced() and forget_applied_before(), are meant for one writer and take
// commit_mutex_, as LMDB allows one write transaction at a time.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/store/record_store.hpp"

namespace journeyd {

struct LmdbOptions {
    bool sync = true;  // false: MDB_NOSYNC, for benchmarks; the caller warns loudly
    // The store's limit ([store] max_size): address space reserved for the map. Without
    // MDB_WRITEMAP the data file grows only as pages are written, so a store starts small
    // whatever the limit. A limit below what the file already holds opens as the file's size.
    size_t map_size = size_t(64) << 30;
};

// The net effect of many commits, as LoggedStore checkpoints it: final states, not the steps.
// The views must outlive the write_coalesced() call.
struct CoalescedWrites {
    struct Customer {
        std::string_view customer;
        std::string_view record;
        // The index entry (none: not indexed); with lower_bound, the entry becomes the earlier
        // of this and the one stored (StoreOverlay composes a customer's records into this).
        std::optional<TimeMs> due;
        bool lower_bound = false;
    };
    struct Applied {
        uint64_t fingerprint = 0;
        std::string_view customer;
        TimeMs at = 0;
    };
    struct Write {
        Table table = Table::requests;
        std::string_view key;
        std::optional<std::string_view> value;  // none: erased
    };
    std::vector<Customer> customers;
    std::vector<Applied> applied;
    std::map<std::string, int64_t> stage_deltas;
    std::vector<Write> writes;
    uint64_t log_through = 0;
};

class LmdbStore final : public RecordStore {
  public:
    // Creates `directory` if missing (not its parents). On failure: nullptr, and `error`
    // says why, naming the directory.
    static std::unique_ptr<LmdbStore> open(const std::string& directory, const LmdbOptions& options,
                                           std::string& error);

    ~LmdbStore() override;
    LmdbStore(const LmdbStore&) = delete;
    LmdbStore& operator=(const LmdbStore&) = delete;

    // One read transaction for many lookups, and stats consistent with log_through().
    class Snapshot {
      public:
        ~Snapshot();
        Snapshot(const Snapshot&) = delete;
        Snapshot& operator=(const Snapshot&) = delete;

        std::optional<TimeMs> indexed_due(std::string_view customer) const;
        bool was_applied(std::string_view customer, uint64_t event_fingerprint) const;
        uint64_t log_through() const;
        StoreStats stats() const;

      private:
        friend class LmdbStore;
        Snapshot(const LmdbStore& store, MDB_txn* txn) : store_(store), txn_(txn) {}
        const LmdbStore& store_;
        MDB_txn* txn_;
    };
    std::unique_ptr<Snapshot> snapshot() const;

    // All of it in one transaction, with "log_through"; synced like commit().
    void write_coalesced(const CoalescedWrites& writes);

    void commit(const std::vector<StoreRecord>& batch) override;
    std::optional<std::string> read(const std::string& customer) const override;
    std::optional<std::string> read(Table table, const std::string& key) const override;
    std::vector<std::pair<std::string, std::string>> read_all(Table table) const override;
    std::vector<DueTimer> timers_due(TimeMs until, size_t limit,
                                     const std::optional<DueTimer>& after = {}) const override;
    bool was_applied(const std::string& customer, uint64_t event_fingerprint) const override;
    size_t forget_applied_before(TimeMs cutoff, size_t limit) override;
    StoreStats stats() const override;

  private:
    LmdbStore() = default;
    // Runs body(txn) in a write transaction under commit_mutex_ and commits it; a full map's
    // error names [store] max_size and the map's size (check() knows neither).
    template <typename Body>
    void write_transaction(Body&& body);
    void open_environment(const std::string& directory, const LmdbOptions& options);
    void write_record(MDB_txn* txn, const StoreRecord& record);
    void put_customer(MDB_txn* txn, std::string_view customer, std::string_view record);
    void replace_index_entry(MDB_txn* txn, std::string_view customer,
                             const std::optional<std::string>& old_due,
                             std::optional<TimeMs> next_due);
    std::optional<std::string> indexed_due_key(MDB_txn* txn, std::string_view customer) const;
    void remember_applied(MDB_txn* txn, uint64_t fingerprint, std::string_view customer, TimeMs at);
    void apply(MDB_txn* txn, Table table, std::string_view key,
               std::optional<std::string_view> value);
    void add_to_stage_counts(MDB_txn* txn, const std::map<std::string, int64_t>& deltas);

    MDB_env* env_ = nullptr;
    MDB_dbi customers_ = 0;
    MDB_dbi timer_index_ = 0;
    MDB_dbi timer_of_ = 0;
    MDB_dbi meta_ = 0;
    MDB_dbi applied_ = 0;          // fingerprint (8 bytes) + customer -> applied_at
    MDB_dbi applied_by_time_ = 0;  // applied_at (8) + fingerprint (8) + customer -> empty
    MDB_dbi stage_counts_ = 0;
    MDB_dbi tables_[kTables] = {};
    std::mutex commit_mutex_;  // one write transaction at a time, per LMDB's model
};

}  // namespace journeyd
