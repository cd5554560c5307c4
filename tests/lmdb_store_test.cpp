#include "state/store/lmdb_store.hpp"

#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>
#include <utility>

#include "tests/support/memory_record_store.hpp"
#include "tests/support/open_lmdb_store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace journeyd;
using test::TempDir;
constexpr auto open_store = test::open_lmdb_store;

namespace {

StoreRecord record(std::string customer, std::string bytes,
                   std::optional<TimeMs> next_due = std::nullopt) {
    StoreRecord r;
    r.customer = std::move(customer);
    r.record = std::move(bytes);
    r.next_due = next_due;
    return r;
}

using Due = std::vector<std::pair<TimeMs, std::string>>;

Due due_timers(const RecordStore& store, TimeMs until, size_t limit = 100) {
    Due due;
    for (const DueTimer& timer : store.timers_due(until, limit)) {
        due.emplace_back(timer.due, timer.customer);
    }
    return due;
}

// One scenario for every RecordStore, so LmdbStore is held to MemoryRecordStore's semantics.
void check_timer_index(RecordStore& store) {
    constexpr TimeMs kMin = std::numeric_limits<TimeMs>::min();
    constexpr TimeMs kMax = std::numeric_limits<TimeMs>::max();

    store.commit({record("a", "r", 100), record("b", "r", 200)});
    CHECK(due_timers(store, 1000) == Due{{100, "a"}, {200, "b"}});

    store.commit({record("a", "r", 300)});  // later
    CHECK(due_timers(store, 1000) == Due{{200, "b"}, {300, "a"}});
    store.commit({record("b", "r", 50)});  // earlier
    CHECK(due_timers(store, 1000) == Due{{50, "b"}, {300, "a"}});

    store.commit({record("a", "r")});  // no timer left: out of the index, record kept
    CHECK(due_timers(store, 1000) == Due{{50, "b"}});
    CHECK(store.read("a") == "r");

    store.commit({record("b", "", 7)});  // nothing to write: the index is untouched too
    CHECK(due_timers(store, 1000) == Due{{50, "b"}});

    store.commit({record("e", "r", 400), record("c", "r", 400), record("d", "r", 400)});
    store.commit({record("neg", "r", -1000), record("max", "r", kMax), record("min", "r", kMin)});
    const Due all{{kMin, "min"}, {-1000, "neg"}, {50, "b"},    {400, "c"},
                  {400, "d"},    {400, "e"},     {kMax, "max"}};
    CHECK(due_timers(store, kMax) == all);

    CHECK(due_timers(store, kMax, 2) == Due(all.begin(), all.begin() + 2));
    CHECK(due_timers(store, kMax, 0).empty());
    CHECK(due_timers(store, 400, 4) == Due(all.begin(), all.begin() + 4));

    CHECK(due_timers(store, kMin) == Due{{kMin, "min"}});
    CHECK(due_timers(store, -1001) == Due{{kMin, "min"}});
    CHECK(due_timers(store, -1000) == Due(all.begin(), all.begin() + 2));
    CHECK(due_timers(store, 399) == Due(all.begin(), all.begin() + 3));
    CHECK(due_timers(store, 400) == Due(all.begin(), all.begin() + 6));
    CHECK(due_timers(store, kMax - 1) == Due(all.begin(), all.begin() + 6));

    store.commit({record("x", "r", 10), record("x", "r", 20), record("c", "r")});
    CHECK(due_timers(store, 400) ==
          Due{{kMin, "min"}, {-1000, "neg"}, {20, "x"}, {50, "b"}, {400, "d"}, {400, "e"}});

    // Going on after an entry, present or not, as the sweeper does after a full slice.
    auto after = [&](TimeMs due, const char* customer, size_t limit) {
        Due found;
        for (const DueTimer& t : store.timers_due(400, limit, DueTimer{due, customer}))
            found.emplace_back(t.due, t.customer);
        return found;
    };
    CHECK(after(-1000, "neg", 2) == Due{{20, "x"}, {50, "b"}});
    CHECK(after(400, "d", 10) == Due{{400, "e"}});
    CHECK(after(30, "zz", 10) == Due{{50, "b"}, {400, "d"}, {400, "e"}});
    CHECK(after(400, "e", 10).empty());

    const StoreStats stats = store.stats();
    CHECK(stats.customers == 9);  // a b c d e neg max min x
    CHECK(stats.pending_timers == 7);
}

void overwrite_format_version(const std::string& directory, const std::string& version) {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 8) == 0);
    REQUIRE(mdb_env_open(env, directory.c_str(), 0, 0600) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi meta = 0;
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    std::string key = "format";
    MDB_val key_val{key.size(), key.data()};
    std::string value = version;
    MDB_val value_val{value.size(), value.data()};
    REQUIRE(mdb_put(txn, meta, &key_val, &value_val, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

constexpr int kCustomersPerBatch = 10;

std::string batch_customer(uint64_t batch, int index) {
    return "b" + std::to_string(batch) + "-c" + std::to_string(index);
}

// Runs in the forked child until killed; reports each batch number once commit() returned.
[[noreturn]] void commit_batches_forever(const std::string& directory, int report_fd) {
    std::string error;
    auto store = LmdbStore::open(directory, LmdbOptions{}, error);
    if (!store) _exit(1);
    try {
        for (uint64_t batch = 1;; ++batch) {
            std::vector<StoreRecord> records;
            for (int i = 0; i < kCustomersPerBatch; ++i) {
                records.push_back(record(batch_customer(batch, i), "batch " + std::to_string(batch),
                                         static_cast<TimeMs>(batch)));
            }
            store->commit(records);
            if (write(report_fd, &batch, sizeof batch) != sizeof batch) _exit(2);
        }
    } catch (const std::exception&) {
        _exit(3);  // the parent sees too few batch numbers; Catch must not run in the child
    }
}

bool read_batch_number(int fd, uint64_t& batch) {
    size_t received = 0;
    auto* bytes = reinterpret_cast<char*>(&batch);
    while (received < sizeof batch) {
        const ssize_t n = read(fd, bytes + received, sizeof batch - received);
        if (n <= 0) return false;
        received += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

TEST_CASE("lmdb store: a committed record reads back, an unknown customer reads nothing") {
    TempDir dir("lmdb");
    auto store = open_store(dir.path());
    const std::string binary("\x00\xff\x01 record", 10);
    store->commit({record("kund\xc3\xa9-1", binary), record("c2", "two", 5)});
    CHECK(store->read("kund\xc3\xa9-1") == binary);
    CHECK(store->read("c2") == "two");
    CHECK_FALSE(store->read("nobody").has_value());
}

TEST_CASE("lmdb store: a later record for the same customer in a batch wins") {
    TempDir dir("lmdb");
    auto store = open_store(dir.path());
    store->commit({record("c", "first", 10), record("c", "second", 20)});
    CHECK(store->read("c") == "second");
    CHECK(due_timers(*store, 100) == Due{{20, "c"}});
}

TEST_CASE("lmdb store: empty records are skipped") {
    TempDir dir("lmdb");
    auto store = open_store(dir.path());
    store->commit({record("kept", "v1", 10)});
    store->commit({record("kept", ""), record("never", "", 5)});
    CHECK(store->read("kept") == "v1");
    CHECK_FALSE(store->read("never").has_value());
    CHECK(due_timers(*store, 100) == Due{{10, "kept"}});
    CHECK(store->stats().customers == 1);
}

TEST_CASE("lmdb store: reopening the directory keeps records and the timer index") {
    TempDir dir("lmdb");
    open_store(dir.path())
        ->commit({record("a", "ra", 30), record("b", "rb"), record("c", "rc", 10)});
    auto store = open_store(dir.path());
    CHECK(store->read("a") == "ra");
    CHECK(store->read("b") == "rb");
    CHECK(due_timers(*store, 100) == Due{{10, "c"}, {30, "a"}});
    store->commit({record("c", "rc2")});  // the index entry found through timer_of after reopen
    CHECK(due_timers(*store, 100) == Due{{30, "a"}});
}

// Applied event ids: remembered with their record, forgotten oldest first by cutoff.
void check_applied_ids(RecordStore& store) {
    auto applied = [](std::string customer, uint64_t fingerprint, TimeMs at,
                      std::string bytes = "r") {
        StoreRecord r = record(std::move(customer), std::move(bytes));
        r.applied_event = fingerprint;
        r.applied_at = at;
        return r;
    };
    store.commit({applied("a", 1, 100), applied("a", 2, 200), applied("b", 1, 150),
                  applied("c", 9, 50, "")});  // empty: nothing written
    CHECK(store.was_applied("a", 1));
    CHECK(store.was_applied("b", 1));
    CHECK_FALSE(store.was_applied("b", 2));
    CHECK_FALSE(store.was_applied("c", 9));
    CHECK(store.stats().applied_events == 3);
    CHECK(store.forget_applied_before(150, 10) == 1);  // cutoff is exclusive
    CHECK_FALSE(store.was_applied("a", 1));
    CHECK(store.was_applied("b", 1));
    store.commit({applied("b", 1, 500)});             // the same id applied again, later
    CHECK(store.forget_applied_before(300, 1) == 1);  // limit
    CHECK(store.forget_applied_before(300, 10) == 1);
    CHECK_FALSE(store.was_applied("a", 2));
    CHECK(store.was_applied("b", 1));  // its newer application is kept
    CHECK(store.stats().applied_events == 1);
}

// Customers per stage, from the stage moves records carry, deltas applied in batch order.
void check_stage_counts(RecordStore& store) {
    auto moved = [](std::string customer, std::string from, std::string to) {
        StoreRecord r = record(std::move(customer), "r");
        r.stage_move = std::make_pair(std::move(from), std::move(to));
        return r;
    };
    store.commit({moved("a", "", "new"), moved("b", "", "new"), moved("a", "new", "active")});
    store.commit({moved("a", "active", "loyal"), record("b", "r"), moved("c", "", "new")});
    using Counts = std::map<std::string, int64_t>;
    CHECK(store.stats().customers_in_stage == Counts{{"new", 2}, {"active", 0}, {"loyal", 1}});
}

// The coordinator's tables: writes apply in batch order (a put then an erase of the same key in
// one batch leaves nothing), records' writes commit with them, read_all gives key order.
void check_tables(RecordStore& store) {
    auto put = [](Table table, std::string key, std::string value) {
        return TableWrite{table, std::move(key), std::move(value)};
    };
    auto erase = [](Table table, std::string key) {
        return TableWrite{table, std::move(key), std::nullopt};
    };
    StoreRecord customer = record("a", "r");
    customer.writes = {put(Table::requests, "r2", "second"), put(Table::requests, "r1", "first")};
    store.commit({customer, table_writes({put(Table::outbox, "d1", "send"),
                                          put(Table::requests, "r3", "third"),
                                          erase(Table::requests, "r3")})});
    using Entries = std::vector<std::pair<std::string, std::string>>;
    CHECK(store.read_all(Table::requests) == Entries{{"r1", "first"}, {"r2", "second"}});
    CHECK(store.read(Table::outbox, "d1") == std::optional<std::string>("send"));
    CHECK(store.read(Table::requests, "d1") == std::nullopt);  // tables are apart
    CHECK(store.read_all(Table::pressure).empty());
    store.commit({table_writes({erase(Table::requests, "r1"), erase(Table::outbox, "missing"),
                                put(Table::pressure, "a", "history")})});
    CHECK(store.read_all(Table::requests) == Entries{{"r2", "second"}});
    CHECK(store.read(Table::pressure, "a") == std::optional<std::string>("history"));
    const StoreStats stats = store.stats();
    CHECK(stats.pending_requests == 1);
    CHECK(stats.outbox == 1);
    CHECK(stats.customers == 1);
}

TEST_CASE("coordinator tables: MemoryRecordStore") {
    MemoryRecordStore store;
    check_tables(store);
}

TEST_CASE("coordinator tables: LmdbStore, the same as MemoryRecordStore, and kept on reopening") {
    TempDir dir("lmdb");
    check_tables(*open_store(dir.path()));
    CHECK(open_store(dir.path())->read(Table::outbox, "d1") == std::optional<std::string>("send"));
}

TEST_CASE("stage counts: MemoryRecordStore") {
    MemoryRecordStore store;
    check_stage_counts(store);
}

TEST_CASE("stage counts: LmdbStore, the same as MemoryRecordStore, and kept on reopening") {
    TempDir dir("lmdb");
    check_stage_counts(*open_store(dir.path()));
    CHECK(open_store(dir.path())->stats().customers_in_stage.at("loyal") == 1);
}

TEST_CASE("applied event ids: MemoryRecordStore") {
    MemoryRecordStore store;
    check_applied_ids(store);
}

TEST_CASE("applied event ids: LmdbStore, the same as MemoryRecordStore") {
    TempDir dir("lmdb");
    check_applied_ids(*open_store(dir.path()));
}

// Records of events only lower the index entry; an exact record puts it where the timer is.
void check_lower_bound_index(RecordStore& store) {
    auto bound = [](std::string customer, std::optional<TimeMs> due) {
        StoreRecord r = record(std::move(customer), "r", due);
        r.index_lower_bound = true;
        return r;
    };
    store.commit({bound("a", 100)});  // no entry yet: created
    store.commit({bound("a", 300)});  // later: stays early
    CHECK(due_timers(store, 1000) == Due{{100, "a"}});
    store.commit({bound("a", 50)});  // earlier: moved
    CHECK(due_timers(store, 1000) == Due{{50, "a"}});
    store.commit({bound("a", std::nullopt)});  // no timer: stays, a wake-up will tell
    CHECK(due_timers(store, 1000) == Due{{50, "a"}});
    store.commit({record("a", "r", 400)});
    CHECK(due_timers(store, 1000) == Due{{400, "a"}});
    store.commit({bound("b", std::nullopt)});
    CHECK(store.stats().pending_timers == 1);
}

TEST_CASE("lower-bound timer index entries: MemoryRecordStore") {
    MemoryRecordStore store;
    check_lower_bound_index(store);
}

TEST_CASE("lower-bound timer index entries: LmdbStore, the same as MemoryRecordStore") {
    TempDir dir("lmdb");
    check_lower_bound_index(*open_store(dir.path()));
}

TEST_CASE("timer index semantics: MemoryRecordStore") {
    MemoryRecordStore store;
    check_timer_index(store);
}

TEST_CASE("timer index semantics: LmdbStore, the same as MemoryRecordStore") {
    TempDir dir("lmdb");
    check_timer_index(*open_store(dir.path()));
}

TEST_CASE("lmdb store: stats count customers and timers, bytes grow with data") {
    TempDir dir("lmdb");
    auto store = open_store(dir.path());
    const StoreStats empty = store->stats();
    CHECK(empty.customers == 0);
    CHECK(empty.pending_timers == 0);
    CHECK(empty.bytes > 0);
    std::vector<StoreRecord> batch;
    for (int i = 0; i < 1000; ++i) {
        batch.push_back(record("c" + std::to_string(i), std::string(200, 'x'),
                               i % 2 == 0 ? std::optional<TimeMs>(i) : std::nullopt));
    }
    store->commit(batch);
    const StoreStats full = store->stats();
    CHECK(full.customers == 1000);
    CHECK(full.pending_timers == 500);
    CHECK(full.bytes > empty.bytes + 1000 * 200);
}

TEST_CASE("lmdb store: another format version on disk is refused, naming both versions") {
    TempDir dir("lmdb");
    open_store(dir.path());
    overwrite_format_version(dir.path(), "99");
    std::string error;
    CHECK(LmdbStore::open(dir.path(), LmdbOptions{}, error) == nullptr);
    CHECK_THAT(error, Catch::Contains("version 99") && Catch::Contains("version 1") &&
                          Catch::Contains(dir.path()));
}

TEST_CASE("lmdb store: a path it cannot use as its directory is an error, not a crash") {
    TempDir dir("lmdb");
    std::string error;
    SECTION("a regular file") {
        const std::string file = dir.path() + "/store";
        std::ofstream(file) << "not a store";
        CHECK(LmdbStore::open(file, LmdbOptions{}, error) == nullptr);
        CHECK_THAT(error, Catch::Contains(file) && Catch::Contains("not a directory"));
    }
    SECTION("a missing parent") {
        const std::string nested = dir.path() + "/missing/store";
        CHECK(LmdbStore::open(nested, LmdbOptions{}, error) == nullptr);
        CHECK_THAT(error, Catch::Contains(nested) && Catch::Contains("mkdir"));
    }
}

// What journeyd relies on: a read that starts after commit() returned (the shard reads a
// passivated customer's record after the actor that committed it has ended) sees that commit.
// Reads racing a commit without such an order may see either snapshot, and LMDB does not
// promise them to be monotonic across transactions; that is not asserted here.
TEST_CASE("lmdb store: a read ordered after a returned commit sees it, from any thread") {
    TempDir dir("lmdb");
    auto store = open_store(dir.path());
    store->commit({record("counter", "0")});
    constexpr int kCommits = 300;
    std::atomic<int> committed{0};
    std::atomic<int> stale_reads{0}, torn_timers{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 4; ++r) {
        readers.emplace_back([&] {
            for (int known = 0; known < kCommits;) {
                known = committed.load(std::memory_order_acquire);
                if (std::stoi(store->read("counter").value_or("-1")) < known) ++stale_reads;
                if (store->timers_due(kCommits, 10).size() > 1) ++torn_timers;
            }
        });
    }
    for (int i = 1; i <= kCommits; ++i) {
        store->commit({record("counter", std::to_string(i), i)});
        committed.store(i, std::memory_order_release);
    }
    for (std::thread& reader : readers) reader.join();
    CHECK(stale_reads == 0);
    CHECK(torn_timers == 0);  // a batch is never half visible
    CHECK(store->read("counter") == std::to_string(kCommits));
}

TEST_CASE("lmdb store: a killed writer keeps every returned commit and no partial batch") {
    TempDir dir("lmdb");
    int report[2];
    REQUIRE(pipe(report) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        close(report[0]);
        commit_batches_forever(dir.path(), report[1]);
    }
    close(report[1]);

    uint64_t last_returned = 0;
    for (uint64_t batch = 0; last_returned < 20 && read_batch_number(report[0], batch);) {
        last_returned = batch;
    }
    REQUIRE(kill(child, SIGKILL) == 0);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    for (uint64_t batch = 0; read_batch_number(report[0], batch);) last_returned = batch;
    close(report[0]);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(last_returned >= 20);

    auto store = open_store(dir.path());
    const StoreStats stats = store->stats();
    INFO("last returned commit " << last_returned << ", customers " << stats.customers);
    REQUIRE(stats.customers % kCustomersPerBatch == 0);
    const uint64_t batches = stats.customers / kCustomersPerBatch;
    REQUIRE(batches >= last_returned);
    REQUIRE(batches <= last_returned + 1);  // the commit in flight at the kill, at most
    CHECK(stats.pending_timers == stats.customers);
    for (uint64_t batch = 1; batch <= batches; ++batch) {
        for (int i = 0; i < kCustomersPerBatch; ++i) {
            REQUIRE(store->read(batch_customer(batch, i)) == "batch " + std::to_string(batch));
        }
    }
}
