// Running a program to its end and reading a socket to its close, for the tests that watch
// journeyd, openssl or journeyctl from outside.
//
// Contract: run_command runs `command` with sh, stderr merged into stdout, and returns its
// exit status (-1 when a signal ended it) and its output. read_until_closed reads `fd` until
// the peer closes it or `timeout` passes. Thread-safety: none needed; each call is separate.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <utility>

namespace journeyd::test {

inline std::pair<int, std::string> run_command(const std::string& command) {
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(pipe);
    std::string output;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// What the peer sends on `fd` until it closes it, or until `timeout` passes (then `closed` is
// false).
inline std::string read_until_closed(int fd, std::chrono::milliseconds timeout, bool& closed) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string received;
    char buffer[4096];
    closed = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        pollfd readable{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
            return received;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            closed = true;
            return received;
        }
        received.append(buffer, static_cast<size_t>(n));
    }
}

}  // namespace journeyd::test
