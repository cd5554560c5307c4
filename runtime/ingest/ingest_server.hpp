// The ingest port (docs/protocol.md "Ingest port", docs/architecture.md "Ingest") on
// standalone asio, with I/O threads of its own: the acceptor, and one IngestConnection per
// client. Framing and decoding run on these threads; only the events go to CAF.
//
// Contract: listen() binds (port 0: a free one) and returns the port, or throws
// std::runtime_error naming the address. A connection beyond max_connections is answered one
// error frame naming the limit and closed, logged and counted in Metrics::limit_hits; at most
// kMaxRefusing such answers are under way at once, beyond which a connection is closed
// without one. drain() stops accepting, has every
// connection answer the complete frames it received and close, and returns once all are
// closed (false if `timeout` passed first). The destructor stops the I/O threads.
// Thread-safety: listen() and drain() from one thread (the daemon's), not an I/O thread.
#pragma once

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/ingest_relay.hpp"
#include "runtime/ingest/ingest_connection.hpp"

namespace journeyd {

class IngestServer {
  public:
    // `io_threads` 0: one a core.
    IngestServer(caf::actor_system& system, std::shared_ptr<const IngestContext> context,
                 std::shared_ptr<const IngestAccess> access, size_t io_threads);
    ~IngestServer();
    IngestServer(const IngestServer&) = delete;
    IngestServer& operator=(const IngestServer&) = delete;

    uint16_t listen(const std::string& host, uint16_t port);
    bool drain(std::chrono::milliseconds timeout);

    static constexpr size_t kMaxRefusing = 64;

  private:
    void accept();
    void admit(asio::ip::tcp::socket socket);

    caf::actor_system& system_;
    std::shared_ptr<const IngestContext> context_;
    std::shared_ptr<const IngestAccess> access_;
    std::shared_ptr<IngestConnections> connections_ = std::make_shared<IngestConnections>();
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    asio::ip::tcp::acceptor acceptor_;  // on a strand: drain() closes it from its own thread
    std::vector<std::thread> threads_;
};

}  // namespace journeyd
