// Loopback ports a program must name before anything binds them: a cluster's middleman ports,
// which every member's configuration lists (journey-bench's cluster mode, tests/cluster_test),
// or a port that must refuse connections until a test starts a server on it. Binding port 0,
// closing it and handing out the number is racy when programs run side by side (ctest -j runs
// journey_bench_smoke beside the integration tests): the kernel may give the same number to the
// next process asking for port 0.
//
// Contract: a reserved port lies just below the kernel's ephemeral range, which the kernel never
// hands out for port 0, and could be bound on 127.0.0.1 when reserve_loopback_port returned it.
// It stays reserved, by an flock'd file in kLoopbackPortLocks, until the calling process exits;
// the programs it forks do not inherit the reservation. Two calls, in one process or in two
// that use this directory, never return the same port. nullopt when no port of the range is
// both unreserved and free.
//
// Thread-safety: reserve_loopback_port may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>

namespace journeyd::bench {

// Named as when only the tests reserved ports: builds of older trees running beside this one
// lock in the same place.
inline constexpr const char* kLoopbackPortLocks = "/tmp/journeyd-test-ports";

std::optional<uint16_t> reserve_loopback_port();

}  // namespace journeyd::bench
