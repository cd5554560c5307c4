#include "runtime/admin/admin_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <nlohmann/json.hpp>

#include "runtime/admin/actor_admin_backend.hpp"

namespace journeyd {

AdminServer::AdminServer(AdminContext context)
    : metrics_(context.metrics), server_(std::make_unique<httplib::Server>()) {
    ActorAdminBackendSetup backend;
    backend.system = context.system;
    backend.router = context.router;
    backend.coordinator = context.coordinator;
    backend.cluster = context.cluster;
    backend.store = context.store;
    backend.sink = context.sink;
    AdminApiSetup api;
    api.node_name = context.node_name;
    api.token = context.token;
    api.metrics = context.metrics;
    api.engine = context.engine;
    api.policy = context.policy;
    api.now = context.now;
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
    serving_ = std::thread([this] { server_->listen_after_bind(); });
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
