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
// The event type that makes its customer an alias of attrs.as (docs/protocol.md "Identify").
inline constexpr const char* kIdentifyEventType = "identify";

struct Event {
    std::string id;
    std::string customer;
    std::string type;
    TimeMs ts = 0;
    nlohmann::json attrs;
};

// The id an identify event names (checked at decode: a non-empty string).
inline std::string identify_target(const Event& event) {
    return event.attrs.value("as", std::string());
}

}  // namespace journeyd
