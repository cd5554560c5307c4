// The ingest port's answer frames read back strictly, as docs/protocol.md "Answers" and
// "Frame errors and closing" document them, for the tests of runtime/ingest/ and the ingest
// framing fuzzer (so no Catch2 here).
//
// Contract: read_answers() takes the bytes AnswerQueue::take_ready() wrote (any number of
// whole frames) and returns one WireAnswer per frame, or nullopt with `error` saying what
// broke the documented shape: a truncated frame, a body that is not exactly one msgpack
// value, keys other than the documented ones, wrong types, "ok" disagreeing with "errors",
// or errors not sorted by index.
// Thread-safety: pure functions.
#pragma once

#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "state/codec/event_codec.hpp"

namespace journeyd::test {

struct WireAnswer {
    bool ok = false;
    std::string frame_error;  // set: the frame was answered {"ok": false, "error"}
    uint64_t accepted = 0;
    uint64_t duplicates = 0;
    std::vector<EventError> errors;
};

namespace detail {

inline bool is_key(const msgpack::object_kv& kv, std::string_view key) {
    return kv.key.type == msgpack::type::STR &&
           std::string_view(kv.key.via.str.ptr, kv.key.via.str.size) == key;
}

inline std::optional<std::string> as_string(const msgpack::object& value) {
    if (value.type != msgpack::type::STR) return std::nullopt;
    return std::string(value.via.str.ptr, value.via.str.size);
}

inline bool read_event_error(const msgpack::object& value, EventError& out) {
    if (value.type != msgpack::type::MAP || value.via.map.size != 2) return false;
    const msgpack::object_kv* kv = value.via.map.ptr;
    if (!is_key(kv[0], "index") || kv[0].val.type != msgpack::type::POSITIVE_INTEGER ||
        kv[0].val.via.u64 > UINT32_MAX || !is_key(kv[1], "error"))
        return false;
    std::optional<std::string> error = as_string(kv[1].val);
    if (!error) return false;
    out.index = static_cast<uint32_t>(kv[0].val.via.u64);
    out.error = std::move(*error);
    return true;
}

// One answer body; the key order is the one event_codec.cpp writes, which clients may rely on
// no more than on any map's order, but a change to it should be a deliberate one.
inline bool read_answer_body(const msgpack::object& body, WireAnswer& out) {
    if (body.type != msgpack::type::MAP || body.via.map.size == 0) return false;
    const msgpack::object_kv* kv = body.via.map.ptr;
    if (!is_key(kv[0], "ok") || kv[0].val.type != msgpack::type::BOOLEAN) return false;
    out.ok = kv[0].val.via.boolean;
    if (body.via.map.size == 2) {
        std::optional<std::string> error = as_string(kv[1].val);
        if (out.ok || !is_key(kv[1], "error") || !error || error->empty()) return false;
        out.frame_error = std::move(*error);
        return true;
    }
    if (body.via.map.size != 4 || !is_key(kv[1], "accepted") || !is_key(kv[2], "duplicates") ||
        !is_key(kv[3], "errors") || kv[1].val.type != msgpack::type::POSITIVE_INTEGER ||
        kv[2].val.type != msgpack::type::POSITIVE_INTEGER || kv[3].val.type != msgpack::type::ARRAY)
        return false;
    out.accepted = kv[1].val.via.u64;
    out.duplicates = kv[2].val.via.u64;
    for (uint32_t i = 0; i < kv[3].val.via.array.size; ++i) {
        EventError error;
        if (!read_event_error(kv[3].val.via.array.ptr[i], error)) return false;
        if (!out.errors.empty() && out.errors.back().index > error.index) return false;
        out.errors.push_back(std::move(error));
    }
    return out.ok == out.errors.empty();
}

}  // namespace detail

inline std::optional<std::vector<WireAnswer>> read_answers(std::string_view bytes,
                                                           std::string& error) {
    std::vector<WireAnswer> answers;
    while (!bytes.empty()) {
        if (bytes.size() < 4) {
            error = "a truncated frame header";
            return std::nullopt;
        }
        const uint32_t length = read_frame_header(bytes.data());
        if (bytes.size() - 4 < length) {
            error = "a truncated frame body";
            return std::nullopt;
        }
        const std::string_view body = bytes.substr(4, length);
        bytes.remove_prefix(4 + size_t{length});
        WireAnswer answer;
        try {
            size_t offset = 0;
            const msgpack::object_handle handle = msgpack::unpack(body.data(), body.size(), offset);
            if (offset != body.size() || !detail::read_answer_body(handle.get(), answer)) {
                error = "answer " + std::to_string(answers.size()) + " is not a documented answer";
                return std::nullopt;
            }
        } catch (const std::exception& e) {
            error = "answer " + std::to_string(answers.size()) + " is not msgpack: " + e.what();
            return std::nullopt;
        }
        answers.push_back(std::move(answer));
    }
    return answers;
}

}  // namespace journeyd::test
