// Ports a test must name before anything binds them: the cluster's middleman ports, which
// every member's configuration lists, or a port that must refuse connections until the test
// starts a server on it. Binding port 0, closing it and handing out the number is racy under
// ctest -j: the kernel may give the same number to the next process asking for port 0. These
// come from just below the kernel's ephemeral range, which it never hands out, and each is
// reserved across test processes by an flock'd file in /tmp/journeyd-test-ports/, held until
// the test process exits. A port something else already uses is skipped. Two calls, in one
// process or in two, never return the same port.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>

namespace journeyd::test {

// Whether 127.0.0.1:port can be bound now. Without SO_REUSEADDR, so that a port still holding
// connections in TIME_WAIT fails too: whatever options its user binds with, it will succeed.
inline bool loopback_port_bindable(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return bound;
}

inline uint16_t reserve_port() {
    const std::string directory = "/tmp/journeyd-test-ports";
    ::mkdir(directory.c_str(), 0777);  // already there: as good
    int ephemeral_low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
    const int first = std::max(1024, ephemeral_low - 12000);
    const int count = ephemeral_low - first;
    REQUIRE(count > 0);
    // Processes starting together begin at different places, so they seldom meet a lock.
    const int offset = static_cast<int>(std::random_device{}() % static_cast<unsigned>(count));
    for (int i = 0; i < count; ++i) {
        const int port = first + (offset + i) % count;
        const std::string lock = directory + "/" + std::to_string(port) + ".lock";
        // Close-on-exec: a journeyd the test forks must not inherit, and outlive it with, the
        // reservation. Read-only: a lock file another user created can still be locked.
        const int fd = ::open(lock.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            loopback_port_bindable(static_cast<uint16_t>(port)))
            return static_cast<uint16_t>(port);  // fd stays open: it holds the reservation
        ::close(fd);
    }
    FAIL("no port of " << first << ".." << ephemeral_low - 1 << " is free (locks in " << directory
                       << ")");
    return 0;
}

}  // namespace journeyd::test
