// What several modes share: ids for a run's events; for ingest and cluster, the settings
// and figures of a marketplace load; for actors, timers and restart, activating a
// population of customers through the ingest port and reporting what it costs in memory;
// for ingest and actors, the contact requests journeyd decided.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "runtime/bench/admin.hpp"
#include "runtime/bench/load.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/process_stats.hpp"
#include "runtime/bench/report.hpp"

namespace journeyd::bench {

// A prefix for event ids that no earlier journey-bench run used (time and process id), so
// events sent to a store that outlives a run are never taken for duplicates.
std::string unique_run_prefix();

// The settings of a MarketplaceMix load (connections, pipeline, batch, the Zipf population,
// the arbitration window).
void marketplace_settings(Report& report, const BenchOptions& options);

// Rows for what a timed load got acknowledged and how fast (events/s, events, rejected,
// frames, ack latency p50/p99/p999 in ms) in `column`, and their --check: events/s
// positive, nothing rejected, percentiles ordered.
void report_load(Report& report, const std::string& column, const LoadResult& load);

// The histogram of the time from an event to the first decision on each request it caused.
inline constexpr const char* kEventToDecision = "journeyd_event_to_decision_seconds";

// Rows for the contact requests journeyd decided between two scrapes, in `column`: those
// decided for the first time (the count of journeyd_event_to_decision_seconds), and the
// decisions by outcome (send, defer, suppress). Returns that histogram's growth, whose
// percentiles are the event->decision latency.
Histogram report_decisions(Report& report, const std::string& column, const MetricsScrape& before,
                           const MetricsScrape& after);

// Sends customers 0..n-1 one event each, of type type_of(i), over options.connections
// pipelined connections in batches of options.batch, unpaced; throws unless every event
// was accepted.
LoadResult activate_population(const BenchOptions& options, const std::string& ingest, uint64_t n,
                               const std::function<std::string(size_t)>& type_of,
                               const std::string& id_prefix);
// The same for customers first..end-1.
LoadResult activate_range(const BenchOptions& options, const std::string& ingest, uint64_t first,
                          uint64_t end, const std::function<std::string(size_t)>& type_of,
                          const std::string& id_prefix);

// A type_of for activate_population: kTouchEventType for every customer, which creates a
// customer of the timer journey, or activates a stored one, and changes nothing else.
std::string touch_event(size_t customer);

// How long to wait for something journeyd does once per customer (passivating, firing):
// a minute, plus time for n customers at a pace any working daemon beats.
std::chrono::milliseconds deadline_for(uint64_t n);

// Rows for RSS and RssAnon in `column`: before and after (MiB), and the growth from one to
// the other divided by n (bytes per `unit`); --check requires both "after" values positive.
void report_memory(Report& report, const std::string& column, const ProcessSample& before,
                   const ProcessSample& after, uint64_t n, const std::string& unit);

// A settled sample of journeyd's memory (bench_process_stats), with a deadline that suits a
// benchmark.
ProcessSample settled_memory(pid_t pid);

}  // namespace journeyd::bench
