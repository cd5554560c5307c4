// Delivery sinks: where send decisions leave journeyd (docs/protocol.md "Delivery").
//
// Contract for every sink:
// - offer() never blocks and never does I/O on the caller's thread (the coordinator calls
//   it and must keep deciding for other customers whatever the endpoint does). It returns
//   false when the sink's bounded queue is full: the caller keeps the delivery and offers it
//   again later (back-pressure), and queue_full is counted.
// - Deliveries of one customer leave in the order they were offered.
// - A delivery accepted by offer() is delivered at least once: failures are retried with
//   exponential backoff, never dropped; receivers dedupe on decision_id. The one exception is
//   an HTTP answer that refuses it for good (runtime/delivery/http_answer.hpp): the sink then
//   hands it to SinkOptions::on_dead_letter, from its own thread, and goes on with the next;
//   the daemon parks it in the store's dead letters and erases it from the outbox.
// - Once deliveries are delivered (on disk / answered 2xx), the sink passes their decision ids
//   to SinkOptions::on_delivered, from its own thread; the daemon erases them from the
//   store's outbox, and whatever is still there after a crash is offered again.
// - The file sink drops, as already delivered, an offered decision id that is among the last
//   lines of its file when it opened (see tail_lines): after a crash, the outbox offers again
//   what was written but not yet confirmed, and that is always the file's newest lines.
// - close() stops accepting, delivers what is queued (giving up on an endpoint that stays
//   down only after `close_timeout`) and joins the sink's threads.
// - Thread-safety: offer(), stats() and close() may be called from any thread, also at once
//   (the coordinator offers, admin threads read stats, the daemon closes).
//
// make_sink("file:PATH") appends one JSON object a line and fsyncs once per batch written;
// make_sink("http://HOST:PORT/PATH") POSTs each object as JSON with cpp-httplib.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "state/pressure/delivery.hpp"

namespace journeyd {

struct SinkOptions {
    size_t queue_capacity = 10'000;  // deliveries queued in memory, all lanes together
    size_t http_lanes = 4;           // parallel HTTP connections; a customer always uses one
    std::chrono::milliseconds retry_initial{100};
    std::chrono::milliseconds retry_max{10'000};
    std::chrono::milliseconds retry_after_max{600'000};  // the longest Retry-After honoured
    std::chrono::milliseconds http_timeout{5'000};
    std::chrono::milliseconds close_timeout{5'000};
    // Lines read back from the end of a file sink's file at open for already delivered ids;
    // 0: queue_capacity × 4, more than can be written and unconfirmed when a crash comes.
    size_t tail_lines = 0;
    std::function<void(std::vector<std::string> decision_ids)> on_delivered;
    std::function<void(DeadLetter dead)> on_dead_letter;
};

struct SinkStats {
    uint64_t delivered = 0;          // accepted by the file system / a 2xx answer
    uint64_t retries = 0;            // failed attempts that were retried
    uint64_t queue_full = 0;         // offer() calls refused because the queue was full
    uint64_t queued = 0;             // waiting now
    uint64_t already_delivered = 0;  // offered again after a restart, found in the file
    uint64_t dead_letters = 0;       // refused for good, handed to on_dead_letter
};

class DeliverySink {
  public:
    virtual ~DeliverySink() = default;
    virtual bool offer(Delivery delivery) = 0;
    virtual SinkStats stats() const = 0;
    virtual void close() = 0;
};

// What every sink shares: the counters of SinkStats, and a close() that shuts down once.
// Thread-safety: the counters are atomics; close() runs shut_down() once (std::call_once),
// whichever threads call it.
class CountingSink : public DeliverySink {
  public:
    SinkStats stats() const final {
        SinkStats stats;
        stats.delivered = delivered_.load();
        stats.retries = retries_.load();
        stats.queue_full = queue_full_.load();
        stats.queued = queued_.load();
        stats.already_delivered = already_delivered_.load();
        stats.dead_letters = dead_letters_.load();
        return stats;
    }
    void close() final {
        std::call_once(closed_, [this] { shut_down(); });
    }

  protected:
    explicit CountingSink(std::function<void(std::vector<std::string>)> on_delivered)
        : on_delivered_(std::move(on_delivered)) {}

    virtual void shut_down() = 0;

    void confirm(std::vector<std::string> decision_ids) {
        if (on_delivered_) on_delivered_(std::move(decision_ids));
    }

    std::atomic<uint64_t> delivered_{0};
    std::atomic<uint64_t> retries_{0};
    std::atomic<uint64_t> queue_full_{0};
    std::atomic<uint64_t> queued_{0};
    std::atomic<uint64_t> already_delivered_{0};
    std::atomic<uint64_t> dead_letters_{0};

  private:
    const std::function<void(std::vector<std::string>)> on_delivered_;
    std::once_flag closed_;
};

// nullptr and `error` set for a spec that is neither file:PATH nor http://HOST:PORT/PATH,
// or a file that cannot be opened for appending.
std::unique_ptr<DeliverySink> make_sink(const std::string& spec, const SinkOptions& options,
                                        std::string& error);

}  // namespace journeyd
