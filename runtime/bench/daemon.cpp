#include "runtime/bench/daemon.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/daemon/start_line.hpp"

namespace journeyd::bench {
namespace {

constexpr auto kStartDeadline = std::chrono::seconds(60);
// A drain answers every frame received and commits every live customer's last state.
constexpr auto kStopDeadline = std::chrono::seconds(300);
// Short, because start() reports how long the daemon took to answer.
constexpr auto kStartPollEvery = std::chrono::milliseconds(2);

// In the forked child of a threaded process, before exec: only async-signal-safe calls, so
// everything it needs is prepared before the fork.
[[noreturn]] void exec_journeyd(char* const* argv, const char* directory, const char* log,
                                pid_t bench) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != bench) std::_Exit(127);  // the bench died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // undo the bench's blocked signals
    const int log_fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0 || ::chdir(directory) != 0) std::_Exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv);
    std::_Exit(127);
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

}  // namespace

DaemonChild::DaemonChild(std::string journeyd, const std::string& data_dir, bool keep)
    // Absolute: the child changes into its scratch directory before it execs the binary.
    : journeyd_(std::filesystem::absolute(journeyd).string()),
      scratch_("journey-bench-", keep),
      data_dir_(data_dir.empty() ? scratch_.path() + "/data" : data_dir) {
    std::filesystem::create_directories(data_dir_);  // journeyd creates no parents
    if (::access(journeyd_.c_str(), X_OK) != 0)
        throw std::runtime_error("journeyd not found at " + journeyd_ +
                                 " (build the journeyd target, or pass --journeyd PATH)");
}

DaemonChild::~DaemonChild() {
    if (pid_ <= 0) return;
    stop_process(pid_, kStopDeadline);
    unregister_child(pid_);
}

std::string DaemonChild::ingest() const {
    return "127.0.0.1:" + std::to_string(ingest_port_);
}

std::string DaemonChild::admin() const {
    return "127.0.0.1:" + std::to_string(admin_port_);
}

double DaemonChild::start(const std::string& config_toml) {
    if (pid_ > 0) throw std::logic_error("journeyd is already running");
    const std::string config_path = scratch_.path() + "/journeyd.toml";
    std::ofstream(config_path) << config_toml;
    // Port 0: journeyd binds free ports itself and names them in its start line, logged at
    // info. A port picked here and handed over could be taken by another process meanwhile.
    std::vector<std::string> args = {journeyd_,     "--config",    config_path,   "--data-dir",
                                     data_dir_,     "--ingest",    "127.0.0.1:0", "--admin",
                                     "127.0.0.1:0", "--log-level", "info"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const std::string log = scratch_.path() + "/journeyd.log";
    const size_t run_log_start = log_text().size();  // a restart appends to the earlier runs
    const pid_t bench = ::getpid();
    exec_time_ = std::chrono::steady_clock::now();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
    if (pid_ == 0) exec_journeyd(argv.data(), scratch_.path().c_str(), log.c_str(), bench);
    register_child(pid_);

    // Returns once ready() holds; throws when the child ends first or the start deadline
    // passes.
    const auto await = [&](const auto& ready, const std::string& what) {
        for (;;) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                unregister_child(pid_);
                pid_ = -1;
                throw std::runtime_error("journeyd ended at start (" +
                                         describe_wait_status(status) + "); its log ends:\n" +
                                         log_tail());
            }
            if (ready()) return;
            if (std::chrono::steady_clock::now() - exec_time_ > kStartDeadline)
                throw std::runtime_error("journeyd did not " + what + " within " +
                                         std::to_string(kStartDeadline.count()) +
                                         " s; its log ends:\n" + log_tail());
            std::this_thread::sleep_for(kStartPollEvery);
        }
    };
    std::optional<BoundPorts> ports;
    await(
        [&] { return (ports = bound_ports_in_log(log_text().substr(run_log_start))).has_value(); },
        "log its start line");
    ingest_port_ = ports->ingest;
    admin_port_ = ports->admin;
    httplib::Client admin_client("127.0.0.1", admin_port_);
    admin_client.set_connection_timeout(std::chrono::milliseconds(200));
    await(
        [&] {
            const auto answer = admin_client.Get("/health");
            return answer && answer->status == 200;
        },
        "answer /health");
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - exec_time_).count();
}

double DaemonChild::stop() {
    if (pid_ <= 0) return 0;
    const auto started = std::chrono::steady_clock::now();
    const int exit_code = stop_process(pid_, kStopDeadline);
    unregister_child(pid_);
    pid_ = -1;
    if (exit_code != 0)
        throw std::runtime_error((exit_code < 0
                                      ? std::string("journeyd had to be killed after SIGTERM")
                                      : "journeyd exited with " + std::to_string(exit_code)) +
                                 "; its log ends:\n" + log_tail());
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

std::string DaemonChild::log_text() const {
    std::ifstream in(scratch_.path() + "/journeyd.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string DaemonChild::log_tail() const {
    const std::string log = log_text();
    constexpr size_t kTail = 4000;
    return log.size() > kTail ? log.substr(log.size() - kTail) : log;
}

std::string journeyd_beside_this_program() {
    std::error_code error;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return "journeyd";
    return (self.parent_path() / "journeyd").string();
}

}  // namespace journeyd::bench
