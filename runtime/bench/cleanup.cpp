#include "runtime/bench/cleanup.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace journeyd::bench {
namespace {

constexpr auto kStopDeadlineOnSignal = std::chrono::seconds(10);

struct Registry {
    std::mutex mutex;
    std::set<pid_t> children;
    std::set<std::string> directories;
};

Registry& registry() {
    static Registry instance;
    return instance;
}

void remove_directory(const std::string& path) {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
}

void undo_everything_and_exit(int signal_number) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    std::cerr << "journey-bench: " << strsignal(signal_number)
              << ", stopping journeyd and removing scratch directories\n";
    for (pid_t child : r.children) stop_process(child, kStopDeadlineOnSignal);
    for (const std::string& directory : r.directories) remove_directory(directory);
    std::_Exit(128 + signal_number);
}

}  // namespace

void install_signal_cleanup() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread([signals] {
        int received = 0;
        if (sigwait(&signals, &received) == 0) undo_everything_and_exit(received);
    }).detach();
}

void register_child(pid_t pid) {
    std::lock_guard<std::mutex> lock(registry().mutex);
    registry().children.insert(pid);
}

void unregister_child(pid_t pid) {
    std::lock_guard<std::mutex> lock(registry().mutex);
    registry().children.erase(pid);
}

int stop_process(pid_t pid, std::chrono::milliseconds deadline) {
    ::kill(pid, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
        int status = 0;
        const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
        if (reaped == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (reaped < 0) return -1;  // reaped by another thread meanwhile
        if (std::chrono::steady_clock::now() >= until) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
}

ScratchDir::ScratchDir(const std::string& prefix, bool keep) : keep_(keep) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
        throw std::runtime_error("cannot create a directory like " + pattern + ": " +
                                 std::strerror(errno));
    path_ = pattern;
    if (keep_) return;
    std::lock_guard<std::mutex> lock(registry().mutex);
    registry().directories.insert(path_);
}

ScratchDir::~ScratchDir() {
    if (keep_) return;
    remove_directory(path_);
    std::lock_guard<std::mutex> lock(registry().mutex);
    registry().directories.erase(path_);
}

}  // namespace journeyd::bench
