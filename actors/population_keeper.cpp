#include "actors/population_keeper.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "state/codec/rhythm_codec.hpp"

namespace journeyd {
namespace {

void store_if_changed(caf::event_based_actor* self, const PopulationKeeperSetup& setup) {
    if (auto hours = setup.population->take_changed())
        self->send(setup.store_writer, commit_atom::value,
                   table_writes({{Table::rhythm, kPopulationKey, encode_population_hours(*hours)}}),
                   EventOutcome::accepted);
}

}  // namespace

caf::behavior population_keeper(caf::event_based_actor* self, PopulationKeeperSetup setup) {
    self->delayed_send(self, setup.every, flush_atom::value);
    return {
        [self, setup](flush_atom) {
            store_if_changed(self, setup);
            self->delayed_send(self, setup.every, flush_atom::value);
        },
        [self, setup](drain_atom) {
            store_if_changed(self, setup);
            self->quit();
        },
    };
}

PopulationHours stored_population(const RecordStore& store) {
    const std::optional<std::string> bytes = store.read(Table::rhythm, kPopulationKey);
    if (!bytes) return {};
    std::string error;
    if (auto hours = decode_population_hours(*bytes, error)) return *hours;
    spdlog::error("population engagement hours unreadable, starting from none error={}", error);
    return {};
}

}  // namespace journeyd
