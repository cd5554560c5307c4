#include "runtime/bench/load.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <stdexcept>
#include <thread>

#include "runtime/client/ingest_client.hpp"

namespace journeyd::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Long enough for a commit behind a full pipeline on a loaded machine; a daemon silent
// longer than this is stuck, and the bench says so.
constexpr auto kIoTimeout = std::chrono::seconds(60);

struct InFlight {
    Clock::time_point sent;
    uint32_t events = 0;
};

struct ConnectionOutcome {
    LoadResult counts;
    Clock::time_point last_answer;
    std::string error;
};

class Connection {
  public:
    Connection(const LoadPlan& plan, const std::string& ingest, FrameSource& source,
               Clock::time_point start, ConnectionOutcome& out)
        : plan_(plan),
          source_(source),
          start_(start),
          stop_at_(plan.duration.count() > 0 ? start + plan.duration : Clock::time_point::max()),
          rate_(plan.events_per_second / static_cast<double>(plan.connections)),
          client_(IngestClient::connect(ingest, kIoTimeout)),
          out_(out) {}

    void run() {
        Frame frame;
        bool exhausted = false;
        for (;;) {
            const Clock::time_point now = Clock::now();
            if (exhausted || now >= stop_at_) break;
            if (in_flight_.size() >= plan_.pipeline) {
                collect_answer();
                continue;
            }
            if (rate_ > 0) {
                const Clock::time_point due =
                    start_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(scheduled_events_ / rate_));
                if (now < due) {
                    wait_until(std::min(due, stop_at_));
                    continue;
                }
            }
            if (!source_.next(frame)) {
                exhausted = true;
                continue;
            }
            client_.send_frame(frame.body);
            in_flight_.push_back({Clock::now(), frame.events});
            scheduled_events_ += frame.events;
            ++out_.counts.frames;
            out_.counts.events_sent += frame.events;
        }
        while (!in_flight_.empty()) collect_answer();
    }

  private:
    // Until `when`, collecting answers that arrive meanwhile.
    void wait_until(Clock::time_point when) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now());
        if (in_flight_.empty()) {
            std::this_thread::sleep_until(when);
        } else if (client_.response_arrives_within(std::max(left, std::chrono::milliseconds(0)))) {
            collect_answer();
        }
    }

    void collect_answer() {
        const nlohmann::json answer = client_.read_response();
        const Clock::time_point now = Clock::now();
        const InFlight frame = in_flight_.front();
        in_flight_.pop_front();
        out_.last_answer = now;
        out_.counts.frame_latency_ms.push_back(
            std::chrono::duration<double, std::milli>(now - frame.sent).count());
        if (!answer.contains("accepted")) {  // {"ok": false, "error"}: the whole frame
            out_.counts.rejected += frame.events;
            return;
        }
        out_.counts.accepted += answer.value("accepted", uint64_t{0});
        out_.counts.duplicates += answer.value("duplicates", uint64_t{0});
        out_.counts.rejected += answer.value("errors", nlohmann::json::array()).size();
    }

    const LoadPlan& plan_;
    FrameSource& source_;
    const Clock::time_point start_;
    const Clock::time_point stop_at_;
    const double rate_;  // events per second on this connection; 0: unpaced
    IngestClient client_;
    ConnectionOutcome& out_;
    std::deque<InFlight> in_flight_;
    double scheduled_events_ = 0;
};

}  // namespace

std::optional<double> LoadResult::latency_percentile(double q) const {
    if (frame_latency_ms.empty()) return std::nullopt;
    const size_t rank = static_cast<size_t>(std::ceil(q * frame_latency_ms.size()));
    return frame_latency_ms[std::clamp<size_t>(rank, 1, frame_latency_ms.size()) - 1];
}

LoadResult run_load(const LoadPlan& plan, const FrameSources& sources) {
    if (plan.connections == 0 || plan.pipeline == 0 || plan.ingests.empty())
        throw std::runtime_error("connections, pipeline and ingest addresses: at least 1 each");
    std::vector<std::unique_ptr<FrameSource>> source;
    for (size_t c = 0; c < plan.connections; ++c) source.push_back(sources(c));
    std::vector<ConnectionOutcome> outcomes(plan.connections);
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> threads;
    for (size_t c = 0; c < plan.connections; ++c)
        threads.emplace_back([&, c] {
            try {
                Connection(plan, plan.ingests[c % plan.ingests.size()], *source[c], start,
                           outcomes[c])
                    .run();
            } catch (const std::exception& e) {
                outcomes[c].error = e.what();
            }
        });
    for (std::thread& t : threads) t.join();

    LoadResult total;
    Clock::time_point last_answer = start;
    for (ConnectionOutcome& o : outcomes) {
        if (!o.error.empty()) throw std::runtime_error("load generator: " + o.error);
        total.frames += o.counts.frames;
        total.events_sent += o.counts.events_sent;
        total.accepted += o.counts.accepted;
        total.duplicates += o.counts.duplicates;
        total.rejected += o.counts.rejected;
        total.frame_latency_ms.insert(total.frame_latency_ms.end(),
                                      o.counts.frame_latency_ms.begin(),
                                      o.counts.frame_latency_ms.end());
        last_answer = std::max(last_answer, o.last_answer);
    }
    std::sort(total.frame_latency_ms.begin(), total.frame_latency_ms.end());
    total.seconds = std::chrono::duration<double>(last_answer - start).count();
    return total;
}

}  // namespace journeyd::bench
