// The measurements of journey-bench. Each returns a Report (bench_report.hpp) with its
// figures and the sanity checks --check applies, and throws std::runtime_error when it
// cannot measure at all (journeyd does not start, a connection fails, a deadline passes).
// Modes that start journeyd stop it on every path, and remove their scratch directories
// unless --keep.
//
// limit    the ceiling of this machine: one thread decodes pre-encoded batches of the
//          marketplace mix (decode_request_body) and applies them to a JourneyEngine and a
//          PressureLedger, as journeyd's actors do, without actors, sockets or disk.
// ingest   a real journeyd on the default journey, durable store on, driven over loopback:
//          acknowledged events/s, ack latency per frame, event->decision from journeyd's
//          histogram, daemon CPU (also per event) and memory; then the same at half the
//          measured peak. Each run lasts `seconds`, or sends exactly `events`.
// actors   memory per live customer actor, and what remains per customer once passivated;
//          on the timer journey without timers (no programs), or on the default journey,
//          whose programs leave each customer a contact history and decision log.
// timers   memory per pending timer (customers live; then passivated, so that only the
//          store's timer index holds them) and how late timers fire.
// restart  time from exec to serving for a store of N customers with pending timers; the
//          store's size; optionally RSS once some of them are live again.
// soak     whether memory stays flat while N distinct customers of the default journey stream
//          through journeyd with passivation on: RSS at 10%, 20%, 50% and 100% of N.
// cluster  N journeyd nodes as one cluster on loopback, for N = 1, 2, 3: the ingest
//          workload over the same connections spread over the nodes, so most events are
//          forwarded to their owner; events/s, ack latency, the share forwarded, CPU, RSS,
//          and the same with clients that send each event to its owner's node.
// identify N known and N anonymous customers; merges/s of identify events merging each
//          anonymous id into a known customer, and the CPU per event of events sent under an
//          alias against events sent under the canonical id.
// decisioning  as limit, the same frames under the marketplace journey without segments and
//          actions, with `segments` generated segments, and with `actions` generated actions
//          chosen on every view: the cost per event of each; then decisions/s of next best
//          actions alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/bench/report.hpp"

namespace journeyd::bench {

// Every flag of every mode; each mode reads those that apply to it.
struct BenchOptions {
    std::string journeyd;  // the binary to start
    std::string data_dir;  // empty: a scratch directory
    bool keep = false;     // keep scratch directories
    size_t connections = 4;
    size_t pipeline = 32;          // frames in flight per connection
    size_t batch = 100;            // events per frame
    uint64_t n = 1'000'000;        // limit: events; actors, timers, restart, soak: customers
    double seconds = 20;           // ingest: length of each run
    uint64_t events = 0;           // ingest: events each run sends instead (0: `seconds`)
    size_t customers = 1'000'000;  // limit, ingest: the Zipf population
    double zipf = 1.0;
    std::string arbitration_window = "0s";
    size_t segments = 0;  // limit, ingest, decisioning: generated segments every event re-evaluates
    size_t actions = 20;  // decisioning: generated next best actions
    bool no_half = false;
    std::string connect;  // ingest: a running journeyd's ingest HOST:PORT instead of starting one
    std::string admin;    // with connect: its admin HOST:PORT
    int pid = 0;          // with connect: its process id, for CPU and memory (0: not reported)
    std::string idle_after =
        "1s";  // actors, timers, soak: passivation (actors, timers: in the passivated runs)
    std::string journey = "timer";  // actors: "timer" (no programs) or "default" (marketplace)
    std::string timer_after;        // timers: the earliest timer; empty: from n
    std::string timer_spread = "30s";
    uint64_t seed = 1;
    std::vector<size_t> nodes = {1, 2, 3};  // cluster: the cluster sizes, in turn
    double cluster_seconds = 10;            // cluster: length of each run
    bool no_owner_aware = false;            // cluster: skip the owner-aware runs
    // restart: passivation while populating; the default keeps every customer live, as the
    // figures before the option was added did.
    std::string restart_idle_after = "10m";
    uint64_t live = 0;  // restart: stored customers activated after the restart (0: none)
};

Report run_limit(const BenchOptions& options);
Report run_ingest(const BenchOptions& options);
Report run_actors(const BenchOptions& options);
Report run_timers(const BenchOptions& options);
Report run_restart(const BenchOptions& options);
Report run_identify(const BenchOptions& options);
Report run_cluster(const BenchOptions& options);
Report run_soak(const BenchOptions& options);
Report run_decisioning(const BenchOptions& options);

}  // namespace journeyd::bench
