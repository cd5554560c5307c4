// Ports a test must name before anything binds them: the cluster's middleman ports, which
// every member's configuration lists, or a port that must refuse connections until the test
// starts a server on it. runtime/bench/loopback_ports.hpp reserves them (journey-bench shares
// the reservations, running beside the tests under ctest -j); each is held until the test
// process exits, and a test fails when none is left.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>

#include "runtime/bench/loopback_ports.hpp"

namespace journeyd::test {

inline uint16_t reserve_port() {
    const std::optional<uint16_t> port = bench::reserve_loopback_port();
    INFO("every port below the ephemeral range is in use or locked in "
         << bench::kLoopbackPortLocks);
    REQUIRE(port);
    return *port;
}

}  // namespace journeyd::test
