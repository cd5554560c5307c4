#include "runtime/admin/admin_server.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio/ssl/context.hpp>
#include <cerrno>
#include <climits>
#include <deque>
#include <nlohmann/json.hpp>
#include <system_error>

#include "runtime/admin/actor_admin_backend.hpp"
#include "state/thread_name.hpp"

namespace journeyd {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often a connection waiting on its client looks whether the server is stopping.
constexpr milliseconds kStopCheck{100};

// Set on the accepting thread while it runs a connection's task only to refuse it:
// cpp-httplib hands the task queue a closure, not the socket, and the closure calls
// process_and_close_socket, which then refuses instead of serving.
thread_local bool t_refusing = false;

void socket_address(socket_t sock, bool peer, std::string& ip, int& port) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    auto* generic = reinterpret_cast<sockaddr*>(&address);
    if ((peer ? ::getpeername(sock, generic, &length) : ::getsockname(sock, generic, &length)) != 0)
        return;
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    if (::getnameinfo(generic, length, host, sizeof host, service, sizeof service,
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return;
    ip = host;
    port = std::atoi(service);
}

// OpenSSL's reason for the last failure on this thread, e.g. "http request" for plain HTTP.
std::string tls_error_reason() {
    const unsigned long code = ERR_get_error();
    if (code == 0) return "unknown TLS error";
    const char* reason = ERR_reason_error_string(code);
    return reason ? reason : "TLS error " + std::to_string(code);
}

// A connection's socket as cpp-httplib's request parser reads it, with one deadline for a
// whole request, the wait for its first byte included. cpp-httplib's own stream times out
// each read alone, so a client sending a byte every few seconds would hold a thread for ever.
// With TLS (accept_tls) the same deadlines hold for the handshake and for each request: the
// socket is then non-blocking and every wait OpenSSL asks for (want read / want write) is a
// poll here, where the deadline and the server's stop are watched.
class DeadlineStream final : public httplib::Stream {
  public:
    DeadlineStream(socket_t sock, milliseconds read_timeout, milliseconds write_timeout,
                   const std::atomic<socket_t>& listener)
        : sock_(sock),
          read_timeout_(read_timeout),
          write_timeout_(write_timeout),
          listener_(listener) {}
    DeadlineStream(const DeadlineStream&) = delete;
    DeadlineStream& operator=(const DeadlineStream&) = delete;
    ~DeadlineStream() override { end_tls(); }

    void start_request() {
        deadline_ = Clock::now() + read_timeout_;
        consumed_ = 0;
        expired_ = false;
    }
    bool expired() const { return expired_; }
    // Bytes of the current request read so far: 0 when the client sent nothing in time.
    size_t consumed() const { return consumed_; }

    // The server side of a TLS handshake, within one read_timeout. False when it failed, ran
    // out of time or the server stopped; `why` then says which, empty for the stop.
    bool accept_tls(SSL_CTX* context, std::string& why) {
        ERR_clear_error();
        ssl_ = SSL_new(context);
        if (!ssl_ || SSL_set_fd(ssl_, sock_) != 1) {
            broken_ = true;
            why = tls_error_reason();
            return false;
        }
        ::fcntl(sock_, F_SETFL, ::fcntl(sock_, F_GETFL) | O_NONBLOCK);
        start_request();
        for (;;) {
            ERR_clear_error();
            const int done = SSL_accept(ssl_);
            if (done == 1) return true;
            const int error = SSL_get_error(ssl_, done);
            if (wait_for_tls(error, deadline_, true)) continue;
            if (expired_)
                why = "no handshake within [admin] read_timeout = " +
                      std::to_string(read_timeout_.count()) + " ms";
            else if (listener_ == INVALID_SOCKET)
                why.clear();
            else if (error == SSL_ERROR_SSL)
                why = tls_error_reason();
            else
                why = "the client closed the connection";
            return false;
        }
    }

    // Bytes decrypted inside OpenSSL, or a record it holds, are there without the socket
    // being readable: poll would wait for the next record.
    bool is_readable() const override {
        return begin_ < end_ || (ssl_ && SSL_has_pending(ssl_)) || wait(POLLIN, deadline_, true);
    }
    bool is_writable() const override {
        return wait(POLLOUT, Clock::now() + write_timeout_, false);
    }

    ssize_t read(char* ptr, size_t size) override {
        if (begin_ == end_) {
            const ssize_t n = ssl_ ? read_tls() : read_plain();
            if (n <= 0) return n;
            begin_ = 0;
            end_ = static_cast<size_t>(n);
        }
        const size_t n = std::min(size, end_ - begin_);
        std::copy_n(buffer_ + begin_, n, ptr);
        begin_ += n;
        consumed_ += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        if (ssl_) return write_tls(ptr, size);
        if (!is_writable()) return -1;
        // Not blocking: cpp-httplib writes the rest in further calls, each with its timeout.
        return ::send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        socket_address(sock_, true, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        socket_address(sock_, false, ip, port);
    }
    socket_t socket() const override { return sock_; }

  private:
    ssize_t read_plain() {
        if (!wait(POLLIN, deadline_, true)) return -1;
        return ::recv(sock_, buffer_, sizeof buffer_, 0);
    }

    ssize_t read_tls() {
        for (;;) {
            ERR_clear_error();
            const int n = SSL_read(ssl_, buffer_, sizeof buffer_);
            if (n > 0) return n;
            const int error = SSL_get_error(ssl_, n);
            if (error == SSL_ERROR_ZERO_RETURN) return 0;  // the client's close_notify
            if (!wait_for_tls(error, deadline_, true)) return -1;
        }
    }

    // SSL_write is retried with the same arguments after a wait, as OpenSSL requires.
    ssize_t write_tls(const char* ptr, size_t size) {
        if (size == 0) return 0;
        const int length = static_cast<int>(std::min<size_t>(size, INT_MAX));
        const Clock::time_point until = Clock::now() + write_timeout_;
        for (;;) {
            ERR_clear_error();
            const int n = SSL_write(ssl_, ptr, length);
            if (n > 0) return n;
            if (!wait_for_tls(SSL_get_error(ssl_, n), until, false)) return -1;
        }
    }

    // Waits for what OpenSSL needs to go on; false for any other error (the connection is
    // then unusable, and gets no close_notify), at `until`, or when the server stops.
    bool wait_for_tls(int error, Clock::time_point until, bool reading) {
        if (error == SSL_ERROR_WANT_READ) return wait(POLLIN, until, reading);
        if (error == SSL_ERROR_WANT_WRITE) return wait(POLLOUT, until, reading);
        broken_ = true;
        return false;
    }

    // One try at close_notify, without waiting: the socket is closed right after either way.
    // The handshake or a fatal error may have left nothing to shut down cleanly.
    void end_tls() {
        if (!ssl_) return;
        if (!broken_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
        SSL_free(ssl_);
        ssl_ = nullptr;
        ERR_clear_error();  // the error queue is the thread's, and the thread serves on
    }

    // False at `until` (a read deadline marks the request expired) or when the server stops.
    bool wait(short events, Clock::time_point until, bool reading) const {
        while (listener_ != INVALID_SOCKET) {
            const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now());
            if (left.count() <= 0) {
                if (reading) expired_ = true;
                return false;
            }
            pollfd watched{sock_, events, 0};
            const int ready =
                ::poll(&watched, 1, static_cast<int>(std::min(left, kStopCheck).count()));
            if (ready > 0) return true;
            if (ready < 0 && errno != EINTR) return false;
        }
        return false;
    }

    socket_t sock_;
    milliseconds read_timeout_;
    milliseconds write_timeout_;
    const std::atomic<socket_t>& listener_;
    SSL* ssl_ = nullptr;   // set by accept_tls: the connection speaks TLS
    bool broken_ = false;  // OpenSSL reported a fatal error: no close_notify
    Clock::time_point deadline_;
    size_t consumed_ = 0;
    mutable bool expired_ = false;
    char buffer_[4096];
    size_t begin_ = 0;
    size_t end_ = 0;
};

// Runs each connection on a thread of its own, up to `limit` at once; threads are made as
// connections need them and kept for later ones. A connection over the limit is refused on
// the accepting thread, which therefore never waits on a client.
class ConnectionQueue final : public httplib::TaskQueue {
  public:
    ConnectionQueue(uint64_t limit, std::shared_ptr<Metrics> metrics)
        : limit_(limit), metrics_(std::move(metrics)) {}

    void enqueue(std::function<void()> fn) override {
        if (!take(fn)) {
            t_refusing = true;
            fn();
            t_refusing = false;
        }
    }

    void shutdown() override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_all();
        for (std::thread& thread : threads_) thread.join();
    }

  private:
    // False when `fn` must be refused: the limit is reached, or no thread can be made.
    bool take(std::function<void()>& fn) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (open_ >= limit_) return false;
        if (idle_ <= jobs_.size()) {
            try {
                threads_.emplace_back([this] { work(); });
            } catch (const std::system_error&) {
                return false;
            }
        }
        ++open_;
        ++metrics_->admin_connections_open;
        jobs_.push_back(std::move(fn));
        ready_.notify_one();
        return true;
    }

    void work() {
        name_this_thread("admin-http");
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            ++idle_;
            ready_.wait(lock, [this] { return !jobs_.empty() || stopping_; });
            --idle_;
            if (jobs_.empty()) return;
            std::function<void()> job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
            lock.lock();
            --open_;
            --metrics_->admin_connections_open;
        }
    }

    const uint64_t limit_;
    const std::shared_ptr<Metrics> metrics_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    uint64_t open_ = 0;  // connections queued or served
    size_t idle_ = 0;    // threads waiting for a connection
    bool stopping_ = false;
};

}  // namespace

// cpp-httplib's request parsing and routing, with its connection handling replaced (see
// docs/architecture.md "Admin port"): its thread pool has a few threads, each blocked as
// long as a slow client keeps sending, so a few dozen half-sent requests starved it.
class AdminHttpServer final : public httplib::Server {
  public:
    AdminHttpServer(std::shared_ptr<Metrics> metrics, uint64_t max_connections,
                    milliseconds read_timeout, std::shared_ptr<asio::ssl::context> tls)
        : metrics_(std::move(metrics)),
          max_connections_(max_connections),
          read_timeout_(read_timeout),
          tls_(std::move(tls)) {
        new_task_queue = [max_connections, metrics = metrics_] {
            return new ConnectionQueue(max_connections, metrics);
        };
    }

    // cpp-httplib listens with a backlog of 5: a burst of connections then has SYNs dropped,
    // and a health check waits out a retransmission of a second or more. Listening again on
    // a listening socket only sets its backlog (Linux).
    void widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }

  private:
    // Overrides cpp-httplib's (private, virtual) handling of an accepted socket; the socket
    // is this function's to close.
    bool process_and_close_socket(socket_t sock) override {
        if (t_refusing)
            refuse(sock);
        else
            serve(sock);
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return true;
    }

    void serve(socket_t sock) {
        const milliseconds write_timeout = std::chrono::seconds(write_timeout_sec_) +
                                           std::chrono::duration_cast<milliseconds>(
                                               std::chrono::microseconds(write_timeout_usec_));
        DeadlineStream stream(sock, read_timeout_, write_timeout, svr_sock_);
        if (tls_ && !accept_tls(stream)) return;
        for (bool open = true; open;) {
            stream.start_request();
            if (!stream.is_readable()) return;  // idle until the deadline, or stopping
            const bool stopping = svr_sock_ == INVALID_SOCKET;
            bool closed = false;
            open = process_request(stream, stopping, closed, nullptr) && !closed && !stopping &&
                   !stream.expired();
            if (stream.expired() && stream.consumed() > 0) {
                metrics_->limit_hits.hit(Limit::read_timeout);
                spdlog::warn(
                    "admin: connection closed: request incomplete after [admin] "
                    "read_timeout = {} ms ({} bytes received)",
                    read_timeout_.count(), stream.consumed());
            }
        }
    }

    // On this connection's thread, so that a client that never completes its handshake holds
    // only its own thread, and that only for read_timeout.
    bool accept_tls(DeadlineStream& stream) {
        // Asked first: once the client has gone, the socket no longer knows its peer.
        std::string ip = "?";
        int port = 0;
        stream.get_remote_ip_and_port(ip, port);
        std::string why;
        if (stream.accept_tls(tls_->native_handle(), why)) return true;
        if (why.empty()) return false;  // the server is stopping
        metrics_->admin_tls_handshake_failures.fetch_add(1);
        spdlog::warn("admin: TLS handshake with {}:{} failed: {}", ip, port, why);
        return false;
    }

    // A 503 the client can read, written without waiting: a new socket's send buffer holds it.
    // With TLS there is no such answer: a TLS 503 needs the handshake, which waits on the client,
    // and this is the accepting thread. The connection is closed unread; the client sees its
    // handshake fail, and the limit hit is counted and logged as without TLS.
    void refuse(socket_t sock) {
        metrics_->limit_hits.hit(Limit::admin_max_connections);
        spdlog::warn("admin: connection refused{}: {} open, [admin] max_connections = {}",
                     tls_ ? " (closed before the TLS handshake)" : "", max_connections_,
                     max_connections_);
        if (tls_) return;
        const std::string body =
            nlohmann::json{{"error", "admin port busy: " + std::to_string(max_connections_) +
                                         " connections open, [admin] max_connections"}}
                .dump();
        const std::string answer =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
        ::send(sock, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }

    std::shared_ptr<Metrics> metrics_;
    const uint64_t max_connections_;
    const milliseconds read_timeout_;
    const std::shared_ptr<asio::ssl::context> tls_;  // null: plain HTTP
};

AdminServer::AdminServer(AdminContext context)
    : metrics_(context.metrics),
      server_(std::make_unique<AdminHttpServer>(context.metrics, context.max_connections,
                                                milliseconds(context.read_timeout), context.tls)) {
    ActorAdminBackendSetup backend;
    backend.system = context.system;
    backend.router = context.router;
    backend.coordinator = context.coordinator;
    backend.cluster = context.cluster;
    backend.store = context.store;
    backend.sink = context.sink;
    backend.forward_timeout = milliseconds(context.forward_timeout);
    AdminApiSetup api;
    api.node_name = context.node_name;
    api.token = context.token;
    api.metrics = context.metrics;
    api.configs = std::move(context.configs);
    api.apply_config = std::move(context.apply_config);
    api.now = context.now;
    api.config_archive = std::move(context.config_archive);
    api_ = std::make_unique<AdminApi>(std::move(api),
                                      std::make_unique<ActorAdminBackend>(std::move(backend)));

    auto handler = [this](const httplib::Request& request, httplib::Response& response) {
        AdminRequest in;
        in.method = request.method;
        in.target = request.target.empty() ? request.path : request.target;
        in.authorization = request.get_header_value("Authorization");
        in.body = request.body;
        const AdminResponse out = api_->handle(in);
        response.status = out.status;
        for (const auto& [name, value] : out.headers) response.set_header(name, value);
        response.set_content(out.body, out.content_type);
    };
    server_->Get(".*", handler);
    server_->Post(".*", handler);
    server_->Put(".*", handler);
    server_->Delete(".*", handler);
    server_->Patch(".*", handler);
    server_->Options(".*", handler);
    // cpp-httplib refuses a longer body with 413 before reading it, so the limit also bounds
    // the memory a request can take; the error handler counts the refusal and says why.
    server_->set_payload_max_length(context.max_body);
    server_->set_error_handler(httplib::Server::HandlerWithResponse(
        [this, max_body = context.max_body](const httplib::Request& request,
                                            httplib::Response& response) {
            if (response.status != 413) return httplib::Server::HandlerResponse::Unhandled;
            metrics_->limit_hits.hit(Limit::max_body);
            spdlog::warn("admin: {} {} refused: body over [admin] max_body = {} bytes",
                         request.method, request.path, max_body);
            const nlohmann::json error = {
                {"error", "request body over " + std::to_string(max_body) + " bytes"}};
            response.set_content(error.dump(), "application/json");
            return httplib::Server::HandlerResponse::Handled;
        }));
    // Small JSON answers on kept-alive connections otherwise wait out Nagle and delayed ACKs.
    server_->set_tcp_nodelay(true);
    // cpp-httplib's default sets SO_REUSEPORT, with which a second journeyd would bind an admin
    // port the first holds and the two would split its requests. SO_REUSEADDR alone still
    // lets a restarted journeyd bind its port through TIME_WAIT.
    server_->set_socket_options([](socket_t socket) {
        const int yes = 1;
        ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
}

AdminServer::~AdminServer() {
    stop();
}

uint16_t AdminServer::start(const std::string& host, uint16_t port) {
    int bound = port == 0 ? server_->bind_to_any_port(host)
                          : (server_->bind_to_port(host, port) ? port : -1);
    if (bound <= 0)
        throw std::runtime_error("admin: cannot bind " + host + ":" + std::to_string(port));
    server_->widen_backlog();
    serving_ = std::thread([this] {
        name_this_thread("admin-accept");
        server_->listen_after_bind();
    });
    sampling_ = std::thread([this] { sample_event_rate(); });
    return static_cast<uint16_t>(bound);
}

void AdminServer::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopped_) return;
        stopped_ = true;
    }
    stopping_.notify_all();
    server_->stop();
    if (serving_.joinable()) serving_.join();
    if (sampling_.joinable()) sampling_.join();
}

void AdminServer::sample_event_rate() {
    name_this_thread("admin-sampler");
    auto previous_time = std::chrono::steady_clock::now();
    uint64_t previous_events = metrics_->events_accepted;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_.wait_for(lock, std::chrono::seconds(1), [this] { return stopped_; })) {
        const auto time = std::chrono::steady_clock::now();
        const uint64_t events = metrics_->events_accepted;
        const double seconds = std::chrono::duration<double>(time - previous_time).count();
        api_->set_events_per_second(static_cast<double>(events - previous_events) / seconds);
        previous_time = time;
        previous_events = events;
    }
}

}  // namespace journeyd
