#include "actors/coordinator_stub.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"

namespace journeyd {

caf::behavior coordinator_stub(caf::event_based_actor*) {
    auto recorded = std::make_shared<std::vector<ContactRequest>>();
    return {
        [recorded](contact_atom, ContactRequest& request) {
            spdlog::debug("contact request decision_id={} customer={} cause={} dropped={}",
                          request.decision_id, request.customer, request.cause,
                          request.dropped_reason);
            recorded->push_back(std::move(request));
        },
        [recorded](requests_atom) { return *recorded; },
    };
}

}  // namespace journeyd
