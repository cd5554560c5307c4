// Delivery sinks: where send decisions leave journeyd (PROTOCOL.md "Delivery").
//
// Contract for every sink:
// - offer() never blocks and never does I/O on the caller's thread (the coordinator calls
//   it and must keep deciding for other customers whatever the endpoint does). It returns
//   false when the sink's bounded queue is full: the caller keeps the delivery and offers it
//   again later (back-pressure), and queue_full is counted.
// - Deliveries of one customer leave in the order they were offered.
// - A delivery accepted by offer() is delivered at least once: failures are retried with
//   exponential backoff, never dropped; receivers dedupe on decision_id.
// - close() stops accepting, delivers what is queued (giving up on an endpoint that stays
//   down only after `close_timeout`) and joins the sink's threads.
//
// make_sink("file:PATH") appends one JSON object a line and fsyncs once per batch written;
// make_sink("http://HOST:PORT/PATH") POSTs each object as JSON with cpp-httplib.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "state/delivery.hpp"

namespace journeyd {

struct SinkOptions {
    size_t queue_capacity = 10'000;  // deliveries queued in memory, all lanes together
    size_t http_lanes = 4;           // parallel HTTP connections; a customer always uses one
    std::chrono::milliseconds retry_initial{100};
    std::chrono::milliseconds retry_max{10'000};
    std::chrono::milliseconds http_timeout{5'000};
    std::chrono::milliseconds close_timeout{5'000};
};

struct SinkStats {
    uint64_t delivered = 0;   // accepted by the file system / a 2xx answer
    uint64_t retries = 0;     // failed attempts that were retried
    uint64_t queue_full = 0;  // offer() calls refused because the queue was full
    uint64_t queued = 0;      // waiting now
};

class DeliverySink {
  public:
    virtual ~DeliverySink() = default;
    virtual bool offer(Delivery delivery) = 0;
    virtual SinkStats stats() const = 0;
    virtual void close() = 0;
};

// What every sink shares: the counters of SinkStats, and a close() that shuts down once.
class CountingSink : public DeliverySink {
  public:
    SinkStats stats() const final {
        return {delivered_.load(), retries_.load(), queue_full_.load(), queued_.load()};
    }
    void close() final {
        std::call_once(closed_, [this] { shut_down(); });
    }

  protected:
    virtual void shut_down() = 0;

    std::atomic<uint64_t> delivered_{0};
    std::atomic<uint64_t> retries_{0};
    std::atomic<uint64_t> queue_full_{0};
    std::atomic<uint64_t> queued_{0};

  private:
    std::once_flag closed_;
};

// nullptr and `error` set for a spec that is neither file:PATH nor http://HOST:PORT/PATH,
// or a file that cannot be opened for appending.
std::unique_ptr<DeliverySink> make_sink(const std::string& spec, const SinkOptions& options,
                                        std::string& error);

}  // namespace journeyd
