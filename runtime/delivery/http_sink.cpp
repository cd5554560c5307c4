#include "runtime/delivery/http_sink.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/delivery/http_answer.hpp"
#include "state/stable_hash.hpp"
#include "state/thread_name.hpp"

namespace journeyd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kDeadLetterAnswerBytes = 512;  // of the refusing answer, kept for operators

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
            Delivery delivery;
            {
                std::unique_lock<std::mutex> lock(lane.mutex);
                lane.wake.wait(lock, [&] { return !lane.queue.empty() || lane.closing; });
                if (lane.queue.empty() || lane.abandoned) return;
                delivery = lane.queue.front();
            }
            const Sent sent = send_until_answered(lane, delivery);
            if (sent == Sent::abandoned) return;
            --queued_;
            if (sent == Sent::delivered) {
                ++delivered_;
                confirm({delivery.decision_id});
            }
            {
                std::lock_guard<std::mutex> lock(lane.mutex);
                lane.queue.pop_front();
            }
            lane.idle.notify_all();
        }
    }

    enum class Sent { delivered, dead, abandoned };

    // The same body again and again, never the next one: skipping ahead would reorder the
    // customer's deliveries. Only an answer that refuses it for good moves the lane on without
    // it (a dead letter); abandoned when close() gave up on the endpoint.
    Sent send_until_answered(Lane& lane, const Delivery& delivery) {
        const std::string body = delivery_json_text(delivery);
        auto backoff = options_.retry_initial;
        for (uint64_t attempt = 1;; ++attempt) {
            const httplib::Result result = lane.client->Post(path_, body, "application/json");
            std::optional<std::chrono::milliseconds> asked;
            if (result) {
                const AnswerVerdict verdict =
                    judge_answer(result->status, result->get_header_value("Retry-After"),
                                 result->get_header_value("Journeyd-Failure"),
                                 std::chrono::system_clock::now(), options_.retry_after_max);
                if (verdict.kind == AnswerVerdict::Kind::delivered) return Sent::delivered;
                if (verdict.kind == AnswerVerdict::Kind::dead) {
                    park(lane, delivery, result->status, result->body);
                    return Sent::dead;
                }
                asked = verdict.retry_after;
            }
            ++retries_;
            const auto pause = asked.value_or(backoff);
            spdlog::warn(
                "delivery retry sink=http path={} lane={} failure=\"{}\" attempt={} "
                "backoff_ms={}",
                path_, lane.index,
                result ? "status " + std::to_string(result->status)
                       : httplib::to_string(result.error()),
                attempt, pause.count());
            std::unique_lock<std::mutex> lock(lane.mutex);
            if (lane.wake.wait_for(lock, pause, [&] { return lane.abandoned; }))
                return Sent::abandoned;
            backoff = std::min(backoff * 2, options_.retry_max);
        }
    }

    void park(const Lane& lane, const Delivery& delivery, int status, const std::string& answer) {
        ++dead_letters_;
        spdlog::warn(
            "delivery dead letter sink=http path={} lane={} decision_id={} customer={} "
            "status={}",
            path_, lane.index, delivery.decision_id, delivery.customer, status);
        const TimeMs now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        if (options_.on_dead_letter)
            options_.on_dead_letter(
                {delivery, status, answer.substr(0, kDeadLetterAnswerBytes), now});
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
