#include "runtime/delivery/http_sink.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "state/stable_hash.hpp"
#include "state/thread_name.hpp"

namespace journeyd {
namespace {

using Clock = std::chrono::steady_clock;

// One customer always maps to one lane, and a lane sends one delivery at a time, oldest
// first: that is what keeps each customer's deliveries in order while lanes run in parallel.
struct Lane {
    size_t index = 0;
    std::mutex mutex;
    std::condition_variable wake;  // the worker: queued, closing, abandoned
    std::condition_variable idle;  // close(): the queue became empty
    // The front stays queued while it is being sent and leaves only on a 2xx answer, so the
    // capacity bounds everything this lane holds in memory.
    std::deque<Delivery> queue;
    bool closing = false;
    bool abandoned = false;
    std::unique_ptr<httplib::Client> client;
    std::thread worker;
};

// Thread-safety: offer() from any thread, send_loop() on each lane's worker; a lane's queue
// and flags are under its own mutex, and lanes_ is never resized.
class HttpSink final : public CountingSink {
  public:
    HttpSink(const std::string& host, int port, std::string path, const SinkOptions& options)
        : CountingSink(options.on_delivered),
          path_(std::move(path)),
          options_(options),
          lane_capacity_(options.queue_capacity / options.http_lanes),
          lanes_(options.http_lanes) {
        for (size_t i = 0; i < lanes_.size(); ++i) {
            Lane& lane = lanes_[i];
            lane.index = i;
            lane.client = std::make_unique<httplib::Client>(host, port);
            lane.client->set_keep_alive(true);
            // Headers and body leave in separate writes; with Nagle's algorithm the body
            // then waits for the server's delayed ACK, about 40 ms per delivery.
            lane.client->set_tcp_nodelay(true);
            lane.client->set_connection_timeout(options.http_timeout);
            lane.client->set_read_timeout(options.http_timeout);
            lane.client->set_write_timeout(options.http_timeout);
        }
        for (Lane& lane : lanes_) lane.worker = std::thread([this, &lane] { send_loop(lane); });
    }

    ~HttpSink() override { close(); }

    bool offer(Delivery delivery) override {
        Lane& lane = lanes_[stable_hash(delivery.customer) % lanes_.size()];
        {
            std::lock_guard<std::mutex> lock(lane.mutex);
            if (lane.closing) return false;
            if (lane.queue.size() >= lane_capacity_) {
                ++queue_full_;
                return false;
            }
            lane.queue.push_back(std::move(delivery));
            ++queued_;
        }
        lane.wake.notify_one();
        return true;
    }

  private:
    void shut_down() override {
        for (Lane& lane : lanes_) {
            std::lock_guard<std::mutex> lock(lane.mutex);
            lane.closing = true;
            lane.wake.notify_all();
        }
        const auto deadline = Clock::now() + options_.close_timeout;
        bool drained = true;
        for (Lane& lane : lanes_) {
            std::unique_lock<std::mutex> lock(lane.mutex);
            drained &= lane.idle.wait_until(lock, deadline, [&] { return lane.queue.empty(); });
        }
        if (!drained) {
            spdlog::warn("delivery sink gave up sink=http path={} undelivered={}", path_,
                         queued_.load());
            for (Lane& lane : lanes_) {
                {
                    std::lock_guard<std::mutex> lock(lane.mutex);
                    lane.abandoned = true;
                    lane.wake.notify_all();
                }
                // Cuts a request in flight short. One that starts right after this still
                // runs to http_timeout before its worker sees `abandoned`.
                lane.client->stop();
            }
        }
        for (Lane& lane : lanes_) lane.worker.join();
    }

    void send_loop(Lane& lane) {
        name_this_thread("http-sink");
        for (;;) {
            std::string body;
            std::string decision_id;
            {
                std::unique_lock<std::mutex> lock(lane.mutex);
                lane.wake.wait(lock, [&] { return !lane.queue.empty() || lane.closing; });
                if (lane.queue.empty() || lane.abandoned) return;
                body = delivery_json_text(lane.queue.front());
                decision_id = lane.queue.front().decision_id;
            }
            if (!send_until_accepted(lane, body)) return;
            ++delivered_;
            --queued_;
            confirm({std::move(decision_id)});
            {
                std::lock_guard<std::mutex> lock(lane.mutex);
                lane.queue.pop_front();
            }
            lane.idle.notify_all();
        }
    }

    // The same body again and again, never the next one: skipping ahead would reorder the
    // customer's deliveries. False only when close() gave up on the endpoint.
    bool send_until_accepted(Lane& lane, const std::string& body) {
        auto backoff = options_.retry_initial;
        for (uint64_t attempt = 1;; ++attempt) {
            const httplib::Result result = lane.client->Post(path_, body, "application/json");
            if (result && result->status >= 200 && result->status < 300) return true;
            ++retries_;
            spdlog::warn(
                "delivery retry sink=http path={} lane={} failure=\"{}\" attempt={} "
                "backoff_ms={}",
                path_, lane.index,
                result ? "status " + std::to_string(result->status)
                       : httplib::to_string(result.error()),
                attempt, backoff.count());
            std::unique_lock<std::mutex> lock(lane.mutex);
            if (lane.wake.wait_for(lock, backoff, [&] { return lane.abandoned; })) return false;
            backoff = std::min(backoff * 2, options_.retry_max);
        }
    }

    const std::string path_;
    const SinkOptions options_;
    const size_t lane_capacity_;
    std::vector<Lane> lanes_;  // never resized: workers hold references to their lane
};

}  // namespace

std::unique_ptr<DeliverySink> make_http_sink(const std::string& host, int port,
                                             const std::string& path, const SinkOptions& options) {
    return std::make_unique<HttpSink>(host, port, path, options);
}

}  // namespace journeyd
