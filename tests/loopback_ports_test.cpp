// Loopback port reservations: free when handed out, never handed out twice, and held by a
// lock that another process (here: another open of the lock file) cannot take.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "runtime/bench/loopback_ports.hpp"

using namespace journeyd::bench;

TEST_CASE("loopback ports: each reservation a port of its own, locked") {
    const auto a = reserve_loopback_port();
    const auto b = reserve_loopback_port();
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*a != *b);
    CHECK(*a >= 1024);

    const std::string lock = std::string(kLoopbackPortLocks) + "/" + std::to_string(*a) + ".lock";
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(::flock(fd, LOCK_EX | LOCK_NB) != 0);
    ::close(fd);
}
