// The daemon's RecordStore: a write-ahead log in front of LmdbStore. A commit is durable once its
// batch is appended to the log and fdatasync'd, a sequential write of a few hundred bytes per
// event; LMDB, whose commits write random pages, is written only at checkpoints, many commits at
// a time and a customer's many records as one (docs/durability.md says why not MDB_NOSYNC).
//
// commit(): encodes the batch (state/store/store_record_codec.hpp), appends and syncs it
// (state/store/write_ahead_log.hpp), then applies it to the active StoreOverlay
// (state/store/store_overlay.hpp), so every read sees it at once. Applying reads nothing
// beneath the overlay: a commit is an append, a sync and hash-map updates. Reads consult the
// active overlay, then the frozen one (being checkpointed), then LMDB; the timer index is
// resolved across them on read (timers_due). stats() adds to LMDB's counts what the overlays
// declare: exact after every checkpoint, and in between for the daemon's records, except
// pending_timers (see store_overlay.hpp).
//
// Checkpoint (a thread of the store's own): when the active overlay holds
// LoggedStoreOptions::checkpoint_records records, or the log checkpoint_log_bytes, or
// checkpoint_every has passed, the active overlay is frozen and a fresh one takes the commits;
// the frozen one's final states go to LMDB in one synced transaction that also records the last
// log sequence it covers ("log_through"); then it is dropped and the log released through that
// sequence. A commit waits (back-pressure) while the active overlay holds stall_records and a
// checkpoint runs, so memory stays bounded when LMDB is slow.
//
// A full store. A failed checkpoint (LMDB reached max_size, its disk is full, an I/O error) keeps
// the frozen overlay, so reads stay right, and is tried again every checkpoint_every. Until one
// succeeds, commit() throws at once: every further commit would only grow a log that LMDB cannot
// take. Once one succeeds (space was freed on the disk; a map at max_size needs a restart with a
// larger one), commits go through again. A commit whose log write or fdatasync fails throws; the
// log has rolled itself back (write_ahead_log.hpp), so the next commit tries again, and only if
// that rollback failed does every commit throw until journeyd restarts.
//
// write_error(): while checkpoints fail, "store not writable, checkpoint failing: <error>" (the
// text commit() throws then); otherwise the error of the last commit that failed writing the log,
// "" once a commit succeeded. Each is cleared only by its own kind's success, since a commit
// says nothing about LMDB and a checkpoint nothing about the log; a commit refused because
// checkpoints fail is not a commit error, so write_error() is "" as soon as a checkpoint
// succeeds again (when the last log write did not fail).
//
// Reporting: on_error is told when checkpoints start failing or fail with a new message, not at
// every retry, and on_recovered when one succeeds after failing; failures to purge applied ids
// or to release the log each time.
//
// Open: LMDB first; the log records after LMDB's log_through are replayed into the overlay as
// commits, and checkpointed before open() returns. A crash at any point loses nothing synced:
// LMDB holds everything through log_through, the log everything after it, and replay skips what
// LMDB has, so nothing is applied twice (stage counts are not idempotent). If that checkpoint
// fails (the store was full when journeyd stopped), open() still succeeds: the replayed records
// stay in the frozen overlay, where reads find them, and commits are refused as above, so that
// journeyd can still answer reads.
//
// forget_applied_before() only records the request: the checkpoint thread purges LMDB slice
// after slice once the next checkpoint is written, and the call returns 0. Ids still in an
// overlay are purged by a later request; forgetting late is allowed.
//
// JOURNEYD_TEST_KILL_POINT=checkpoint_written:N or log_released:N (crash tests only) makes the
// process SIGKILL itself at the N-th time that point is reached; unset, it is inert.
//
// Thread-safety: as RecordStore: commit() and forget_applied_before() from one writer, reads
// from any thread, write_error() too. state_mutex_ (shared for reads, exclusive for applying a
// batch and swapping overlays) guards the overlays and both errors; commit_mutex_ keeps a freeze
// between two commits; checkpoint_mutex_ runs one checkpoint at a time, so on_error and
// on_recovered are never called at once (from the checkpoint thread, open() or checkpoint()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "state/store/lmdb_store.hpp"
#include "state/store/store_overlay.hpp"
#include "state/store/write_ahead_log.hpp"

namespace journeyd {

struct LoggedStoreOptions {
    bool sync = true;  // false: neither the log nor LMDB is fsync'd (benchmarks)
    uint64_t segment_bytes = uint64_t(64) << 20;
    // Checkpoint policy: whichever comes first. 100k records is ~1 s of the target ingest rate
    // and ~50-100 MB of overlay; 64 MiB of log bounds replay at start to well under a second.
    size_t checkpoint_records = 100'000;
    uint64_t checkpoint_log_bytes = uint64_t(64) << 20;
    std::chrono::milliseconds checkpoint_every{1000};
    size_t stall_records = 400'000;
    // LMDB's map size ([store] max_size): the most the store may hold. The data file grows
    // only as pages are written, so a small store is small on disk whatever the limit.
    uint64_t max_size = uint64_t(64) << 30;
    // Told when checkpoints start failing (or fail with a new message), and about failed purges
    // and log releases (the daemon logs them); may be empty.
    std::function<void(const std::string&)> on_error;
    // Told when a checkpoint succeeds after failing: commits are accepted again; may be empty.
    std::function<void()> on_recovered;
};

class LoggedStore final : public RecordStore {
  public:
    // LMDB in `directory`, the log in `directory`/wal. On failure: nullptr and `error`.
    static std::unique_ptr<LoggedStore> open(const std::string& directory,
                                             const LoggedStoreOptions& options, std::string& error);
    ~LoggedStore() override;
    LoggedStore(const LoggedStore&) = delete;
    LoggedStore& operator=(const LoggedStore&) = delete;

    void commit(const std::vector<StoreRecord>& batch) override;
    std::optional<std::string> read(const std::string& customer) const override;
    std::optional<std::string> read(Table table, const std::string& key) const override;
    std::vector<std::pair<std::string, std::string>> read_all(Table table) const override;
    std::vector<DueTimer> timers_due(TimeMs until, size_t limit,
                                     const std::optional<DueTimer>& after = {}) const override;
    bool was_applied(const std::string& customer, uint64_t event_fingerprint) const override;
    size_t forget_applied_before(TimeMs cutoff, size_t limit) override;
    StoreStats stats() const override;
    std::string write_error() const override;

    // Checkpoints what is committed and runs a pending purge, now, on the calling thread;
    // throws what LMDB threw, after telling on_error as described above. For tests and the end.
    void checkpoint();

  private:
    explicit LoggedStore(const LoggedStoreOptions& options) : options_(options) {}
    void open_files(const std::string& directory);
    void apply_to_active(const std::vector<StoreRecord>& batch, uint64_t sequence);
    void run_checkpoints();
    void checkpoint_once();
    void purge();
    void tell_error(const std::string& error) const;

    const LoggedStoreOptions options_;
    std::unique_ptr<LmdbStore> lmdb_;
    std::unique_ptr<WriteAheadLog> log_;

    std::mutex commit_mutex_;  // held by a commit; a freeze waits for it
    std::string encoded_;      // the batch being logged, under commit_mutex_
    mutable std::shared_mutex state_mutex_;
    std::unique_ptr<StoreOverlay> active_;
    std::unique_ptr<StoreOverlay> frozen_;  // being checkpointed; no longer changes
    // frozen_ became empty, or its checkpoint failed: stalled commits go on, or give up.
    std::condition_variable_any unfrozen_;
    std::string checkpoint_error_;  // the last checkpoint's, "" once one succeeded
    // The last commit's log error, "" once one succeeded. Written only by the committing
    // thread (under state_mutex_, exclusive), which may therefore read it without the lock.
    std::string commit_error_;

    std::mutex checkpoint_mutex_;  // one checkpoint at a time
    std::mutex wake_mutex_;        // guards the fields below
    std::condition_variable wake_;
    bool wanted_ = false;
    bool stopping_ = false;
    std::optional<std::pair<TimeMs, size_t>> purge_request_;
    std::thread thread_;  // last: started once everything above is ready
};

}  // namespace journeyd
