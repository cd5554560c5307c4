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
// A customer in a stage the change removed moves to the stage `[journey.migrate]` names
// (without its on_enter programs: a migration is not the customer's doing), its inactivity
// timers re-armed there; without a mapping the change was refused before it was applied
// (config_change.hpp).
//
// A customer read back from the store (when activated, perhaps after a restart) was written
// under whatever configuration ran then, which may be gone: settle_stored() applies the same
// rules by name against the configuration in force.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <string>

#include "state/codec/customer_codec.hpp"
#include "state/journey/journey_engine.hpp"

namespace journeyd {

struct CustomerUpgrade {
    bool carried = false;       // false: `error` says why; the customer is left as it was
    std::string migrated_from;  // the removed stage it moved out of, if it did
    std::string error;
};

// `out` is cleared first and holds the drops and timer changes.
CustomerUpgrade upgrade_customer(CustomerState& customer, const JourneyEngine& from,
                                 const JourneyEngine& to, TimeMs now, Effects& out);

// A customer just read from the store under `engine`, with what reading it noted: a delay of a
// retired program is dropped (reason "program_removed"); when it was migrated or lost timers
// the model lacks, inactivity timers that do not run in its stage are cancelled and those that
// do are armed from its last event. Returns whether anything changed (then commit it); `out` is
// cleared first and holds the drops and timer changes.
bool settle_stored(CustomerState& customer, const JourneyEngine& engine, const ReadNotes& notes,
                   TimeMs now, Effects& out);

}  // namespace journeyd
