// journey-bench: throughput, latency and memory of journeyd (docs/protocol.md "Binaries").
// One subcommand per measurement (runtime/bench/modes.hpp); each prints a table, or with
// --json one JSON object. Exit codes: 0 measured (and, with --check, every figure sane);
// 1 the measurement failed, or --check found a figure that makes no sense; CLI11's codes
// for usage errors.
#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <map>

#include "runtime/bench/cleanup.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/modes.hpp"

using namespace journeyd::bench;

int main(int argc, char** argv) {
    install_signal_cleanup();
    BenchOptions o;
    o.journeyd = journeyd_beside_this_program();
    bool json = false, check = false;

    CLI::App app{"journey-bench: throughput, latency and memory of journeyd"};
    app.require_subcommand(1);
    const auto output_flags = [&](CLI::App* mode) {
        mode->add_flag("--json", json, "print one JSON object instead of a table");
        mode->add_flag("--check", check,
                       "exit 1 unless the figures are sane (counts and memory positive, "
                       "percentiles ordered); never a speed threshold");
    };
    // A mode starting several daemons gives each a temporary data directory: no --data-dir.
    const auto daemon_flags = [&](CLI::App* mode, bool data_dir = true) {
        mode->add_option("--journeyd", o.journeyd, "journeyd binary to start")
            ->capture_default_str();
        if (data_dir)
            mode->add_option("--data-dir", o.data_dir,
                             "journeyd's data directory (default: a fresh temporary one)");
        mode->add_flag("--keep", o.keep, "keep temporary directories (config, log, data)");
    };
    const auto load_flags = [&](CLI::App* mode) {
        mode->add_option("--connections", o.connections, "ingest connections")
            ->capture_default_str()
            ->check(CLI::PositiveNumber);
        mode->add_option("--pipeline", o.pipeline, "frames in flight per connection")
            ->capture_default_str()
            ->check(CLI::PositiveNumber);
    };
    const auto batch_flag = [&](CLI::App* mode) {
        mode->add_option("--batch", o.batch, "events per frame")
            ->capture_default_str()
            ->check(CLI::PositiveNumber);
    };
    const auto mix_flags = [&](CLI::App* mode) {
        mode->add_option("--customers", o.customers, "customers the Zipf draw is over")
            ->capture_default_str()
            ->check(CLI::PositiveNumber);
        mode->add_option("--zipf", o.zipf, "Zipf exponent s")->capture_default_str();
        mode->add_option("--arbitration-window", o.arbitration_window,
                         "[pressure] arbitration_window (a window holds requests on purpose)")
            ->capture_default_str();
        mode->add_option("--seed", o.seed, "random seed")->capture_default_str();
        mode->add_option("--segments", o.segments,
                         "generated [[segment]]s every event re-evaluates (0: none)")
            ->capture_default_str();
    };
    const auto n_option = [&](CLI::App* mode, const std::string& what) {
        mode->add_option("--n", o.n, what)->capture_default_str()->check(CLI::PositiveNumber);
    };

    std::map<CLI::App*, std::function<Report(const BenchOptions&)>> modes;

    CLI::App* limit = app.add_subcommand(
        "limit", "the ceiling: decode and apply events on one thread, no actors, sockets or disk");
    n_option(limit, "events");
    batch_flag(limit);
    mix_flags(limit);
    output_flags(limit);
    modes[limit] = run_limit;

    CLI::App* ingest = app.add_subcommand(
        "ingest", "a real journeyd over loopback: events/s, ack and decision latency, CPU, RSS");
    CLI::Option* seconds = ingest->add_option("--seconds", o.seconds, "length of each run")
                               ->capture_default_str()
                               ->check(CLI::PositiveNumber);
    // A fixed count makes runs comparable: the same seed sends the same events, however fast.
    ingest
        ->add_option("--events", o.events,
                     "send exactly this many events in each run (then stop) instead of --seconds")
        ->check(CLI::PositiveNumber)
        ->excludes(seconds);
    ingest->add_flag("--no-half", o.no_half, "skip the second run at 50% of the peak");
    ingest->add_option("--connect", o.connect, "drive a running journeyd's ingest HOST:PORT");
    ingest->add_option("--admin", o.admin, "with --connect: its admin HOST:PORT");
    ingest->add_option("--pid", o.pid, "with --connect: its process id, for CPU and memory");
    load_flags(ingest);
    batch_flag(ingest);
    mix_flags(ingest);
    daemon_flags(ingest);
    output_flags(ingest);
    modes[ingest] = run_ingest;

    CLI::App* actors = app.add_subcommand(
        "actors", "memory per live customer actor, and per customer once passivated");
    n_option(actors, "customers");
    actors->add_option("--idle-after", o.idle_after, "idle_after of the passivation run")
        ->capture_default_str();
    actors
        ->add_option("--journey", o.journey,
                     "timer: one event, no programs; default: the marketplace journey, whose "
                     "programs contact every customer")
        ->capture_default_str()
        ->check(CLI::IsMember({"timer", "default"}));
    load_flags(actors);
    batch_flag(actors);
    daemon_flags(actors);
    output_flags(actors);
    modes[actors] = run_actors;

    CLI::App* soak = app.add_subcommand(
        "soak",
        "memory while N distinct customers of the default journey stream through, "
        "passivating: flat or growing");
    n_option(soak, "distinct customers (10,000,000 unless given)");
    soak->add_option("--idle-after", o.idle_after, "idle_after: passivation")
        ->capture_default_str();
    load_flags(soak);
    batch_flag(soak);
    daemon_flags(soak);
    output_flags(soak);
    modes[soak] = run_soak;

    CLI::App* timers = app.add_subcommand(
        "timers", "memory per pending timer (live, passivated) and firing lateness");
    n_option(timers, "pending timers (one per customer)");
    timers->add_option("--after", o.timer_after,
                       "earliest timer after activation (default: 10 s + 100 ms per 1000 timers)");
    timers->add_option("--spread", o.timer_spread, "timers are due over this span after --after")
        ->capture_default_str();
    timers->add_option("--idle-after", o.idle_after, "idle_after of the passivated run")
        ->capture_default_str();
    load_flags(timers);
    batch_flag(timers);
    daemon_flags(timers);
    output_flags(timers);
    modes[timers] = run_timers;

    CLI::App* restart = app.add_subcommand(
        "restart", "exec to serving, empty and with N stored customers holding timers");
    n_option(restart, "stored customers");
    restart
        ->add_option("--idle-after", o.restart_idle_after,
                     "idle_after while populating (short: memory stays bounded for large --n)")
        ->capture_default_str();
    restart
        ->add_option("--live", o.live,
                     "after the restart, activate this many stored customers and report RSS")
        ->capture_default_str();
    load_flags(restart);
    batch_flag(restart);
    daemon_flags(restart);
    output_flags(restart);
    modes[restart] = run_restart;

    CLI::App* identify = app.add_subcommand(
        "identify", "merges/s of identify events, and the cost per event of resolving an alias");
    n_option(identify, "pairs of ids merged");
    load_flags(identify);
    batch_flag(identify);
    daemon_flags(identify);
    output_flags(identify);
    modes[identify] = run_identify;

    CLI::App* cluster = app.add_subcommand(
        "cluster",
        "N journeyd nodes as one cluster on loopback: events/s, ack latency, forwarding");
    cluster->add_option("--nodes", o.nodes, "cluster sizes to measure in turn, e.g. 1,2,3")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cluster->add_option("--seconds", o.cluster_seconds, "length of each run")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cluster->add_flag("--no-owner-aware", o.no_owner_aware,
                      "skip the runs whose clients send each event to its owner's node");
    load_flags(cluster);
    batch_flag(cluster);
    mix_flags(cluster);
    daemon_flags(cluster, false);
    output_flags(cluster);
    modes[cluster] = run_cluster;

    CLI::App* decisioning = app.add_subcommand(
        "decisioning",
        "the cost per event of segments and next best actions, and decisions/s, on one thread");
    n_option(decisioning, "events");
    decisioning->add_option("--actions", o.actions, "generated [[action]]s")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    batch_flag(decisioning);
    mix_flags(decisioning);
    output_flags(decisioning);
    modes[decisioning] = run_decisioning;

    CLI11_PARSE(app, argc, argv);
    if (soak->parsed() && soak->count("--n") == 0) o.n = 10'000'000;
    if (decisioning->parsed() && decisioning->count("--segments") == 0) o.segments = 20;

    for (const auto& [mode, run] : modes) {
        if (!mode->parsed()) continue;
        try {
            const Report report = run(o);
            if (json)
                std::cout << report.to_json().dump() << std::endl;
            else
                report.print_table(std::cout);
            return check && !report.failures().empty() ? 1 : 0;
        } catch (const std::exception& e) {
            std::cerr << "journey-bench " << mode->get_name() << ": " << e.what() << std::endl;
            return 1;
        }
    }
    return 2;
}
