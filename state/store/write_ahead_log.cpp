#include "state/store/write_ahead_log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace journeyd {

namespace {

constexpr size_t kHeaderSize = 16;  // length, CRC, sequence
constexpr std::string_view kSuffix = ".log";

[[noreturn]] void fail(const std::string& operation, const std::string& path) {
    throw std::runtime_error(operation + " " + path + ": " + std::strerror(errno));
}

void put_le(std::string& out, uint64_t value, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i, value >>= 8) out.push_back(static_cast<char>(value & 0xff));
}

uint64_t get_le(std::string_view in, size_t bytes) {
    uint64_t value = 0;
    for (size_t i = bytes; i-- > 0;) value = (value << 8) | static_cast<uint8_t>(in[i]);
    return value;
}

// The CRC covers the sequence too, so a record copied to the wrong place does not pass.
uint32_t record_crc(std::string_view sequence_bytes, std::string_view payload) {
    return crc32_of(payload, crc32_of(sequence_bytes));
}

// A new or deleted file's directory entry is durable only once the directory is synced.
void sync_directory(const std::string& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail("open", directory);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) fail("fsync", directory);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("open", path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Segment names, parsed to their first sequence, oldest first; other files are left alone.
std::vector<uint64_t> list_segments(const std::string& directory) {
    std::vector<uint64_t> firsts;
    DIR* dir = ::opendir(directory.c_str());
    if (dir == nullptr) fail("opendir", directory);
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (name.size() != 20 + kSuffix.size() || name.substr(20) != kSuffix) continue;
        if (!std::all_of(name.begin(), name.begin() + 20,
                         [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        firsts.push_back(std::stoull(std::string(name.substr(0, 20))));
    }
    ::closedir(dir);
    std::sort(firsts.begin(), firsts.end());
    return firsts;
}

}  // namespace

uint32_t crc32_of(std::string_view bytes, uint32_t crc) {
    return static_cast<uint32_t>(
        ::crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

WriteAheadLog::WriteAheadLog(std::string directory, const WalOptions& options)
    : directory_(std::move(directory)), options_(options) {}

WriteAheadLog::~WriteAheadLog() {
    if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<WriteAheadLog> WriteAheadLog::open(const std::string& directory,
                                                   const WalOptions& options, uint64_t replay_after,
                                                   const Replay& replay, std::string& error) {
    std::unique_ptr<WriteAheadLog> log(new WriteAheadLog(directory, options));
    try {
        if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) fail("mkdir", directory);
        log->recover(replay_after, replay);
    } catch (const std::runtime_error& e) {
        error = std::string("write-ahead log: ") + e.what();
        return nullptr;
    }
    return log;
}

std::string WriteAheadLog::path_of(uint64_t first) const {
    char name[32];
    std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(first));
    return directory_ + "/" + name + std::string(kSuffix);
}

void WriteAheadLog::recover(uint64_t replay_after, const Replay& replay) {
    std::vector<uint64_t> firsts = list_segments(directory_);
    // Segments wholly at or before replay_after are checkpointed: a crash may have come
    // between the checkpoint and their release. Dropping them first also keeps a release
    // that only partly reached the disk from looking like a gap.
    size_t keep = 0;
    while (keep + 1 < firsts.size() && firsts[keep + 1] <= replay_after + 1) ++keep;
    for (size_t i = 0; i < keep; ++i)
        if (::unlink(path_of(firsts[i]).c_str()) != 0) fail("unlink", path_of(firsts[i]));
    firsts.erase(firsts.begin(), firsts.begin() + static_cast<std::ptrdiff_t>(keep));

    uint64_t expected = firsts.empty() ? 1 : firsts.front();
    bool cut = false;
    for (size_t i = 0; i < firsts.size(); ++i) {
        const std::string path = path_of(firsts[i]);
        if (cut || firsts[i] != expected) {
            // After a cut (or a gap) nothing was acknowledged: see the header.
            if (::unlink(path.c_str()) != 0) fail("unlink", path);
            cut = true;
            continue;
        }
        const std::string bytes = read_file(path);
        size_t offset = 0;
        while (offset + kHeaderSize <= bytes.size()) {
            const std::string_view header(bytes.data() + offset, kHeaderSize);
            const uint64_t length = get_le(header, 4);
            if (length > bytes.size() - offset - kHeaderSize) break;
            const std::string_view payload(bytes.data() + offset + kHeaderSize, length);
            if (get_le(header.substr(4), 4) != record_crc(header.substr(8), payload)) break;
            if (get_le(header.substr(8), 8) != expected) break;
            if (expected > replay_after) replay(expected, payload);
            ++expected;
            offset += kHeaderSize + length;
        }
        if (offset != bytes.size()) {
            if (::truncate(path.c_str(), static_cast<off_t>(offset)) != 0) fail("truncate", path);
            const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0 || ::fsync(fd) != 0) fail("fsync", path);
            ::close(fd);
            cut = true;
        }
        segments_.push_back({firsts[i], offset});
    }
    if (cut) sync_directory(directory_);
    last_sequence_ = expected - 1;

    // A log released up to a checkpoint it has not reached yet (only without fdatasync, after
    // a machine crash) must not reuse sequences the checkpoint covers: begin after them.
    if (last_sequence_ < replay_after) {
        for (const Segment& segment : segments_)
            if (::unlink(path_of(segment.first).c_str()) != 0)
                fail("unlink", path_of(segment.first));
        segments_.clear();
        last_sequence_ = replay_after;
    }
    kept_sequence_ = last_sequence_;
    if (segments_.empty()) {
        begin_segment(last_sequence_ + 1);
        return;
    }
    fd_ = ::open(path_of(segments_.back().first).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) fail("open", path_of(segments_.back().first));
}

void WriteAheadLog::begin_segment(uint64_t first) {
    const std::string path = path_of(first);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) fail("open", path);
    try {
        sync_directory(directory_);
    } catch (...) {
        // The empty file may stay: the next roll truncates it again, and open() reads it as
        // the empty segment that follows the last one.
        ::close(fd);
        throw;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    segments_.push_back({first, 0});
}

uint64_t WriteAheadLog::append(std::string_view payload) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!unusable_.empty()) throw std::runtime_error(unusable_);
    const Segment& current = segments_.back();
    if (current.bytes + buffer_.size() > 0 &&
        current.bytes + buffer_.size() + kHeaderSize + payload.size() > options_.segment_bytes) {
        // The old segment must be durable on its own: later sync()s only reach the new one.
        write_and_sync();
        begin_segment(last_sequence_ + 1);
    }
    const uint64_t sequence = ++last_sequence_;
    std::string sequence_bytes;
    put_le(sequence_bytes, sequence, 8);
    put_le(buffer_, payload.size(), 4);
    put_le(buffer_, record_crc(sequence_bytes, payload), 4);
    buffer_ += sequence_bytes;
    buffer_.append(payload);
    return sequence;
}

void WriteAheadLog::write_and_sync() {
    const Segment& current = segments_.back();
    const uint64_t kept_bytes = current.bytes;
    try {
        write_buffer();
        if (options_.sync && ::fdatasync(fd_) != 0) fail("fdatasync", path_of(current.first));
    } catch (const std::runtime_error& e) {
        roll_back(kept_bytes, e.what());
    }
    kept_sequence_ = last_sequence_;
}

void WriteAheadLog::write_buffer() {
    Segment& current = segments_.back();
    size_t written = 0;
    while (written < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("write", path_of(current.first));
        written += static_cast<size_t>(n);
    }
    current.bytes += buffer_.size();
    buffer_.clear();
}

void WriteAheadLog::roll_back(uint64_t kept_bytes, const std::string& error) {
    Segment& current = segments_.back();
    buffer_.clear();
    last_sequence_ = kept_sequence_;
    // Synced even without WalOptions::sync: records of the failed write that reached the disk
    // in part must not come back at a replay after a machine crash, since their commit failed
    // and their sequences are given out again.
    const char* call = nullptr;
    if (::ftruncate(fd_, static_cast<off_t>(kept_bytes)) != 0)
        call = "ftruncate";
    else if (::fdatasync(fd_) != 0)
        call = "fdatasync";
    if (call != nullptr) {
        const int cause = errno;
        unusable_ =
            "write-ahead log unusable, restart journeyd (its replay decides what was "
            "written): " +
            error + "; then rolling back: " + call + " " + path_of(current.first) + ": " +
            std::strerror(cause);
        throw std::runtime_error(unusable_);
    }
    current.bytes = kept_bytes;
    throw std::runtime_error("write-ahead log: " + error +
                             "; nothing appended since the last sync was kept");
}

void WriteAheadLog::sync() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!unusable_.empty()) throw std::runtime_error(unusable_);
    write_and_sync();
}

void WriteAheadLog::release_through(uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t released = 0;
    while (released + 1 < segments_.size() && segments_[released + 1].first <= sequence + 1) {
        const std::string path = path_of(segments_[released].first);
        if (::unlink(path.c_str()) != 0) fail("unlink", path);
        ++released;
    }
    if (released == 0) return;
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(released));
    sync_directory(directory_);
}

uint64_t WriteAheadLog::bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t total = buffer_.size();
    for (const Segment& segment : segments_) total += segment.bytes;
    return total;
}

uint64_t WriteAheadLog::last_sequence() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_sequence_;
}

}  // namespace journeyd
