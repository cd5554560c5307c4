#include "runtime/bench/process_stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace journeyd::bench {
namespace {

std::string read_proc_file(pid_t pid, const char* name) {
    const std::string path = "/proc/" + std::to_string(pid) + "/" + name;
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty())
        throw std::runtime_error("cannot read " + path + " (has the process ended?)");
    return text.str();
}

// "VmRSS:	  123456 kB" -> bytes; 0 when the field is absent.
uint64_t status_kib_field(const std::string& status, const std::string& field) {
    const size_t at = status.find("\n" + field + ":");
    if (at == std::string::npos) return 0;
    return std::stoull(status.substr(at + field.size() + 2)) * 1024;
}

}  // namespace

ProcessSample sample_process(pid_t pid) {
    ProcessSample sample;
    sample.at = std::chrono::steady_clock::now();
    const std::string status = "\n" + read_proc_file(pid, "status");
    sample.rss_bytes = status_kib_field(status, "VmRSS");
    sample.rss_anon_bytes = status_kib_field(status, "RssAnon");
    sample.peak_rss_bytes = status_kib_field(status, "VmHWM");
    // The command name in parentheses may hold spaces: count fields after its ")".
    const std::string stat = read_proc_file(pid, "stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int number = 3; number <= 15 && fields >> field; ++number) {
        if (number == 14) utime = std::stoull(field);
        if (number == 15) stime = std::stoull(field);
    }
    sample.cpu_seconds =
        static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    return sample;
}

ProcessSample sample_when_settled(pid_t pid, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    ProcessSample previous = sample_process(pid);
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        ProcessSample current = sample_process(pid);
        const uint64_t low = std::min(previous.rss_anon_bytes, current.rss_anon_bytes);
        const uint64_t high = std::max(previous.rss_anon_bytes, current.rss_anon_bytes);
        if (high - low < std::max<uint64_t>(low / 100, 256 * 1024) || current.at >= until)
            return current;
        previous = current;
    }
}

double cpu_percent(const ProcessSample& from, const ProcessSample& to) {
    const double wall = std::chrono::duration<double>(to.at - from.at).count();
    return wall > 0 ? 100.0 * (to.cpu_seconds - from.cpu_seconds) / wall : 0.0;
}

}  // namespace journeyd::bench
