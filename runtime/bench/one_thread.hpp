// The daemon's rules on one thread, without actors, sockets or disk: pre-encoded frames of the
// marketplace mix decoded (decode_request_body) and applied to a JourneyEngine, their contact
// requests decided by a PressureLedger, as journeyd's actors do. What `limit` and
// `decisioning` time.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "runtime/bench/modes.hpp"
#include "state/decisioning/action_totals.hpp"
#include "state/journey/customer_state.hpp"

namespace journeyd::bench {

// Frames of `o.n` events of the marketplace mix over `o.customers`, encoded before any clock
// starts (encoding is the event sources' work).
std::vector<std::string> encoded_frames(const BenchOptions& o, const std::string& id_prefix);

struct OneThreadRun {
    uint64_t events = 0;
    uint64_t duplicates = 0;
    uint64_t rejected = 0;
    uint64_t send = 0, defer = 0, suppress = 0;
    double seconds = 0;
    size_t held_at_end = 0;  // requests the ledger still holds
    std::unordered_map<std::string, CustomerState> customers;
};

// Applies `frames` under `config`; `totals` ranks next best actions (none: their priors).
OneThreadRun run_one_thread(const Config& config, const std::vector<std::string>& frames,
                            const ActionTotals* totals = nullptr);

}  // namespace journeyd::bench
