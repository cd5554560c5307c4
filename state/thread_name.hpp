// Names the calling thread for operators: `top -H`, `ps -L`, `perf sched` and gdb show it.
// Linux keeps at most 15 characters; longer names are cut, never refused. Thread-safe: it
// only touches the calling thread.
#pragma once

#include <pthread.h>

#include <string>

namespace journeyd {

inline void name_this_thread(const std::string& name) {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace journeyd
