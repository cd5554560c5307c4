// What a process uses, read from /proc/PID: resident memory from /proc/PID/status (VmRSS;
// RssAnon, its anonymous part: the heap and stacks, without the mapped LMDB file and
// binaries; VmHWM, the peak VmRSS of the process so far) and CPU time from /proc/PID/stat
// (utime + stime).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>

namespace journeyd::bench {

struct ProcessSample {
    uint64_t rss_bytes = 0;
    uint64_t rss_anon_bytes = 0;
    uint64_t peak_rss_bytes = 0;
    double cpu_seconds = 0;  // user + system, all threads
    std::chrono::steady_clock::time_point at;
};

// Throws std::runtime_error when the process is gone or /proc cannot be read.
ProcessSample sample_process(pid_t pid);

// A sample once memory has stopped moving: taken every 250 ms until RssAnon changed by
// less than 1% (or 256 KiB) since the previous one, or `deadline` passed. Memory measured
// right after a burst of work still holds messages in flight and freshly freed buffers.
ProcessSample sample_when_settled(pid_t pid, std::chrono::milliseconds deadline);

// CPU used between two samples of one process, in % of one core (200% = both of two).
double cpu_percent(const ProcessSample& from, const ProcessSample& to);

}  // namespace journeyd::bench
