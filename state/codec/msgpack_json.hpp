// The bridge between msgpack values (the wire and the store) and nlohmann::json (profiles,
// the admin API). Maps with non-string keys are rejected rather than guessed at: event
// attrs and profiles are string-keyed by contract.
#pragma once

#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace journeyd {

// nullopt (with `error` set) for a value JSON cannot hold: a non-string map key, or an
// ext type.
std::optional<nlohmann::json> msgpack_to_json(const msgpack::object& value, std::string& error);

void pack_json(msgpack::packer<msgpack::sbuffer>& packer, const nlohmann::json& value);

}  // namespace journeyd
