// An event as the engine applies it, after the ingest has decoded and validated it
// (docs/protocol.md "Event map"): `ts` is always set (the receive time when the source gave none)
// and `attrs` is a JSON object or null.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "state/duration.hpp"

namespace journeyd {

// The event type whose attrs are merged into the customer's profile.
inline constexpr const char* kProfileEventType = "profile";

struct Event {
    std::string id;
    std::string customer;
    std::string type;
    TimeMs ts = 0;
    nlohmann::json attrs;
};

}  // namespace journeyd
