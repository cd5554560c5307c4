// Running a program to its end, for the tests that watch journeyd, openssl or journeyctl from
// outside.
//
// Contract: run_command runs `command` with sh, stderr merged into stdout, and returns its
// exit status (-1 when a signal ended it) and its output. Thread-safety: none needed; each
// call is separate.
#pragma once

#include <sys/wait.h>

#include <catch2/catch.hpp>
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

}  // namespace journeyd::test
