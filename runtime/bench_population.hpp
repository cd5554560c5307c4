// What several modes share: ids for the events of a run.
#pragma once

#include <string>

namespace journeyd::bench {

// A prefix for event ids that no earlier journey-bench run used (time and process id), so
// events sent to a store that outlives a run are never taken for duplicates.
std::string unique_run_prefix();

}  // namespace journeyd::bench
