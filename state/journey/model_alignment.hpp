// Program and action ids that stay the same across configuration changes while journeyd runs.
//
// The coordinator keeps contacts, decisions and deferred requests by ProgramId and ActionId,
// and customers keep program delays and goal windows by them: indices into the model they were
// made under. align_ids() orders a newly loaded model so that every program and action the
// running model has keeps its index; ones new to it come after, in file order; ones it no
// longer has stay where they were as retired entries (name, channel, class, template and goal
// kept, trigger and condition cleared), which nothing requests or ranks again but old contacts
// and decisions still name. So a change needs no translation of the coordinator's state, and a
// model aligned once more keeps the retired entries of earlier changes.
//
// Everything else in the model (stages, transitions, timers, segments, drivers) keeps the order
// of the new file: customers are brought to it by name (customer_upgrade.hpp).
//
// Thread-safety: a pure function.
#pragma once

#include "state/journey/journey_model.hpp"

namespace journeyd {

JourneyModel align_ids(JourneyModel next, const JourneyModel& running);

}  // namespace journeyd
