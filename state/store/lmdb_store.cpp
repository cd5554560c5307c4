#include "state/store/lmdb_store.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace journeyd {

namespace {

constexpr std::string_view kFormatKey = "format";
constexpr std::string_view kFormatVersion = "1";
// Written by write_coalesced(): the write-ahead log is in LMDB up to this sequence.
constexpr std::string_view kLogThroughKey = "log_through";
constexpr size_t kDueKeySize = 8;

// An LMDB call's failure with its return code, so that a write can say what a full map means
// (check() does not know the map's size).
class LmdbError : public std::runtime_error {
  public:
    LmdbError(const std::string& message, int code) : std::runtime_error(message), code(code) {}
    int code;
};

void check(int rc, const char* operation) {
    if (rc == MDB_SUCCESS) return;
    throw LmdbError(std::string("LMDB ") + operation + ": " + mdb_strerror(rc), rc);
}

// A missing key is an answer, not an error: true when found.
bool check_found(int rc, const char* operation) {
    if (rc == MDB_NOTFOUND) return false;
    check(rc, operation);
    return true;
}

// LMDB never writes through the pointer of a key or value it is given.
MDB_val as_val(std::string_view bytes) {
    return {bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view as_view(const MDB_val& val) {
    return {static_cast<const char*>(val.mv_data), val.mv_size};
}

// 8 big-endian bytes: due keys, event fingerprints, counters (two's complement).
std::string be64_bytes(uint64_t fingerprint) {
    std::string key(8, '\0');
    for (size_t i = 8; i-- > 0; fingerprint >>= 8) key[i] = static_cast<char>(fingerprint & 0xff);
    return key;
}

uint64_t be64_value(std::string_view bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < 8 && i < bytes.size(); ++i)
        value = (value << 8) | static_cast<uint8_t>(bytes[i]);
    return value;
}

// Flipping the sign bit maps int64 order onto the unsigned order of the big-endian bytes.
std::string encode_due(TimeMs due) {
    return be64_bytes(static_cast<uint64_t>(due) ^ (uint64_t(1) << 63));
}

// Index entries sort by due first; the customer id makes equal dues distinct keys.
std::string timer_entry(std::string_view due_key, std::string_view customer) {
    return std::string(due_key).append(customer);
}

TimeMs decode_due(std::string_view key) {
    return static_cast<TimeMs>(be64_value(key) ^ (uint64_t(1) << 63));
}

class Transaction {
  public:
    Transaction(MDB_env* env, unsigned flags) {
        check(mdb_txn_begin(env, nullptr, flags, &txn_), "mdb_txn_begin");
    }
    ~Transaction() {
        if (txn_ != nullptr) mdb_txn_abort(txn_);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    MDB_txn* get() const { return txn_; }

    // mdb_txn_commit frees the transaction even when it fails: never abort it afterwards.
    void commit() { check(mdb_txn_commit(std::exchange(txn_, nullptr)), "mdb_txn_commit"); }

  private:
    MDB_txn* txn_ = nullptr;
};

// Cursors of read transactions are not freed with the transaction; declare after it.
class Cursor {
  public:
    Cursor(MDB_txn* txn, MDB_dbi dbi) {
        check(mdb_cursor_open(txn, dbi, &cursor_), "mdb_cursor_open");
    }
    ~Cursor() { mdb_cursor_close(cursor_); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    bool next(MDB_val& key, MDB_val& value) {
        return check_found(mdb_cursor_get(cursor_, &key, &value, MDB_NEXT), "mdb_cursor_get");
    }

    // To the first key at or after `key`; its key and value are then in `key` and `value`.
    bool seek(MDB_val& key, MDB_val& value) {
        return check_found(mdb_cursor_get(cursor_, &key, &value, MDB_SET_RANGE), "mdb_cursor_get");
    }

  private:
    MDB_cursor* cursor_ = nullptr;
};

// Errors in the environment's own directory are clearer from mkdir than from mdb_env_open.
void make_directory(const std::string& directory) {
    if (mkdir(directory.c_str(), 0700) == 0) return;
    if (errno != EEXIST) throw std::runtime_error(std::string("mkdir: ") + std::strerror(errno));
    struct stat info {};
    if (stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
        throw std::runtime_error("exists and is not a directory");
    }
}

uint64_t entries_in(MDB_txn* txn, MDB_dbi dbi) {
    MDB_stat stat;
    check(mdb_stat(txn, dbi, &stat), "mdb_stat");
    return stat.ms_entries;
}

MDB_dbi open_database(MDB_txn* txn, const char* name) {
    MDB_dbi dbi = 0;
    const std::string operation = std::string("mdb_dbi_open ") + name;
    check(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), operation.c_str());
    return dbi;
}

void check_format(MDB_txn* txn, MDB_dbi meta) {
    MDB_val key = as_val(kFormatKey);
    MDB_val value;
    if (!check_found(mdb_get(txn, meta, &key, &value), "mdb_get meta")) {
        MDB_val version = as_val(kFormatVersion);
        check(mdb_put(txn, meta, &key, &version, 0), "mdb_put meta");
        return;
    }
    if (as_view(value) != kFormatVersion) {
        throw std::runtime_error("format version " + std::string(as_view(value)) +
                                 " on disk, but this journeyd reads format version " +
                                 std::string(kFormatVersion));
    }
}

}  // namespace

std::unique_ptr<LmdbStore> LmdbStore::open(const std::string& directory, const LmdbOptions& options,
                                           std::string& error) {
    std::unique_ptr<LmdbStore> store(new LmdbStore());
    try {
        make_directory(directory);
        store->open_environment(directory, options);
    } catch (const std::runtime_error& e) {
        error = "store " + directory + ": " + e.what();
        return nullptr;
    }
    return store;
}

void LmdbStore::open_environment(const std::string& directory, const LmdbOptions& options) {
    check(mdb_env_create(&env_), "mdb_env_create");
    check(mdb_env_set_maxdbs(env_, 16), "mdb_env_set_maxdbs");
    check(mdb_env_set_mapsize(env_, options.map_size), "mdb_env_set_mapsize");
    const unsigned flags = MDB_NOTLS | (options.sync ? 0 : MDB_NOSYNC);
    check(mdb_env_open(env_, directory.c_str(), flags, 0600), "mdb_env_open");

    Transaction txn(env_, 0);
    customers_ = open_database(txn.get(), "customers");
    timer_index_ = open_database(txn.get(), "timer_index");
    timer_of_ = open_database(txn.get(), "timer_of");
    meta_ = open_database(txn.get(), "meta");
    applied_ = open_database(txn.get(), "applied");
    applied_by_time_ = open_database(txn.get(), "applied_by_time");
    stage_counts_ = open_database(txn.get(), "stage_counts");
    // Added after format "1" was first written: opening creates them in an older store.
    tables_[static_cast<size_t>(Table::requests)] = open_database(txn.get(), "requests");
    tables_[static_cast<size_t>(Table::pressure)] = open_database(txn.get(), "pressure");
    tables_[static_cast<size_t>(Table::outbox)] = open_database(txn.get(), "outbox");
    tables_[static_cast<size_t>(Table::dead_letters)] = open_database(txn.get(), "dead_letters");
    tables_[static_cast<size_t>(Table::notices)] = open_database(txn.get(), "notices");
    tables_[static_cast<size_t>(Table::aliases)] = open_database(txn.get(), "aliases");
    tables_[static_cast<size_t>(Table::merges)] = open_database(txn.get(), "merges");
    tables_[static_cast<size_t>(Table::rhythm)] = open_database(txn.get(), "rhythm");
    check_format(txn.get(), meta_);
    txn.commit();
}

// Closing the environment closes its database handles.
LmdbStore::~LmdbStore() {
    if (env_ != nullptr) mdb_env_close(env_);
}

template <typename Body>
void LmdbStore::write_transaction(Body&& body) {
    std::lock_guard<std::mutex> lock(commit_mutex_);
    try {
        Transaction txn(env_, 0);
        body(txn.get());
        txn.commit();
    } catch (const LmdbError& e) {
        if (e.code != MDB_MAP_FULL) throw;
        MDB_envinfo info;
        const std::string size = mdb_env_info(env_, &info) == MDB_SUCCESS
                                     ? " (" + std::to_string(info.me_mapsize) + " bytes)"
                                     : "";
        throw std::runtime_error(std::string(e.what()) + ": the store reached [store] max_size" +
                                 size + "; restart journeyd with a larger max_size");
    }
}

void LmdbStore::commit(const std::vector<StoreRecord>& batch) {
    write_transaction([&](MDB_txn* txn) {
        std::map<std::string, int64_t> stage_deltas;
        // A busy customer can have several records in one batch; only its last is written,
        // since it holds the whole state. Applied ids and stage moves count for each.
        std::unordered_map<std::string_view, size_t> last_record = last_records(batch);
        for (size_t i = 0; i < batch.size(); ++i) {
            const StoreRecord& record = batch[i];
            count_moves(record, stage_deltas);
            if (!has_state(record)) continue;  // the coordinator's counts, or a barrier
            if (last_record[record.customer] == i) write_record(txn, record);
            if (record.applied_event)
                remember_applied(txn, *record.applied_event, record.customer, record.applied_at);
        }
        add_to_stage_counts(txn, stage_deltas);
        for (const StoreRecord& record : batch)
            for (const TableWrite& write : record.writes)
                apply(txn, write.table, write.key,
                      write.value ? std::optional<std::string_view>(*write.value) : std::nullopt);
    });
}

void LmdbStore::write_coalesced(const CoalescedWrites& writes) {
    write_transaction([&](MDB_txn* txn) {
        for (const CoalescedWrites::Customer& customer : writes.customers) {
            put_customer(txn, customer.customer, customer.record);
            const std::optional<std::string> old_due = indexed_due_key(txn, customer.customer);
            const std::optional<TimeMs> due =
                customer.lower_bound
                    ? earlier_due(old_due ? std::optional(decode_due(*old_due)) : std::nullopt,
                                  customer.due)
                    : customer.due;
            if (old_due != (due ? std::optional(encode_due(*due)) : std::nullopt))
                replace_index_entry(txn, customer.customer, old_due, due);
        }
        for (const CoalescedWrites::Applied& applied : writes.applied)
            remember_applied(txn, applied.fingerprint, applied.customer, applied.at);
        add_to_stage_counts(txn, writes.stage_deltas);
        for (const CoalescedWrites::Write& write : writes.writes)
            apply(txn, write.table, write.key, write.value);
        const std::string through = be64_bytes(writes.log_through);
        MDB_val key = as_val(kLogThroughKey), value = as_val(through);
        check(mdb_put(txn, meta_, &key, &value, 0), "mdb_put meta");
    });
}

void LmdbStore::apply(MDB_txn* txn, Table table, std::string_view key,
                      std::optional<std::string_view> value) {
    const MDB_dbi dbi = tables_[static_cast<size_t>(table)];
    MDB_val k = as_val(key);
    if (!value) {
        check_found(mdb_del(txn, dbi, &k, nullptr), "mdb_del table");
        return;
    }
    MDB_val v = as_val(*value);
    check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put table");
}

void LmdbStore::put_customer(MDB_txn* txn, std::string_view customer, std::string_view record) {
    MDB_val key = as_val(customer);
    MDB_val bytes = as_val(record);
    check(mdb_put(txn, customers_, &key, &bytes, 0), "mdb_put customers");
}

std::optional<std::string> LmdbStore::indexed_due_key(MDB_txn* txn,
                                                      std::string_view customer) const {
    MDB_val key = as_val(customer);
    MDB_val due;
    if (!check_found(mdb_get(txn, timer_of_, &key, &due), "mdb_get timer_of")) return std::nullopt;
    return std::string(as_view(due));
}

void LmdbStore::write_record(MDB_txn* txn, const StoreRecord& record) {
    put_customer(txn, record.customer, record.record);
    const std::optional<std::string> old_due = indexed_due_key(txn, record.customer);
    if (!reindex(old_due ? std::optional(decode_due(*old_due)) : std::nullopt, record)) return;
    replace_index_entry(txn, record.customer, old_due, record.next_due);
}

void LmdbStore::replace_index_entry(MDB_txn* txn, std::string_view customer,
                                    const std::optional<std::string>& old_due,
                                    std::optional<TimeMs> next_due) {
    MDB_val customer_key = as_val(customer);
    if (old_due) {
        const std::string old_entry = timer_entry(*old_due, customer);
        MDB_val old_entry_key = as_val(old_entry);
        check(mdb_del(txn, timer_index_, &old_entry_key, nullptr), "mdb_del timer_index");
    }
    if (!next_due) {
        check_found(mdb_del(txn, timer_of_, &customer_key, nullptr), "mdb_del timer_of");
        return;
    }
    const std::string due = encode_due(*next_due);
    const std::string entry = timer_entry(due, customer);
    MDB_val entry_key = as_val(entry);
    MDB_val empty = as_val({});
    check(mdb_put(txn, timer_index_, &entry_key, &empty, 0), "mdb_put timer_index");
    MDB_val due_value = as_val(due);
    check(mdb_put(txn, timer_of_, &customer_key, &due_value, 0), "mdb_put timer_of");
}

void LmdbStore::remember_applied(MDB_txn* txn, uint64_t fingerprint, std::string_view customer,
                                 TimeMs at_time) {
    const std::string applied = be64_bytes(fingerprint).append(customer);
    const std::string at = encode_due(at_time);
    const std::string by_time = at + applied;
    MDB_val applied_key = as_val(applied), at_value = as_val(at), by_time_key = as_val(by_time);
    MDB_val empty = as_val({});
    check(mdb_put(txn, applied_, &applied_key, &at_value, 0), "mdb_put applied");
    check(mdb_put(txn, applied_by_time_, &by_time_key, &empty, 0), "mdb_put applied_by_time");
}

void LmdbStore::add_to_stage_counts(MDB_txn* txn, const std::map<std::string, int64_t>& deltas) {
    for (const auto& [stage, delta] : deltas) {
        if (delta == 0) continue;
        MDB_val key = as_val(stage);
        MDB_val stored;
        int64_t count = 0;
        if (check_found(mdb_get(txn, stage_counts_, &key, &stored), "mdb_get stage_counts"))
            count = static_cast<int64_t>(be64_value(as_view(stored)));
        const std::string updated = be64_bytes(static_cast<uint64_t>(count + delta));
        MDB_val value = as_val(updated);
        check(mdb_put(txn, stage_counts_, &key, &value, 0), "mdb_put stage_counts");
    }
}

std::optional<std::string> LmdbStore::read(const std::string& customer) const {
    Transaction txn(env_, MDB_RDONLY);
    MDB_val key = as_val(customer);
    MDB_val value;
    if (!check_found(mdb_get(txn.get(), customers_, &key, &value), "mdb_get customers")) {
        return std::nullopt;
    }
    return std::string(as_view(value));
}

std::optional<std::string> LmdbStore::read(Table table, const std::string& key) const {
    Transaction txn(env_, MDB_RDONLY);
    MDB_val k = as_val(key);
    MDB_val value;
    if (!check_found(mdb_get(txn.get(), tables_[static_cast<size_t>(table)], &k, &value),
                     "mdb_get table"))
        return std::nullopt;
    return std::string(as_view(value));
}

std::vector<std::pair<std::string, std::string>> LmdbStore::read_all(Table table) const {
    std::vector<std::pair<std::string, std::string>> entries;
    Transaction txn(env_, MDB_RDONLY);
    Cursor cursor(txn.get(), tables_[static_cast<size_t>(table)]);
    MDB_val key, value;
    while (cursor.next(key, value)) entries.emplace_back(as_view(key), as_view(value));
    return entries;
}

std::vector<DueTimer> LmdbStore::timers_due(TimeMs until, size_t limit,
                                            const std::optional<DueTimer>& after) const {
    std::vector<DueTimer> due;
    Transaction txn(env_, MDB_RDONLY);
    Cursor cursor(txn.get(), timer_index_);
    MDB_val key;
    MDB_val value;
    std::string start;
    bool found = false;
    if (after) {
        start = timer_entry(encode_due(after->due), after->customer);
        key = as_val(start);
        found = cursor.seek(key, value);
        if (found && as_view(key) == start) found = cursor.next(key, value);
    } else {
        found = cursor.next(key, value);
    }
    for (; found && due.size() < limit; found = cursor.next(key, value)) {
        const std::string_view entry = as_view(key);
        const TimeMs at = decode_due(entry);
        if (at > until) break;
        due.push_back({at, std::string(entry.substr(kDueKeySize))});
    }
    return due;
}

bool LmdbStore::was_applied(const std::string& customer, uint64_t event_fingerprint) const {
    return snapshot()->was_applied(customer, event_fingerprint);
}

size_t LmdbStore::forget_applied_before(TimeMs cutoff, size_t limit) {
    std::vector<std::string> forgotten;
    write_transaction([&](MDB_txn* txn) {
        const std::string cutoff_key = encode_due(cutoff);
        {
            Cursor cursor(txn, applied_by_time_);
            MDB_val key, value;
            while (forgotten.size() < limit && cursor.next(key, value) &&
                   as_view(key).substr(0, kDueKeySize) < cutoff_key)
                forgotten.emplace_back(as_view(key));
        }
        for (const std::string& by_time : forgotten) {
            MDB_val by_time_key = as_val(by_time);
            MDB_val applied_key = as_val(std::string_view(by_time).substr(kDueKeySize));
            check(mdb_del(txn, applied_by_time_, &by_time_key, nullptr), "mdb_del applied_by_time");
            // A later application of the same id (after an earlier purge) may have replaced it.
            MDB_val at;
            if (check_found(mdb_get(txn, applied_, &applied_key, &at), "mdb_get applied") &&
                as_view(at) == std::string_view(by_time).substr(0, kDueKeySize))
                check(mdb_del(txn, applied_, &applied_key, nullptr), "mdb_del applied");
        }
    });
    return forgotten.size();
}

StoreStats LmdbStore::stats() const {
    return snapshot()->stats();
}

std::unique_ptr<LmdbStore::Snapshot> LmdbStore::snapshot() const {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
    return std::unique_ptr<Snapshot>(new Snapshot(*this, txn));
}

LmdbStore::Snapshot::~Snapshot() {
    mdb_txn_abort(txn_);
}

std::optional<TimeMs> LmdbStore::Snapshot::indexed_due(std::string_view customer) const {
    const std::optional<std::string> due = store_.indexed_due_key(txn_, customer);
    if (!due) return std::nullopt;
    return decode_due(*due);
}

bool LmdbStore::Snapshot::was_applied(std::string_view customer, uint64_t event_fingerprint) const {
    const std::string applied = be64_bytes(event_fingerprint).append(customer);
    MDB_val key = as_val(applied);
    MDB_val value;
    return check_found(mdb_get(txn_, store_.applied_, &key, &value), "mdb_get applied");
}

uint64_t LmdbStore::Snapshot::log_through() const {
    MDB_val key = as_val(kLogThroughKey);
    MDB_val value;
    if (!check_found(mdb_get(txn_, store_.meta_, &key, &value), "mdb_get meta")) return 0;
    return be64_value(as_view(value));
}

StoreStats LmdbStore::Snapshot::stats() const {
    MDB_envinfo info;
    check(mdb_env_info(store_.env_, &info), "mdb_env_info");
    MDB_stat environment;
    check(mdb_env_stat(store_.env_, &environment), "mdb_env_stat");
    std::map<std::string, int64_t> counters;
    {
        Cursor cursor(txn_, store_.stage_counts_);
        MDB_val key, value;
        while (cursor.next(key, value))
            counters[std::string(as_view(key))] = static_cast<int64_t>(be64_value(as_view(value)));
    }
    StoreStats stats;
    stats.customers = entries_in(txn_, store_.customers_);
    stats.pending_timers = entries_in(txn_, store_.timer_of_);
    stats.applied_events = entries_in(txn_, store_.applied_);
    stats.bytes = (uint64_t(info.me_last_pgno) + 1) * environment.ms_psize;
    stats.pending_requests = entries_in(txn_, store_.tables_[static_cast<size_t>(Table::requests)]);
    stats.outbox = entries_in(txn_, store_.tables_[static_cast<size_t>(Table::outbox)]);
    stats.dead_letters = entries_in(txn_, store_.tables_[static_cast<size_t>(Table::dead_letters)]);
    add_counts(counters, stats);
    return stats;
}

}  // namespace journeyd
