// A send decision as it is handed to the delivery sink (docs/protocol.md "Delivery"): the JSON
// object a file sink appends as one line and an HTTP sink POSTs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "state/duration.hpp"

namespace journeyd {

struct Delivery {
    std::string decision_id;  // stable across crash and replay: receivers dedupe on it
    std::string customer;
    std::string program;
    std::string channel;
    std::string template_name;
    std::string priority;
    TimeMs decided_at = 0;
    std::string action{};          // the next best action sent, for a program with action = "best"
    std::string config_version{};  // of the decision; "" for one stored before versions
};

inline nlohmann::json to_json(const Delivery& d) {
    nlohmann::json json = {{"decision_id", d.decision_id}, {"customer", d.customer},
                           {"program", d.program},         {"channel", d.channel},
                           {"template", d.template_name},  {"priority", d.priority},
                           {"decided_at", d.decided_at}};
    if (!d.action.empty()) json["action"] = d.action;
    if (!d.config_version.empty()) json["config_version"] = d.config_version;
    return json;
}

// A send the endpoint refused for good (an HTTP 4xx that retrying cannot change): parked in
// the store instead of holding its lane, until an operator re-queues it.
struct DeadLetter {
    Delivery delivery;
    int status = 0;     // the HTTP status of the refusal
    std::string error;  // the first 512 bytes of the answer's body
    TimeMs at = 0;      // when it was parked
};

// The JSON text a sink hands on. Bytes that are not UTF-8 (ingest refuses them in ids, so
// only a damaged store could bring them) become U+FFFD instead of throwing in a sink's thread.
inline std::string delivery_json_text(const Delivery& d) {
    return to_json(d).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace journeyd
