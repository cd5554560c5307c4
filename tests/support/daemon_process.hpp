// Runs the real journeyd binary for integration tests, with its own data directory and
// configuration, logging to a file the test can read. journeyd binds ingest and admin to
// loopback port 0 and the helper reads the ports it got from its start line
// (runtime/daemon/start_line.hpp): a port chosen before journeyd binds it could be taken
// meanwhile by a test running beside it (ctest -j). Waits for /health with a deadline; stops
// with SIGTERM (SIGKILL only if it hangs past a deadline).
// Crash tests kill it with SIGKILL and restart it on the same data directory. A restart asks
// for the ports it had, so clients find it where they left it; if another process took one
// meanwhile, it starts on new ones: tests ask ingest() and admin() again after a restart.
//
// Given a CA file, the admin port is taken to speak HTTPS ([admin] tls_cert / tls_key in the
// configuration) and admin() is an HTTPS client trusting that CA.
//
// Thread-safety: ingest(), admin_address() and admin() may be called from any thread while no
// start or restart is under way; everything else only from the test's thread.
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "runtime/daemon/start_line.hpp"
#include "tests/support/poll.hpp"

namespace journeyd::test {

class DaemonProcess {
  public:
    explicit DaemonProcess(const std::string& config_toml, std::string admin_ca = "")
        : admin_ca_(std::move(admin_ca)) {
        char dir_template[] = "/tmp/journeyd-test-XXXXXX";
        directory_ = ::mkdtemp(dir_template);
        config_path_ = directory_ + "/journeyd.toml";
        std::ofstream(config_path_) << config_toml;
        log_path_ = directory_ + "/journeyd.log";
        require_started(launch(0, 0));
    }

    ~DaemonProcess() {
        stop();
        std::string cleanup = "rm -rf '" + directory_ + "'";
        (void)!std::system(cleanup.c_str());
    }

    // Sends SIGTERM and waits; returns the exit status (or -1 if it had to be killed).
    int stop() {
        if (pid_ <= 0) return exit_status_;
        ::kill(pid_, SIGTERM);
        const bool exited = poll_until([&] { return reap(); }, std::chrono::seconds(40));
        if (!exited) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            exit_status_ = -1;
        }
        pid_ = -1;
        return exit_status_;
    }

    // No drain and no flush: only what the daemon had committed survives, as after a crash.
    void kill_hard() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        exit_status_ = 128 + SIGKILL;
        pid_ = -1;
    }

    // For a daemon expected to end by itself (a test kill point): true once it has, within
    // `limit`.
    bool wait_for_exit(std::chrono::seconds limit) {
        if (pid_ <= 0) return true;
        if (!poll_until([&] { return reap(); }, limit)) return false;
        pid_ = -1;
        return true;
    }

    // SIGHUP: what an operator (or systemd's ExecReload) sends to have the file read again.
    void hang_up() { ::kill(pid_, SIGHUP); }

    // SIGSTOP / SIGCONT: a process that hangs but keeps its sockets open.
    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }

    // After stop() or kill_hard(): the same configuration, data directory and, if they are
    // still free, ports. The log keeps the earlier runs.
    void restart() {
        REQUIRE(pid_ <= 0);
        bool started = launch(ingest_port_, admin_port_);
        if (!started && port_taken()) started = launch(0, 0);
        require_started(started);
    }

    std::string ingest() const { return "127.0.0.1:" + std::to_string(ingest_port_); }
    std::string admin_address() const { return "127.0.0.1:" + std::to_string(admin_port_); }
    httplib::Client admin() const {
        if (admin_ca_.empty()) return httplib::Client("127.0.0.1", admin_port_);
        httplib::Client client("https://127.0.0.1:" + std::to_string(admin_port_));
        client.set_ca_cert_path(admin_ca_);
        return client;
    }
    const std::string& directory() const { return directory_; }

    // A field of /proc/PID/status in KiB, e.g. "VmRSS" or "VmHWM" (the peak); 0 if absent.
    uint64_t status_kib(const std::string& field) const {
        std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1));
        return 0;
    }

    // The value of one series of /metrics, named with its labels as it is exposed
    // ("journeyd_limit_hits_total{limit=\"max_frame\"}"); REQUIREs that it is there.
    uint64_t metric(const std::string& series) const {
        auto answer = admin().Get("/metrics");
        REQUIRE(answer);
        const size_t at = answer->body.find("\n" + series + " ");
        REQUIRE(at != std::string::npos);
        return std::stoull(answer->body.substr(at + series.size() + 2));
    }

    std::string log() const {
        std::ifstream in(log_path_);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

  private:
    // Starts journeyd asking for these ports (0: any free one). True once it has reported the
    // ports it bound; false if it exited first (or never said within the deadline).
    bool launch(uint16_t ingest_port, uint16_t admin_port) {
        exit_status_ = -1;
        run_log_start_ = log().size();
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            const std::string ingest = "127.0.0.1:" + std::to_string(ingest_port);
            const std::string admin = "127.0.0.1:" + std::to_string(admin_port);
            const std::string data = directory_ + "/data";
            FILE* log = std::fopen(log_path_.c_str(), "a");
            ::dup2(fileno(log), STDOUT_FILENO);
            ::dup2(fileno(log), STDERR_FILENO);
            ::chdir(directory_.c_str());
            ::execl(JOURNEYD_BINARY, JOURNEYD_BINARY, "--config", config_path_.c_str(),
                    "--data-dir", data.c_str(), "--ingest", ingest.c_str(), "--admin",
                    admin.c_str(), "--log-level", "info", static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        bool reported = false;
        poll_until([&] {
            reported = read_ports();
            return reported || reap();
        });
        return reported;
    }

    void require_started(bool reported) {
        const auto answers_health = [&] {
            if (reap()) return true;  // exited: reported below
            auto answer = admin().Get("/health");
            return answer && answer->status == 200;
        };
        const bool healthy = reported && poll_until(answers_health);
        INFO(log());
        REQUIRE(exit_status_ == -1);  // still running
        REQUIRE(healthy);
    }

    // Takes the bound ports from this run's start line once it is whole.
    bool read_ports() {
        const std::optional<BoundPorts> ports = bound_ports_in_log(log().substr(run_log_start_));
        if (!ports) return false;
        ingest_port_ = ports->ingest;
        admin_port_ = ports->admin;
        return true;
    }

    // Whether this run ended because a port it asked for was in use.
    bool port_taken() const {
        const std::string run = log().substr(run_log_start_);
        return run.find("ingest: cannot listen on") != std::string::npos ||
               run.find("admin: cannot bind") != std::string::npos;
    }

    bool reap() {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
    }

    std::string admin_ca_;  // empty: the admin port speaks plain HTTP
    std::string directory_;
    std::string config_path_;
    std::string log_path_;
    size_t run_log_start_ = 0;  // where the current run's lines begin in the log
    uint16_t ingest_port_ = 0;
    uint16_t admin_port_ = 0;
    pid_t pid_ = -1;
    int exit_status_ = -1;
};

}  // namespace journeyd::test
