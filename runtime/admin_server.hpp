// The admin port (PROTOCOL.md "Admin port"): HTTP/1.1 with cpp-httplib on its own threads.
//
// Every answer is read live from the actors (customer state from the customer's actor,
// decisions from the coordinator), asked with a bounded wait so a stuck actor yields a 503,
// never a hung operator. When a token is configured every endpoint but /health requires
// `Authorization: Bearer <token>`, compared in constant time. Errors are JSON
// {"error": "..."} with 400 (bad JSON or event), 401, 404 (unknown path or customer),
// 405 (known path, wrong method), 503 (actor did not answer). Customer ids are taken from
// the raw request target and URL-decoded segment by segment, so ids holding "/" work
// when encoded as %2F.
#pragma once

#include <caf/all.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "actors/customer_shard.hpp"
#include "actors/metrics.hpp"
#include "runtime/delivery_sink.hpp"
#include "state/journey_engine.hpp"
#include "state/pressure_policy.hpp"
#include "state/record_store.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace journeyd {

struct AdminContext {
    std::string node_name;
    std::string token;
    caf::actor_system* system = nullptr;
    ShardRouter router;
    caf::actor coordinator;
    std::shared_ptr<Metrics> metrics;
    std::shared_ptr<RecordStore> store;
    std::shared_ptr<DeliverySink> sink;
    std::shared_ptr<const JourneyEngine> engine;
    PressurePolicy policy;
    std::function<TimeMs()> now;
};

class AdminServer {
  public:
    explicit AdminServer(AdminContext context);
    ~AdminServer();

    // Binds host:port (0: any free port) and serves; returns the bound port, throws
    // std::runtime_error when the address cannot be bound.
    uint16_t start(const std::string& host, uint16_t port);
    void stop();

  private:
    void dispatch(const httplib::Request& request, httplib::Response& response);
    void post_event(const httplib::Request& request, httplib::Response& response,
                    const std::string& customer);
    nlohmann::json stored_customer_json(const std::string& id) const;
    void sample_event_rate();

    AdminContext context_;
    std::unique_ptr<httplib::Server> server_;
    std::thread serving_;
    std::thread sampling_;
    std::mutex mutex_;
    std::condition_variable stopping_;
    bool stopped_ = false;
    double events_per_second_ = 0;
};

}  // namespace journeyd
