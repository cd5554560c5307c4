// The configurations journey-bench runs, as TOML text for journeyd --config (addresses and
// the data directory come from journeyd's flags).
//
// marketplace_config: the embedded default journey of CONFIG.md, unchanged but for the
// arbitration window, with the durable store fsyncing every commit ([store] sync = true):
// what `limit` and `ingest` measure.
#pragma once

#include <string>

namespace journeyd::bench {

std::string marketplace_config(const std::string& arbitration_window);

}  // namespace journeyd::bench
