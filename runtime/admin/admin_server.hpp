// The admin port (docs/protocol.md "Admin port"): cpp-httplib's parser, on a thread per
// connection, in front of AdminApi, which holds the HTTP semantics; this class only moves
// requests and answers between the socket and the API, enforces the [admin] limits, each
// counted as a limit hit: max_body (413), max_connections (503 right after accept) and
// read_timeout (the connection closed), and measures the ingest rate that /stats reports,
// once a second. With a TLS context ([admin] tls_cert / tls_key) it speaks HTTPS only: each
// connection's thread does the handshake within read_timeout, then serves as without TLS.
//
// Thread-safety: start() and stop() from the owner's thread; requests run on connection
// threads and the rate on a sampling thread, which share only the thread-safe AdminApi, the
// Metrics atomics and, with stop(), mutex_.
#pragma once

#include <caf/all.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "actors/customer_router.hpp"
#include "actors/metrics.hpp"
#include "runtime/admin/admin_api.hpp"
#include "runtime/delivery/delivery_sink.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/pressure/pressure_policy.hpp"
#include "state/store/record_store.hpp"

namespace asio::ssl {
class context;
}

namespace journeyd {

class AdminHttpServer;

struct AdminContext {
    std::string node_name;
    std::string token;
    caf::actor_system* system = nullptr;
    CustomerRouter router;
    caf::actor coordinator;
    std::function<ClusterView()> cluster;
    std::shared_ptr<Metrics> metrics;
    std::shared_ptr<RecordStore> store;
    std::shared_ptr<DeliverySink> sink;
    std::shared_ptr<const LiveConfigs> configs;
    std::function<ConfigCheck(const std::string& text, const StageCounts& counts)>
        apply_config;  // null: answered 501
    std::function<TimeMs()> now;
    uint64_t max_body = 1u << 20;     // bytes in a request body; a longer one is answered 413
    uint64_t max_connections = 1024;  // connections open at once; one more is answered 503
    DurationMs read_timeout = 5'000;  // for a whole request; then the connection is closed
    // Set: HTTPS only (runtime/tls/tls_context.hpp). Null: plain HTTP.
    std::shared_ptr<asio::ssl::context> tls;
    DurationMs forward_timeout = 10'000;  // [cluster]: what a member takes to answer
    std::shared_ptr<const ConfigArchive> config_archive;
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
    void sample_event_rate();

    std::shared_ptr<Metrics> metrics_;
    std::unique_ptr<AdminApi> api_;
    std::unique_ptr<AdminHttpServer> server_;
    std::thread serving_;
    std::thread sampling_;
    std::mutex mutex_;
    std::condition_variable stopping_;
    bool stopped_ = false;
};

}  // namespace journeyd
