// LoggedStore against LmdbStore: the same random batches committed one by one into LmdbStore
// and into LoggedStore (checkpointing at random moments, and reopened, also after a process
// that never checkpointed died) must read back the same everywhere: records, tables, the timer
// index page by page, applied ids, stats. And a full store: at max_size, and on a full disk.
#include "state/store/logged_store.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "state/store/store_record_codec.hpp"
#include "tests/support/open_lmdb_store.hpp"
#include "tests/support/small_tmpfs.hpp"
#include "tests/support/temp_dir.hpp"

using namespace journeyd;
using test::SmallTmpfs;
using test::TempDir;
constexpr auto open_lmdb = test::open_lmdb_store;

namespace {

constexpr int kCustomers = 25;
const char* const kStages[] = {"new", "active", "gone"};

struct Workload {
    // As the daemon writes: an event id is applied once, a decision id's entry is written once
    // and erased once. Otherwise ids and keys repeat at random.
    bool like_daemon = false;
    std::mt19937_64 rng{12345};
    std::vector<uint64_t> fingerprints;
    std::map<std::string, std::string> stage_of;
    std::set<std::string> in_segment;  // customer + segment
    std::vector<std::pair<Table, std::string>> live_keys;
    int next_key = 0;

    int pick(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

    std::vector<StoreRecord> batch() {
        std::vector<StoreRecord> records(1 + pick(6));
        for (StoreRecord& r : records) {
            r.customer = "c" + std::to_string(pick(kCustomers));
            if (pick(8) == 0) continue;  // a barrier
            r.record = "state " + std::to_string(rng() % 1000);
            if (pick(3) != 0) r.next_due = pick(1000) - 100;
            r.index_lower_bound = pick(2) == 0;
            if (pick(3) != 0) {
                r.applied_event = !like_daemon && pick(4) == 0 && !fingerprints.empty()
                                      ? fingerprints[pick(static_cast<int>(fingerprints.size()))]
                                      : rng();
                fingerprints.push_back(*r.applied_event);
                r.applied_at = pick(1000);
            }
            const std::string to = kStages[pick(3)];
            auto it = stage_of.find(r.customer);
            if (it == stage_of.end() || it->second != to) {
                r.stage_move.emplace(it == stage_of.end() ? "" : it->second, to);
                stage_of[r.customer] = to;
            }
            for (const char* segment : {"engaged", "sellers"}) {
                if (pick(4) != 0) continue;
                const bool entered = in_segment.insert(r.customer + segment).second;
                if (!entered) in_segment.erase(r.customer + segment);
                r.segment_moves.emplace_back(segment, entered);
            }
            if (pick(5) == 0)
                r.counter_changes.emplace_back(
                    action_counter_key("sell", static_cast<ActionOutcome>(pick(3))), 1);
            for (int w = pick(3); w > 0; --w) {
                if (like_daemon) {
                    r.writes.push_back(daemon_write());
                    continue;
                }
                TableWrite write;
                write.table = static_cast<Table>(pick(3));
                write.key = "k" + std::to_string(pick(15));
                if (pick(3) != 0) write.value = "v" + std::to_string(rng() % 100);
                r.writes.push_back(std::move(write));
            }
        }
        return records;
    }

    TableWrite daemon_write() {
        TableWrite write;
        if (!live_keys.empty() && pick(2) == 0) {
            const size_t i = static_cast<size_t>(pick(static_cast<int>(live_keys.size())));
            std::tie(write.table, write.key) = live_keys[i];
            live_keys.erase(live_keys.begin() + static_cast<std::ptrdiff_t>(i));
            return write;
        }
        write.table = static_cast<Table>(pick(3));
        write.key = "d" + std::to_string(next_key++);
        write.value = "v" + std::to_string(rng() % 100);
        live_keys.emplace_back(write.table, write.key);
        return write;
    }
};

std::vector<std::tuple<TimeMs, std::string>> all_due(const RecordStore& store, TimeMs until,
                                                     size_t page) {
    std::vector<std::tuple<TimeMs, std::string>> due;
    std::optional<DueTimer> after;
    for (;;) {
        const auto slice = store.timers_due(until, page, after);
        for (const DueTimer& t : slice) due.emplace_back(t.due, t.customer);
        if (slice.size() < page) return due;
        after = slice.back();
    }
}

std::map<std::string, int64_t> nonzero(const std::map<std::string, int64_t>& counts) {
    std::map<std::string, int64_t> kept;
    for (const auto& [stage, count] : counts)
        if (count != 0) kept.emplace(stage, count);
    return kept;
}

// A LoggedStore counts what its overlays declare (store_overlay.hpp): exactly what LMDB counts
// right after a checkpoint, and between checkpoints as long as ids are used as the daemon
// does, except the timer index, whose entries below a lower bound are known only to LMDB.
enum class Counts { exact, declared, none };

void check_counts(const StoreStats& a, const StoreStats& b, Counts counts) {
    if (counts == Counts::none) return;
    CHECK(a.customers == b.customers);
    if (counts == Counts::exact) CHECK(a.pending_timers == b.pending_timers);
    CHECK(a.applied_events == b.applied_events);
    CHECK(a.pending_requests == b.pending_requests);
    CHECK(a.outbox == b.outbox);
    CHECK(nonzero(a.customers_in_stage) == nonzero(b.customers_in_stage));
    CHECK(nonzero(a.customers_in_segment) == nonzero(b.customers_in_segment));
    CHECK(nonzero(a.counters) == nonzero(b.counters));
}

void check_same(const RecordStore& expected, const RecordStore& actual, const Workload& work,
                Counts counts = Counts::exact) {
    for (int c = 0; c < kCustomers; ++c) {
        const std::string id = "c" + std::to_string(c);
        CHECK(expected.read(id) == actual.read(id));
        for (uint64_t fingerprint : work.fingerprints)
            CHECK(expected.was_applied(id, fingerprint) == actual.was_applied(id, fingerprint));
    }
    for (size_t t = 0; t < kTables; ++t) {
        const auto table = static_cast<Table>(t);
        CHECK(expected.read_all(table) == actual.read_all(table));
        for (int k = 0; k < 15; ++k)
            CHECK(expected.read(table, "k" + std::to_string(k)) ==
                  actual.read(table, "k" + std::to_string(k)));
    }
    for (TimeMs until : {-200, 0, 450, 2000})
        for (size_t page : {1, 3, 100})
            CHECK(all_due(expected, until, page) == all_due(actual, until, page));
    check_counts(expected.stats(), actual.stats(), counts);
}

LoggedStoreOptions small_options() {
    LoggedStoreOptions options;
    options.segment_bytes = 4096;  // rotations and releases all through the test
    options.checkpoint_records = 40;
    options.checkpoint_every = std::chrono::milliseconds(5);
    options.stall_records = 200;
    return options;
}

std::unique_ptr<LoggedStore> open_logged(const std::string& directory,
                                         const LoggedStoreOptions& options = small_options()) {
    std::string error;
    auto store = LoggedStore::open(directory, options, error);
    INFO(error);
    REQUIRE(store != nullptr);
    return store;
}

std::string encoded(const std::vector<StoreRecord>& batch) {
    std::string bytes;
    encode_batch(batch, bytes);
    return bytes;
}

}  // namespace

TEST_CASE("a batch survives the log's encoding field by field") {
    Workload work;
    for (int i = 0; i < 50; ++i) {
        const std::vector<StoreRecord> batch = work.batch();
        const std::vector<StoreRecord> decoded = decode_batch(encoded(batch));
        CHECK(encoded(decoded) == encoded(batch));
        REQUIRE(decoded.size() == batch.size());
        CHECK(decoded.back().customer == batch.back().customer);
        CHECK(decoded.back().next_due == batch.back().next_due);
        CHECK(decoded.back().stage_move == batch.back().stage_move);
    }
    CHECK_THROWS(decode_batch(encoded(work.batch()).substr(3)));
}

TEST_CASE("the log keeps a customer's state once a batch, and every record's counts") {
    std::vector<StoreRecord> batch(4);
    for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].customer = i == 2 ? "b" : "a";
        batch[i].record = "state " + std::to_string(i);
        batch[i].applied_event = 100 + i;
    }
    batch[0].stage_move.emplace("", "new");
    const std::vector<StoreRecord> decoded = decode_batch(encoded(batch));
    REQUIRE(decoded.size() == 4);
    for (size_t i : {0, 1}) {
        CHECK(decoded[i].superseded);
        CHECK(decoded[i].record.empty());
        CHECK(decoded[i].applied_event == batch[i].applied_event);
    }
    CHECK(decoded[0].stage_move == batch[0].stage_move);
    for (size_t i : {2, 3}) {
        CHECK_FALSE(decoded[i].superseded);
        CHECK(decoded[i].record == batch[i].record);
    }
    CHECK(encoded(batch).size() < encoded({batch[2], batch[3]}).size() + 2 * 40);
}

TEST_CASE("LoggedStore reads like LmdbStore committing the same batches one by one") {
    TempDir dir("logged");
    auto expected = open_lmdb(dir.sub("lmdb"));
    Workload work;
    {
        auto logged = open_logged(dir.sub("logged"));
        for (int i = 0; i < 600; ++i) {
            const auto batch = work.batch();
            expected->commit(batch);
            logged->commit(batch);
            const bool checkpointed = work.pick(10) == 0;
            if (checkpointed) logged->checkpoint();
            if (i % 25 == 0 || checkpointed)
                check_same(*expected, *logged, work, checkpointed ? Counts::exact : Counts::none);
        }
        check_same(*expected, *logged, work, Counts::none);
        logged->checkpoint();
        check_same(*expected, *logged, work);
    }
    auto reopened = open_logged(dir.sub("logged"));
    check_same(*expected, *reopened, work);

    // A purge reaches LMDB at the next checkpoint; ids in an overlay are forgotten later.
    CHECK(expected->forget_applied_before(500, 1'000'000) > 0);
    CHECK(reopened->forget_applied_before(500, 1'000'000) == 0);
    reopened->checkpoint();
    check_same(*expected, *reopened, work);
}

TEST_CASE("between checkpoints, LoggedStore counts what the daemon's records declare") {
    TempDir dir("logged");
    auto expected = open_lmdb(dir.sub("lmdb"));
    Workload work;
    work.like_daemon = true;
    LoggedStoreOptions rare = small_options();
    rare.checkpoint_records = 100'000;
    rare.checkpoint_every = std::chrono::hours(1);
    auto logged = open_logged(dir.sub("logged"), rare);
    for (int i = 0; i < 600; ++i) {
        const auto batch = work.batch();
        expected->commit(batch);
        logged->commit(batch);
        if (work.pick(50) == 0) logged->checkpoint();
        if (i % 10 == 0) check_same(*expected, *logged, work, Counts::declared);
    }
    logged->checkpoint();
    check_same(*expected, *logged, work, Counts::exact);
}

TEST_CASE("a process that dies before any checkpoint loses nothing it committed") {
    TempDir dir("logged");
    auto expected = open_lmdb(dir.sub("lmdb"));
    Workload work;
    std::vector<std::vector<StoreRecord>> batches;
    for (int i = 0; i < 300; ++i) batches.push_back(work.batch());
    for (const auto& batch : batches) expected->commit(batch);

    LoggedStoreOptions never = small_options();
    never.checkpoint_records = 1'000'000;
    never.checkpoint_log_bytes = uint64_t(1) << 40;
    never.checkpoint_every = std::chrono::hours(1);
    never.stall_records = 1'000'000;
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::string error;
        auto logged = LoggedStore::open(dir.sub("logged"), never, error);
        if (!logged) _exit(1);
        for (const auto& batch : batches) logged->commit(batch);
        _exit(0);  // no destructor, no checkpoint: only the log has it
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);

    auto replayed = open_logged(dir.sub("logged"), never);
    check_same(*expected, *replayed, work);
    // Open checkpointed the replay: LMDB alone now has it all, and the log is released.
    replayed.reset();
    auto lmdb_only = open_lmdb(dir.sub("logged"));
    check_same(*expected, *lmdb_only, work);
}

namespace {

// Batches of new customers with 1 KB records, each entering stage "s": every batch needs new
// space, so a store that is full stays full, and a customer counted twice shows in the count.
struct GrowingWorkload {
    int next = 0;
    std::vector<std::string> committed;

    static std::string record_of(const std::string& customer) {
        return customer + std::string(1000, 'r');
    }

    std::vector<StoreRecord> batch() {
        std::vector<StoreRecord> records(4);
        for (StoreRecord& r : records) {
            r.customer = "g" + std::to_string(next++);
            r.record = record_of(r.customer);
            r.next_due = next;
            r.stage_move.emplace("", "s");
        }
        return records;
    }

    // Commits one batch; "" or what commit() threw, after checking that none of it is there.
    std::string commit(LoggedStore& store) {
        const std::vector<StoreRecord> records = batch();
        try {
            store.commit(records);
        } catch (const std::runtime_error& e) {
            for (const StoreRecord& r : records) CHECK_FALSE(store.read(r.customer));
            return e.what();
        }
        for (const StoreRecord& r : records) committed.push_back(r.customer);
        return {};
    }

    // Every committed customer readable, each counted once.
    void check(const LoggedStore& store) const {
        for (const std::string& customer : committed) {
            INFO(customer);
            CHECK(store.read(customer) == record_of(customer));
        }
        const StoreStats stats = store.stats();
        CHECK(stats.customers == committed.size());
        const auto in_s = stats.customers_in_stage.find("s");
        CHECK((in_s == stats.customers_in_stage.end() ? 0 : in_s->second) ==
              static_cast<int64_t>(committed.size()));
    }
};

// What the store told on_error and on_recovered, from whichever thread.
struct Told {
    std::mutex mutex;
    std::vector<std::string> errors;
    int recovered = 0;

    void listen(LoggedStoreOptions& options) {
        options.on_error = [this](const std::string& error) {
            std::lock_guard<std::mutex> lock(mutex);
            errors.push_back(error);
        };
        options.on_recovered = [this] {
            std::lock_guard<std::mutex> lock(mutex);
            ++recovered;
        };
    }
    size_t error_count() {
        std::lock_guard<std::mutex> lock(mutex);
        return errors.size();
    }
    int recovered_count() {
        std::lock_guard<std::mutex> lock(mutex);
        return recovered;
    }
};

LoggedStoreOptions growing_options() {
    LoggedStoreOptions options = small_options();
    options.segment_bytes = 64 << 10;  // a batch is 4 KB: not a segment each
    return options;
}

}  // namespace

TEST_CASE(
    "a store at max_size refuses commits, answers reads, and takes commits again when larger") {
    TempDir dir("logged-full");
    GrowingWorkload work;
    LoggedStoreOptions full = growing_options();
    full.max_size = 1 << 20;
    std::string refusal;
    {
        Told told;
        told.listen(full);
        auto store = open_logged(dir.sub("store"), full);
        for (int i = 0; i < 2000 && refusal.empty(); ++i) refusal = work.commit(*store);
        INFO(refusal);
        REQUIRE_FALSE(refusal.empty());
        CHECK(refusal.rfind("store not writable, checkpoint failing: ", 0) == 0);
        CHECK(refusal.find("MDB_MAP_FULL") != std::string::npos);
        CHECK(refusal.find("the store reached [store] max_size (1048576 bytes); restart journeyd "
                           "with a larger max_size") != std::string::npos);
        CHECK(store->write_error() == refusal);
        CHECK(work.commit(*store) == refusal);  // refused at once, again
        CHECK(work.committed.size() > 500);     // most of the megabyte took records
        work.check(*store);
        CHECK_THROWS(store->checkpoint());
        // Retried every 5 ms meanwhile, told once.
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        CHECK(told.error_count() == 1);
        CHECK(told.recovered_count() == 0);
    }
    {
        // The log's tail cannot go into LMDB at open either: opened for reads all the same.
        Told told;
        told.listen(full);
        auto store = open_logged(dir.sub("store"), full);
        CHECK(told.error_count() == 1);
        CHECK(store->write_error().find("MDB_MAP_FULL") != std::string::npos);
        work.check(*store);
        CHECK(work.commit(*store).rfind("store not writable, checkpoint failing: ", 0) == 0);
    }
    LoggedStoreOptions larger = growing_options();
    larger.max_size = 8 << 20;
    auto store = open_logged(dir.sub("store"), larger);
    CHECK(store->write_error().empty());
    work.check(*store);
    for (int i = 0; i < 20; ++i) REQUIRE(work.commit(*store).empty());
    store->checkpoint();
    work.check(*store);
    store.reset();
    work.check(*open_logged(dir.sub("store"), larger));
}

TEST_CASE("a store on a full disk fails commits, answers reads, and goes on once there is space") {
    TempDir dir("logged-disk");
    SmallTmpfs disk(dir.sub("disk"), 2 << 20);
    if (!disk.mounted()) {
        WARN(disk.skip_message());
        return;
    }
    disk.write_filler("filler", 512 << 10);
    GrowingWorkload work;
    Told told;
    LoggedStoreOptions options = growing_options();
    told.listen(options);
    {
        auto store = open_logged(disk.sub("store"), options);
        std::string failure;
        for (int i = 0; i < 2000 && failure.empty(); ++i) {
            failure = work.commit(*store);
            // On tmpfs a commit takes microseconds, and back-to-back commits can keep the
            // checkpoint thread from ever taking commit_mutex_, so that the log alone fills the
            // disk. The daemon's commits leave it gaps; this test checkpoints in between.
            if (failure.empty() && i % 5 == 0) {
                try {
                    store->checkpoint();
                } catch (const std::runtime_error&) {
                    // The next commit is refused.
                }
            }
        }
        INFO(failure);
        REQUIRE_FALSE(failure.empty());
        // The log's write (rolled back) or the checkpoint's found the disk full, whichever
        // came first; LMDB turns a write of which only part fit into EIO.
        CHECK((failure.find("No space left on device") != std::string::npos ||
               failure.find("Input/output error") != std::string::npos));
        CHECK_FALSE(store->write_error().empty());
        const bool checkpoint_failed = failure.rfind("store not writable", 0) == 0;
        work.check(*store);

        std::filesystem::remove(disk.sub("filler"));
        // A failed log write is retried by the next commit, a failed checkpoint by the
        // checkpoint thread within checkpoint_every (5 ms).
        bool accepted = false;
        for (int i = 0; i < 400 && !accepted; ++i) {
            accepted = work.commit(*store).empty();
            if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        REQUIRE(accepted);
        // A checkpoint the thread began while the disk was still full may yet fail and refuse
        // a commit or two; one begun now is after it, and succeeds.
        store->checkpoint();
        for (int i = 0; i < 10; ++i) REQUIRE(work.commit(*store).empty());
        CHECK(store->write_error().empty());
        if (checkpoint_failed) CHECK(told.recovered_count() >= 1);
        store->checkpoint();
        work.check(*store);
    }
    work.check(*open_logged(disk.sub("store"), options));
}

TEST_CASE("a store is small on disk whatever its max_size") {
    TempDir dir("logged-small");
    GrowingWorkload work;
    auto store = open_logged(dir.sub("store"), growing_options());  // max_size 64 GiB
    for (int i = 0; i < 10; ++i) REQUIRE(work.commit(*store).empty());
    store->checkpoint();
    // LMDB without MDB_WRITEMAP writes pages into the file; the map only reserves addresses.
    CHECK(std::filesystem::file_size(dir.sub("store") + "/data.mdb") < (1 << 20));
}
