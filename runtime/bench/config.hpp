// The configurations journey-bench runs, as TOML text for journeyd --config (addresses and
// the data directory come from journeyd's flags).
//
// marketplace_config: the embedded default journey (docs/configuration.md), unchanged but for the
// arbitration window, with the durable store fsyncing every commit ([store] sync = true):
// what `limit` and `ingest` measure. Given the middleman ports of a cluster of two or more
// members on 127.0.0.1 (`cluster`), it is the configuration of member `self`: [node] name
// is cluster_member_name(self), [cluster] members lists every member as
// "NAME@127.0.0.1:PORT" in index order. One port or none: a single node, no [cluster].
//
// marketplace_memory_config: marketplace_config("0s") for counting memory (`actors`), with
// [runtime] idle_after set and no [pressure.rate] budgets. Without budgets every send is
// made when decided, so the coordinator ends up holding each customer's contact history and
// decision log; with them, the welcome e-mails of a burst of N customers would wait up to
// N/1000 s for their budget, and the measurement would be of that passing queue instead.
//
// timer_journey_config: a journey built for counting memory and timers. Any event creates
// its customer in "new", which has no timers and no programs; an event of type
// wait_event_type(k) moves a new customer to stage "wait<k>", whose one inactivity timer
// fires after `timer_afters[k]` and moves it to "done". So every customer holds exactly
// one pending timer from its wait event until it fires, and nothing else happens: no
// contact requests, no coordinator state. With no timer_afters there are no wait stages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "state/duration.hpp"

namespace journeyd::bench {

// An idle_after no benchmark outlasts (a day): customers stay live.
inline constexpr DurationMs kNoPassivation = 86'400'000;

// The event type that creates a customer and does nothing else in the timer journey.
inline constexpr const char* kTouchEventType = "touch";

// With `segments` > 0, that many generated [[segment]]s (event counts, stages, segments of
// segments) that every event re-evaluates.
std::string marketplace_config(const std::string& arbitration_window,
                               const std::vector<uint16_t>& middleman_ports = {}, size_t self = 0,
                               size_t segments = 0);
// The marketplace journey without the default's own segments and actions, plus `segments`
// generated segments and `actions` generated actions chosen by a best program on every view.
std::string decisioning_config(size_t segments, size_t actions);
std::string cluster_member_name(size_t index);  // "node-1", "node-2", ...
std::string marketplace_memory_config(DurationMs idle_after);

std::string timer_journey_config(const std::vector<DurationMs>& timer_afters,
                                 DurationMs idle_after);
std::string wait_event_type(size_t k);

}  // namespace journeyd::bench
