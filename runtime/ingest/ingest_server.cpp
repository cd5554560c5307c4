#include "runtime/ingest/ingest_server.hpp"

#include <spdlog/spdlog.h>
#include <future>

#include "state/thread_name.hpp"

namespace journeyd {

IngestServer::IngestServer(caf::actor_system& system, std::shared_ptr<const IngestContext> context,
                           std::shared_ptr<const IngestAccess> access, size_t io_threads)
    : system_(system),
      context_(std::move(context)),
      access_(std::move(access)),
      work_(asio::make_work_guard(io_)),
      acceptor_(asio::make_strand(io_)) {
    if (io_threads == 0) io_threads = std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < io_threads; ++i)
        threads_.emplace_back([this, i] {
            name_this_thread("ingest-" + std::to_string(i));
            io_.run();
        });
}

IngestServer::~IngestServer() {
    std::unordered_map<IngestConnection*, std::shared_ptr<IngestConnection>> left;
    {
        // From here on the relays post nothing: the io_context goes with this object.
        std::lock_guard<std::mutex> lock(connections_->mutex);
        connections_->stopped = true;
    }
    work_.reset();
    io_.stop();
    for (std::thread& thread : threads_) thread.join();
    // Connections that did not drain in time end here, before the io_context their sockets use.
    std::lock_guard<std::mutex> lock(connections_->mutex);
    left.swap(connections_->open);
}

uint16_t IngestServer::listen(const std::string& host, uint16_t port) {
    try {
        asio::ip::tcp::resolver resolver(io_);
        const auto endpoints =
            resolver.resolve(host, std::to_string(port), asio::ip::tcp::resolver::passive);
        const asio::ip::tcp::endpoint endpoint = endpoints.begin()->endpoint();
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen();
        const uint16_t bound = acceptor_.local_endpoint().port();
        asio::post(acceptor_.get_executor(), [this] { accept(); });
        return bound;
    } catch (const std::system_error& e) {
        throw std::runtime_error("ingest: cannot listen on " + host + ":" + std::to_string(port) +
                                 ": " + e.what());
    }
}

void IngestServer::accept() {
    acceptor_.async_accept(asio::make_strand(io_),
                           [this](const asio::error_code& error, asio::ip::tcp::socket socket) {
                               if (error == asio::error::operation_aborted || !acceptor_.is_open())
                                   return;
                               if (!error) admit(std::move(socket));
                               accept();
                           });
}

void IngestServer::admit(asio::ip::tcp::socket socket) {
    std::unique_lock<std::mutex> lock(connections_->mutex);
    if (connections_->draining) return;  // accepted as the drain began: it will not be read
    const size_t open = connections_->open.size() - connections_->refusing;
    std::string refusal;
    if (open >= context_->limits.max_connections) {
        context_->metrics->limit_hits.hit(Limit::max_connections);
        spdlog::warn("ingest: connection refused: {} open, [ingest] max_connections = {}", open,
                     context_->limits.max_connections);
        if (connections_->refusing >= kMaxRefusing) return;
        refusal = "too many connections: " + std::to_string(open) +
                  " open, [ingest] max_connections = " +
                  std::to_string(context_->limits.max_connections) + "; closing the connection";
        ++connections_->refusing;
    }
    auto connection = std::make_shared<IngestConnection>(std::move(socket), context_, access_,
                                                         connections_, system_, std::move(refusal));
    connections_->open.emplace(connection.get(), connection);
    lock.unlock();
    connection->start();
}

bool IngestServer::drain(std::chrono::milliseconds timeout) {
    std::promise<void> closed;
    asio::post(acceptor_.get_executor(), [this, &closed] {
        asio::error_code ignored;
        acceptor_.close(ignored);
        closed.set_value();
    });
    closed.get_future().wait();
    std::unique_lock<std::mutex> lock(connections_->mutex);
    connections_->draining = true;
    for (auto& [raw, connection] : connections_->open) connection->drain();
    return connections_->ended.wait_for(lock, timeout, [&] { return connections_->open.empty(); });
}

}  // namespace journeyd
