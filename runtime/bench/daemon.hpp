// A real journeyd child process for one benchmark.
//
// The child runs in a scratch directory of its own (removed unless `keep`): its
// configuration, log and delivery file go there, and its store too unless `data_dir` names
// another place. Ingest and admin listen on loopback ports that journeyd picks itself (port
// 0), anew at each start; ingest() and admin() name them once start() has returned.
//
// start(config) writes the configuration, forks and execs journeyd, reads the bound ports from
// its start line (runtime/daemon/start_line.hpp) and returns once GET /health answers 200, with
// the seconds that took from the exec; it throws std::runtime_error with the end of journeyd's
// log when the child exits or does not answer in time. stop() sends SIGTERM, waits for the
// drain, and returns how long that took; it throws when journeyd exits non-zero or has to be
// killed. A restart is stop() then start(), with the same or another configuration, on the same
// data. The destructor stops a child still running, so every exit path of the bench ends its
// daemon (signals: bench_cleanup).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "runtime/bench/cleanup.hpp"

namespace journeyd::bench {

class DaemonChild {
  public:
    // `journeyd`: path of the binary; `data_dir`: empty for "data" inside the scratch
    // directory.
    DaemonChild(std::string journeyd, const std::string& data_dir, bool keep);
    ~DaemonChild();
    DaemonChild(const DaemonChild&) = delete;
    DaemonChild& operator=(const DaemonChild&) = delete;

    double start(const std::string& config_toml);
    double stop();

    pid_t pid() const { return pid_; }
    std::string ingest() const;  // "127.0.0.1:PORT"
    std::string admin() const;
    const std::string& data_dir() const { return data_dir_; }
    // When the last start() forked the child: the zero of "time to serving".
    std::chrono::steady_clock::time_point exec_time() const { return exec_time_; }

  private:
    std::string log_text() const;  // every run's
    std::string log_tail() const;

    std::string journeyd_;
    ScratchDir scratch_;
    std::string data_dir_;
    uint16_t ingest_port_ = 0;
    uint16_t admin_port_ = 0;
    pid_t pid_ = -1;
    std::chrono::steady_clock::time_point exec_time_;
};

// journeyd beside the running executable (/proc/self/exe): where the build puts both.
std::string journeyd_beside_this_program();

}  // namespace journeyd::bench
