// The population keeper: stores the population's engagement hours (PopulationRhythm, shared by
// the customer actors that record into it) in the store, Table::rhythm, every `every` when they
// changed, and once more when drained (drain_atom) before the store writer is. What a crash
// loses is the engagement of the last `every` from the prior, never an acknowledged event.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "state/rhythm/population_rhythm.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

inline constexpr const char* kPopulationKey = "population";

struct PopulationKeeperSetup {
    std::shared_ptr<PopulationRhythm> population;
    caf::actor store_writer;
    std::chrono::milliseconds every{5000};
};

caf::behavior population_keeper(caf::event_based_actor* self, PopulationKeeperSetup setup);

// The hours stored by a keeper, or none (nothing stored yet, or unreadable: logged).
PopulationHours stored_population(const RecordStore& store);

}  // namespace journeyd
