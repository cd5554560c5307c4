// Runs the real journeyd binary for integration tests: on free loopback ports, with its own
// data directory and configuration, logging to a file the test can read. Waits for
// /health with a deadline; stops with SIGTERM (SIGKILL only if it hangs past a deadline).
// Crash tests kill it with SIGKILL and restart it on the same data directory and ports.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/poll.hpp"

namespace journeyd::test {

inline uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

class DaemonProcess {
  public:
    explicit DaemonProcess(const std::string& config_toml) {
        char dir_template[] = "/tmp/journeyd-test-XXXXXX";
        directory_ = ::mkdtemp(dir_template);
        ingest_port_ = free_port();
        admin_port_ = free_port();
        config_path_ = directory_ + "/journeyd.toml";
        std::ofstream(config_path_) << config_toml;
        log_path_ = directory_ + "/journeyd.log";
        start("w");
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

    // SIGSTOP / SIGCONT: a process that hangs but keeps its sockets open.
    void pause() { ::kill(pid_, SIGSTOP); }
    void resume() { ::kill(pid_, SIGCONT); }

    // After stop() or kill_hard(): the same configuration, data directory and ports, so that
    // clients and the test see the same daemon come back. The log keeps the earlier runs.
    void restart() {
        REQUIRE(pid_ <= 0);
        exit_status_ = -1;
        start("a");
    }

    std::string ingest() const { return "127.0.0.1:" + std::to_string(ingest_port_); }
    std::string admin_address() const { return "127.0.0.1:" + std::to_string(admin_port_); }
    httplib::Client admin() const { return httplib::Client("127.0.0.1", admin_port_); }
    const std::string& directory() const { return directory_; }

    std::string log() const {
        std::ifstream in(log_path_);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

  private:
    void start(const char* log_mode) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            const std::string ingest = this->ingest();
            const std::string admin = "127.0.0.1:" + std::to_string(admin_port_);
            const std::string data = directory_ + "/data";
            FILE* log = std::fopen(log_path_.c_str(), log_mode);
            ::dup2(fileno(log), STDOUT_FILENO);
            ::dup2(fileno(log), STDERR_FILENO);
            ::chdir(directory_.c_str());
            ::execl(JOURNEYD_BINARY, JOURNEYD_BINARY, "--config", config_path_.c_str(),
                    "--data-dir", data.c_str(), "--ingest", ingest.c_str(), "--admin",
                    admin.c_str(), "--log-level", "info", static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        const bool healthy = poll_until([&] {
            if (reap()) return true;  // exited early: report below
            auto answer = admin().Get("/health");
            return answer && answer->status == 200;
        });
        INFO(log());
        REQUIRE(exit_status_ == -1);  // still running
        REQUIRE(healthy);
    }

    bool reap() {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
    }

    std::string directory_;
    std::string config_path_;
    std::string log_path_;
    uint16_t ingest_port_ = 0;
    uint16_t admin_port_ = 0;
    pid_t pid_ = -1;
    int exit_status_ = -1;
};

}  // namespace journeyd::test
