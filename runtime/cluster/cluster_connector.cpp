#include "runtime/cluster/cluster_connector.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/io/all.hpp>
#include <cerrno>
#include <cstring>
#include <memory>

#include "actors/messages.hpp"
#include "state/thread_name.hpp"

namespace journeyd {

std::string probe_tcp(const std::string& host, uint16_t port, std::chrono::milliseconds deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
        return "cannot resolve " + host + ": " + ::gai_strerror(rc);
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    std::string why = "no address for " + host;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd =
            ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            why = std::string("socket: ") + std::strerror(errno);
            continue;
        }
        int error = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
        if (error == EINPROGRESS) {
            pollfd writable{fd, POLLOUT, 0};
            const int ready = ::poll(&writable, 1, static_cast<int>(deadline.count()));
            socklen_t length = sizeof error;
            if (ready == 1)
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
            else
                error = ETIMEDOUT;
        }
        ::close(fd);
        if (error == 0) return {};
        why = "TCP connect: " + std::string(std::strerror(error));
    }
    return why;
}

ClusterConnector::ClusterConnector(caf::actor_system& system, std::string self_name,
                                   uint64_t fingerprint, std::chrono::milliseconds timeout)
    : system_(system),
      self_name_(std::move(self_name)),
      fingerprint_(fingerprint),
      timeout_(timeout),
      thread_([this] { run(); }) {}

ClusterConnector::~ClusterConnector() {
    stop();
}

void ClusterConnector::connect(caf::actor peer, ClusterMember member) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
        queue_.push_back({std::move(peer), std::move(member)});
    }
    wake_.notify_one();
}

void ClusterConnector::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        queue_.clear();
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void ClusterConnector::run() {
    name_this_thread("cluster-connect");
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        Attempt next = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        attempt(next);
        lock.lock();
    }
}

void ClusterConnector::attempt(const Attempt& attempt) {
    const ClusterMember& member = attempt.member;
    if (std::string why = probe_tcp(member.host, member.port, timeout_); !why.empty())
        return caf::anon_send(attempt.peer, unreachable_atom::value, why);
    caf::scoped_actor self{system_};
    caf::actor gateway;
    std::string why;
    self->request(system_.middleman().actor_handle(), timeout_, caf::connect_atom::value,
                  member.host, member.port)
        .receive(
            [&](caf::node_id&, caf::strong_actor_ptr& found, std::set<std::string>&) {
                gateway = caf::actor_cast<caf::actor>(found);
                if (!gateway) why = "nothing is published on its middleman port";
            },
            [&](caf::error& error) { why = "middleman connect: " + describe(system_, error); });
    if (!gateway) return caf::anon_send(attempt.peer, unreachable_atom::value, why);
    self->request(gateway, timeout_, hello_atom::value, self_name_, fingerprint_)
        .receive(
            [&](std::string& name, uint64_t fingerprint) {
                caf::anon_send(attempt.peer, connected_atom::value, gateway, name, fingerprint);
            },
            [&](caf::error& error) {
                caf::anon_send(attempt.peer, unreachable_atom::value,
                               "no answer to hello: " + describe(system_, error));
            });
}

}  // namespace journeyd
