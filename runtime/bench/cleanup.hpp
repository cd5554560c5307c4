// What journey-bench must undo however it ends: the journeyd processes it started and the
// scratch directories it made.
//
// Ordinary exits, exceptions included, undo through the owners' destructors (DaemonChild,
// ScratchDir). For SIGINT, SIGTERM and SIGHUP, install_signal_cleanup() starts a thread
// that stops every child still registered (SIGTERM, then SIGKILL after a deadline),
// removes the registered directories and exits with 128 + the signal. A child also gets
// PR_SET_PDEATHSIG (see DaemonChild), so even a SIGKILLed bench leaves no daemon behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace journeyd::bench {

// Call first in main, before any other thread starts: the signals are blocked in every
// thread but the watcher.
void install_signal_cleanup();

void register_child(pid_t pid);
void unregister_child(pid_t pid);

// Sends SIGTERM and waits up to `deadline` for the process to end, then SIGKILLs it.
// Returns its exit code (128 + signal when a signal ended it), or -1 when it had to be
// killed or was already reaped elsewhere.
int stop_process(pid_t pid, std::chrono::milliseconds deadline);

// A fresh directory under the system's temporary directory ($TMPDIR, else /tmp), removed
// with everything in it when the object goes, unless `keep`.
class ScratchDir {
  public:
    ScratchDir(const std::string& prefix, bool keep);
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::string& path() const { return path_; }

  private:
    std::string path_;
    bool keep_;
};

}  // namespace journeyd::bench
