// A customer's state brought from the configuration it was held under to a newer one that a
// change applied while journeyd ran (docs/operations.md, "Changing the configuration").
//
// The state is carried over by name, exactly as a stored record is read back under an edited
// configuration (customer_codec.hpp), with three rules of a live change on top:
// - a program waiting out its delay that the new configuration removed (retired, see
//   model_alignment.hpp) is dropped: a ProgramDrop with reason "program_removed" in `out`, for
//   the coordinator to record as a suppress decision;
// - an inactivity timer whose definition changed (its `after`, or its stage list no longer
//   holding the customer's stage) or that is gone is cancelled, and the timers of the stage are
//   armed again from the customer's last event under the new definitions;
// - a delayed program whose settings changed keeps its due time and fires under the new
//   settings, since the engine looks the program up when it fires.
// Moving the customers of a removed stage is not done here: a change removing a stage that
// holds customers is refused before it is applied (config_change.hpp).
//
// Thread-safety: a pure function of its arguments.
#pragma once

#include <string>

#include "state/journey/journey_engine.hpp"

namespace journeyd {

// false, with `error`, when the state cannot be read under `to` (the customer is left as it
// was); `out` is cleared first and holds the drops and timer changes.
bool upgrade_customer(CustomerState& customer, const JourneyEngine& from, const JourneyEngine& to,
                      TimeMs now, Effects& out, std::string& error);

}  // namespace journeyd
