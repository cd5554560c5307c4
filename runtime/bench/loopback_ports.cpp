#include "runtime/bench/loopback_ports.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <string>

namespace journeyd::bench {
namespace {

// Whether 127.0.0.1:port can be bound now. Without SO_REUSEADDR, so that a port still holding
// connections in TIME_WAIT fails too: whatever options its user binds with, it will succeed.
bool loopback_port_bindable(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return bound;
}

}  // namespace

std::optional<uint16_t> reserve_loopback_port() {
    const std::string directory = kLoopbackPortLocks;
    ::mkdir(directory.c_str(), 0777);  // already there: as good
    int ephemeral_low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
    const int first = std::max(1024, ephemeral_low - 12000);
    const int count = ephemeral_low - first;
    if (count <= 0) return std::nullopt;
    // Processes starting together begin at different places, so they seldom meet a lock.
    const int offset = static_cast<int>(std::random_device{}() % static_cast<unsigned>(count));
    for (int i = 0; i < count; ++i) {
        const int port = first + (offset + i) % count;
        const std::string lock = directory + "/" + std::to_string(port) + ".lock";
        // Close-on-exec: a journeyd the caller forks must not inherit, and outlive it with, the
        // reservation. Read-only: a lock file another user created can still be locked.
        const int fd = ::open(lock.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) continue;
        // flock locks an open file description: a second open() of the same file, in this
        // process too, cannot lock it while this one holds it.
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            loopback_port_bindable(static_cast<uint16_t>(port)))
            return static_cast<uint16_t>(port);  // fd stays open: it holds the reservation
        ::close(fd);
    }
    return std::nullopt;
}

}  // namespace journeyd::bench
