// WriteAheadLog: round trip, the torn or corrupt tail cut at every byte, rotation, release, and
// a write that finds the disk full rolled back.
#include "state/store/write_ahead_log.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "tests/support/small_tmpfs.hpp"
#include "tests/support/temp_dir.hpp"

using namespace journeyd;
using test::SmallTmpfs;
using test::TempDir;

namespace {

namespace fs = std::filesystem;

using Records = std::vector<std::pair<uint64_t, std::string>>;

std::unique_ptr<WriteAheadLog> open_log(const std::string& directory, Records& replayed,
                                        uint64_t after = 0, WalOptions options = {}) {
    std::string error;
    auto log = WriteAheadLog::open(
        directory, options, after,
        [&](uint64_t seq, std::string_view payload) { replayed.emplace_back(seq, payload); },
        error);
    INFO(error);
    REQUIRE(log != nullptr);
    return log;
}

std::vector<fs::path> segments(const std::string& directory) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(directory)) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TEST_CASE("the write-ahead log replays what was synced, in order, and appends after it") {
    TempDir dir("wal");
    {
        Records none;
        auto log = open_log(dir.sub("wal"), none);
        CHECK(none.empty());
        CHECK(log->append("one") == 1);
        CHECK(log->append("") == 2);
        CHECK(log->append(std::string(100'000, 'x')) == 3);
        log->sync();
    }
    Records replayed;
    auto log = open_log(dir.sub("wal"), replayed);
    REQUIRE(replayed.size() == 3);
    CHECK(replayed[0] == std::pair<uint64_t, std::string>{1, "one"});
    CHECK(replayed[1] == std::pair<uint64_t, std::string>{2, ""});
    CHECK(replayed[2].second == std::string(100'000, 'x'));
    CHECK(log->append("four") == 4);
    log->sync();
    log.reset();

    Records after_two;
    open_log(dir.sub("wal"), after_two, 2);
    CHECK(after_two == Records{{3, std::string(100'000, 'x')}, {4, "four"}});
}

TEST_CASE("a torn last record is cut at every byte offset, and appending goes on after it") {
    TempDir dir("wal");
    {
        Records none;
        auto log = open_log(dir.sub("wal"), none);
        log->append("first");
        log->append("second record");
        log->sync();
    }
    const fs::path segment = segments(dir.sub("wal")).at(0);
    const auto full = fs::file_size(segment);
    const uintmax_t first_end = 16 + 5;
    std::ifstream in(segment, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    for (auto size = first_end; size < full; ++size) {
        {
            std::ofstream out(segment, std::ios::binary | std::ios::trunc);
            out.write(bytes.data(), static_cast<std::streamsize>(size));
        }
        Records replayed;
        auto log = open_log(dir.sub("wal"), replayed);
        CHECK(replayed == Records{{1, "first"}});
        CHECK(fs::file_size(segment) == first_end);
        CHECK(log->append("again") == 2);
        log->sync();
        log.reset();
        Records again;
        open_log(dir.sub("wal"), again);
        CHECK(again == Records{{1, "first"}, {2, "again"}});
    }
}

TEST_CASE("a record whose CRC does not match is cut with everything after it") {
    TempDir dir("wal");
    WalOptions small;
    small.segment_bytes = 64;  // one record a segment: the cut must reach later segments too
    {
        Records none;
        auto log = open_log(dir.sub("wal"), none, 0, small);
        for (int i = 0; i < 4; ++i)
            log->append("record " + std::to_string(i) + std::string(40, 'p'));
        log->sync();
    }
    REQUIRE(segments(dir.sub("wal")).size() == 4);
    {
        std::fstream file(segments(dir.sub("wal")).at(1),
                          std::ios::binary | std::ios::in | std::ios::out);
        file.seekp(20);
        file.put('X');
    }
    Records replayed;
    auto log = open_log(dir.sub("wal"), replayed, 0, small);
    REQUIRE(replayed.size() == 1);
    CHECK(replayed[0].first == 1);
    CHECK(segments(dir.sub("wal")).size() == 2);  // the first, and the cut one (now empty)
    CHECK(log->append("next") == 2);
}

TEST_CASE("the log rotates segments and releases those wholly checkpointed") {
    TempDir dir("wal");
    WalOptions small;
    small.segment_bytes = 1000;
    Records none;
    auto log = open_log(dir.sub("wal"), none, 0, small);
    for (int i = 1; i <= 100; ++i) {
        CHECK(log->append(std::string(84, 'r')) == static_cast<uint64_t>(i));  // 100 bytes each
        if (i % 7 == 0) log->sync();
    }
    log->sync();
    CHECK(segments(dir.sub("wal")).size() == 10);
    CHECK(log->bytes() == 10'000);

    log->release_through(25);  // segments [1..10], [11..20] go; [21..30] holds 26
    CHECK(segments(dir.sub("wal")).size() == 8);
    log->release_through(1000);  // never the segment being appended to
    CHECK(segments(dir.sub("wal")).size() == 1);
    log.reset();

    Records replayed;
    log = open_log(dir.sub("wal"), replayed, 95, small);
    REQUIRE(replayed.size() == 5);
    CHECK(replayed.front().first == 96);
    CHECK(log->append("x") == 101);
}

TEST_CASE("a log released beyond its end goes on after the checkpoint's sequence") {
    TempDir dir("wal");
    {
        Records none;
        auto log = open_log(dir.sub("wal"), none);
        log->append("a");
        log->sync();
    }
    Records replayed;
    auto log = open_log(dir.sub("wal"), replayed, 10);
    CHECK(replayed.empty());
    CHECK(log->append("b") == 11);
    log->sync();
    log.reset();
    Records again;
    open_log(dir.sub("wal"), again, 10);
    CHECK(again == Records{{11, "b"}});
}

namespace {

// Where a group of appends meets the full disk: in sync(), or in an append() that begins a
// segment and so writes and syncs the records appended before it.
enum class FailsIn { sync, append };

// Groups of `appends_per_sync` records of 64 KiB go into a 1 MiB tmpfs that a file of
// `filler_bytes` shares, until one fails; the log must then be as before that group, fail the
// same way while the disk is full, take the group once the file is deleted, and replay exactly
// the groups whose sync() returned.
void fill_the_disk_and_free_it(const WalOptions& options, int appends_per_sync,
                               uint64_t filler_bytes, FailsIn fails_in) {
    TempDir dir("wal-full");
    SmallTmpfs disk(dir.sub("disk"), 1 << 20);
    if (!disk.mounted()) {
        WARN(disk.skip_message());
        return;
    }
    disk.write_filler("filler", filler_bytes);
    Records none;
    auto log = open_log(disk.sub("wal"), none, 0, options);

    Records synced;
    int next = 0;
    FailsIn failed_in = FailsIn::append;
    // Throws what append() or sync() threw; else the group's records are synced.
    auto write_group = [&] {
        Records group;
        failed_in = FailsIn::append;
        for (int i = 0; i < appends_per_sync; ++i) {
            const std::string payload = std::to_string(next++) + std::string(64 << 10, 'p');
            group.emplace_back(log->append(payload), payload);
        }
        failed_in = FailsIn::sync;
        log->sync();
        synced.insert(synced.end(), group.begin(), group.end());
    };
    std::string failure;
    for (int group = 0; group < 50 && failure.empty(); ++group) {
        try {
            write_group();
        } catch (const std::runtime_error& e) {
            failure = e.what();
        }
    }
    INFO(failure);
    REQUIRE_FALSE(failure.empty());
    CHECK(failure.rfind("write-ahead log: ", 0) == 0);
    CHECK(failure.find(disk.sub("wal") + "/") != std::string::npos);  // names the file
    CHECK(failure.find("No space left on device") != std::string::npos);
    CHECK(failure.find("nothing appended since the last sync was kept") != std::string::npos);
    CHECK(failed_in == fails_in);
    CHECK(log->last_sequence() == synced.size());

    // Rolled back to exactly where it was, so the same group fails the same way.
    CHECK_THROWS_WITH(write_group(), failure);
    CHECK(log->last_sequence() == synced.size());

    std::filesystem::remove(disk.sub("filler"));
    write_group();
    const Records written = synced;
    log.reset();

    Records replayed;
    log = open_log(disk.sub("wal"), replayed, 0, options);
    REQUIRE(replayed.size() == written.size());
    for (size_t i = 0; i < replayed.size(); ++i) {
        CHECK(replayed[i].first == i + 1);
        CHECK((replayed[i].second == written[i].second));  // not printed: 64 KiB
    }
}

}  // namespace

TEST_CASE("a write that finds the disk full is rolled back, and the log goes on after it") {
    SECTION("in sync()") {
        fill_the_disk_and_free_it({}, 1, 256 << 10, FailsIn::sync);
    }
    SECTION("in an append() that begins a segment") {
        // Three records a segment and a sync after every two appends: the appends of records 4,
        // 10, 16, ... begin a segment with record 3, 9, 15, ... not yet written. Next to 480 KiB,
        // 8 records fit and the 9th does not.
        WalOptions small;
        small.segment_bytes = 200 << 10;
        fill_the_disk_and_free_it(small, 2, 480 << 10, FailsIn::append);
    }
}
