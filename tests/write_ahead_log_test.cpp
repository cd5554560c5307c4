// WriteAheadLog: round trip, the torn or corrupt tail cut at every byte, rotation, release.
#include "state/store/write_ahead_log.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "tests/support/temp_dir.hpp"

using namespace journeyd;
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
