// The bridge between msgpack values (the wire and the store) and nlohmann::json (profiles,
// the admin API). Maps with non-string keys are rejected rather than guessed at: event
// attrs and profiles are string-keyed by contract.
#pragma once

#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace journeyd {

// `text` as JSON, or nullopt with `error` set ("nested deeper than 32 levels", "syntax error at
// byte 7"). The depth is checked on the text before nlohmann builds anything: its
// DOM, pack_json and msgpack_to_json all recurse once per level, so a body nested a few
// hundred thousand levels deep would overflow a thread's stack.
std::optional<nlohmann::json> parse_json(std::string_view text, size_t max_depth,
                                         std::string& error);

// nullopt (with `error` set) for a value JSON cannot hold: a non-string map key, or an
// ext type.
std::optional<nlohmann::json> msgpack_to_json(const msgpack::object& value, std::string& error);

void pack_json(msgpack::packer<msgpack::sbuffer>& packer, const nlohmann::json& value);

}  // namespace journeyd
