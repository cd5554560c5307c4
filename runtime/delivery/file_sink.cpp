#include "runtime/delivery/file_sink.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_set>
#include <vector>

#include "state/thread_name.hpp"

namespace journeyd {
namespace {

std::string describe_errno(int error) {
    return std::generic_category().message(error);
}

// A file that was just created only survives a crash once its directory entry is on disk.
void sync_parent_directory(const std::string& path) {
    std::string directory = std::filesystem::path(path).parent_path().string();
    if (directory.empty()) directory = ".";
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        spdlog::warn("delivery sink directory not synced path={} error=\"{}\"", directory,
                     describe_errno(errno));
    }
    if (fd >= 0) ::close(fd);
}

// A crash (or a close() that gave up) in the middle of a write leaves a last line without
// its newline; appending to it would glue the next object onto the torn one.
bool ends_with_torn_line(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat status {};
    char last = '\n';
    const bool torn = ::fstat(fd, &status) == 0 && status.st_size > 0 &&
                      ::pread(fd, &last, 1, status.st_size - 1) == 1 && last != '\n';
    ::close(fd);
    return torn;
}

// The decision ids of the last `lines` lines of the file. Read backwards in blocks, so the
// cost is the tail's size, not the file's.
std::unordered_set<std::string> decision_ids_in_tail(int fd, size_t lines) {
    std::unordered_set<std::string> ids;
    struct stat status {};
    if (::fstat(fd, &status) != 0) return ids;
    constexpr off_t kBlock = 1 << 20;
    std::string tail;
    off_t start = status.st_size;
    while (start > 0 && size_t(std::count(tail.begin(), tail.end(), '\n')) <= lines) {
        const off_t size = std::min(kBlock, start);
        start -= size;
        std::string block(static_cast<size_t>(size), '\0');
        if (::pread(fd, block.data(), block.size(), start) != size) return ids;
        tail.insert(0, block);
    }
    size_t end = tail.size();
    for (size_t n = 0; n <= lines && end > 0; ++n) {
        const size_t begin = tail.rfind('\n', end - 1);
        const size_t first = begin == std::string::npos ? 0 : begin + 1;
        // A line that is not one of ours, or torn by a crash, names nothing.
        auto line = nlohmann::json::parse(tail.begin() + first, tail.begin() + end, nullptr, false);
        if (line.is_object() && line.contains("decision_id") && line["decision_id"].is_string())
            ids.insert(line["decision_id"].get<std::string>());
        if (begin == std::string::npos) break;
        end = begin;
    }
    return ids;
}

// Thread-safety: offer() from any thread, write_loop() on the writer thread; queue_ and the
// flags are under mutex_, and already_written_ never changes after open.
class FileSink final : public CountingSink {
  public:
    FileSink(int fd, std::string path, const SinkOptions& options,
             std::unordered_set<std::string> already_written)
        : CountingSink(options.on_delivered),
          fd_(fd),
          path_(std::move(path)),
          options_(options),
          already_written_(std::move(already_written)),
          writer_([this] {
              name_this_thread("file-sink");
              write_loop();
          }) {}

    ~FileSink() override {
        close();
        ::close(fd_);
    }

    bool offer(Delivery delivery) override {
        if (already_written_.count(delivery.decision_id) > 0) {
            ++already_delivered_;
            confirm({delivery.decision_id});
            return true;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (closing_) return false;
            // The batch being written still counts: it is in memory until it is on disk.
            if (queued_ >= options_.queue_capacity) {
                ++queue_full_;
                return false;
            }
            queue_.push_back(std::move(delivery));
            ++queued_;
        }
        wake_.notify_one();
        return true;
    }

  private:
    void shut_down() override {
        std::unique_lock<std::mutex> lock(mutex_);
        closing_ = true;
        wake_.notify_all();
        if (!drained_.wait_for(lock, options_.close_timeout, [this] { return queued_ == 0; })) {
            abandoned_ = true;
            wake_.notify_all();
            spdlog::warn("delivery sink gave up sink=file path={} undelivered={}", path_,
                         queued_.load());
        }
        lock.unlock();
        writer_.join();
    }

    void write_loop() {
        std::deque<Delivery> batch;
        std::string lines;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [this] { return !queue_.empty() || closing_; });
                if (queue_.empty() || abandoned_) return;
                batch.swap(queue_);
            }
            lines.clear();
            for (const Delivery& delivery : batch) {
                lines += delivery_json_text(delivery);
                lines += '\n';
            }
            if (!append_durably(lines)) return;
            delivered_ += batch.size();
            std::vector<std::string> written;
            for (Delivery& delivery : batch) written.push_back(std::move(delivery.decision_id));
            confirm(std::move(written));
            {
                std::lock_guard<std::mutex> lock(mutex_);
                queued_ -= batch.size();
            }
            drained_.notify_all();
            batch.clear();
        }
    }

    // False only when close() gave up while the file system kept failing.
    bool append_durably(const std::string& lines) {
        auto backoff = options_.retry_initial;
        size_t written = 0;
        for (uint64_t attempt = 1;; ++attempt) {
            const char* failed_call = "write";
            int error = EIO;  // a write of nothing sets no errno
            const ssize_t count = ::write(fd_, lines.data() + written, lines.size() - written);
            if (count > 0) {
                // Continuing after a short write, never restarting, keeps every line whole.
                written += static_cast<size_t>(count);
                if (written < lines.size()) continue;
                if (::fsync(fd_) == 0) return true;
                // After a failed fsync the kernel may have dropped the pages it could not
                // write back, so the whole batch is written again: receivers dedupe the
                // lines that did make it on decision_id.
                failed_call = "fsync";
                error = errno;
                written = 0;
            } else if (count < 0) {
                if (errno == EINTR) continue;
                error = errno;
            }
            ++retries_;
            spdlog::warn(
                "delivery retry sink=file path={} call={} error=\"{}\" attempt={} backoff_ms={}",
                path_, failed_call, describe_errno(error), attempt, backoff.count());
            std::unique_lock<std::mutex> lock(mutex_);
            if (wake_.wait_for(lock, backoff, [this] { return abandoned_; })) return false;
            backoff = std::min(backoff * 2, options_.retry_max);
        }
    }

    const int fd_;
    const std::string path_;
    const SinkOptions options_;
    const std::unordered_set<std::string> already_written_;  // read at open, never changed

    std::mutex mutex_;
    std::condition_variable wake_;     // the writer: deliveries queued, closing, abandoned
    std::condition_variable drained_;  // close(): a batch is on disk
    std::deque<Delivery> queue_;
    bool closing_ = false;
    bool abandoned_ = false;

    std::thread writer_;  // last: it starts in the constructor and uses everything above
};

}  // namespace

std::unique_ptr<DeliverySink> open_file_sink(const std::string& path, const SinkOptions& options,
                                             std::string& error) {
    struct stat status {};
    const bool existed = ::stat(path.c_str(), &status) == 0;
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = "delivery sink file " + path + ": " + describe_errno(errno);
        return nullptr;
    }
    if (!existed) sync_parent_directory(path);
    if (existed && ends_with_torn_line(path) && ::write(fd, "\n", 1) != 1) {
        error = "delivery sink file " + path + ": " + describe_errno(errno);
        ::close(fd);
        return nullptr;
    }
    // The sink's own descriptor is write-only.
    const int reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::unordered_set<std::string> already_written;
    if (reader >= 0) {
        already_written = decision_ids_in_tail(reader, options.tail_lines);
        ::close(reader);
    }
    return std::make_unique<FileSink>(fd, path, options, std::move(already_written));
}

}  // namespace journeyd
