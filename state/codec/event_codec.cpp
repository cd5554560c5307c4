#include "state/codec/event_codec.hpp"

#include <date/tz.h>
#include <algorithm>
#include <cmath>
#include <msgpack.hpp>

#include "state/codec/msgpack_json.hpp"
#include "state/codec/utf8.hpp"

namespace journeyd {
namespace {

std::string_view as_view(const msgpack::object& o) {
    return {o.via.str.ptr, o.via.str.size};
}

const msgpack::object* field(const msgpack::object& map, std::string_view key) {
    for (uint32_t i = 0; i < map.via.map.size; ++i) {
        const msgpack::object_kv& kv = map.via.map.ptr[i];
        if (kv.key.type == msgpack::type::STR && as_view(kv.key) == key) return &kv.val;
    }
    return nullptr;
}

// A required UTF-8 string field of 1..max bytes; empty message when valid.
std::string read_string(const msgpack::object& map, std::string_view key, size_t max,
                        std::string& out) {
    const msgpack::object* value = field(map, key);
    if (!value) return "missing \"" + std::string(key) + "\"";
    if (value->type != msgpack::type::STR) return "\"" + std::string(key) + "\" must be a string";
    if (value->via.str.size == 0 || value->via.str.size > max)
        return "\"" + std::string(key) + "\" must be 1.." + std::to_string(max) + " bytes";
    if (!is_valid_utf8(as_view(*value))) return "\"" + std::string(key) + "\" must be UTF-8";
    out.assign(value->via.str.ptr, value->via.str.size);
    return {};
}

// The reserved profile attributes must make sense before they reach a profile.
std::string check_reserved_attrs(const nlohmann::json& attrs) {
    if (auto tz = attrs.find("tz"); tz != attrs.end() && !tz->is_null()) {
        if (!tz->is_string()) return "attrs.tz must be a string (an IANA time zone name)";
        try {
            date::locate_zone(tz->get<std::string>());
        } catch (const std::exception&) {
            return "attrs.tz: unknown time zone \"" + tz->get<std::string>() + "\"";
        }
    }
    if (auto consent = attrs.find("consent"); consent != attrs.end() && !consent->is_null()) {
        if (!consent->is_object()) return "attrs.consent must be a map of channel to bool";
        for (const auto& [channel, given] : consent->items())
            if (!given.is_boolean() && !given.is_null())
                return "attrs.consent." + channel + " must be a bool";
    }
    return {};
}

// `identify` names the id its customer is known as (docs/protocol.md "Identify").
std::string check_identify(const Event& event) {
    const nlohmann::json* as = nullptr;
    if (event.attrs.is_object()) {
        auto found = event.attrs.find("as");
        if (found != event.attrs.end()) as = &*found;
    }
    if (as == nullptr || !as->is_string() || as->get_ref<const std::string&>().empty())
        return "identify needs attrs.as: the id the customer is known as (a non-empty string)";
    const std::string& known_as = as->get_ref<const std::string&>();
    if (known_as.size() > kMaxIdBytes)
        return "attrs.as must be 1.." + std::to_string(kMaxIdBytes) + " bytes";
    if (known_as == event.customer)
        return "identify: attrs.as names the customer itself (" + known_as + ")";
    return {};
}

// msgpack floats can be NaN or infinite, JSON numbers cannot: such a value would show as
// null in the admin API and never compare equal to itself in a profile.
bool all_numbers_finite(const nlohmann::json& value) {
    if (value.is_number_float()) return std::isfinite(value.get<double>());
    if (!value.is_structured()) return true;
    for (const nlohmann::json& element : value)
        if (!all_numbers_finite(element)) return false;
    return true;
}

std::string read_event(const msgpack::object& o, TimeMs receive_time, Event& event) {
    if (o.type != msgpack::type::MAP) return "an event must be a map";
    if (auto e = read_string(o, "id", kMaxIdBytes, event.id); !e.empty()) return e;
    if (auto e = read_string(o, "customer", kMaxIdBytes, event.customer); !e.empty()) return e;
    if (auto e = read_string(o, "type", kMaxTypeBytes, event.type); !e.empty()) return e;
    event.ts = receive_time;
    if (const msgpack::object* ts = field(o, "ts"); ts && ts->type != msgpack::type::NIL) {
        if (ts->type != msgpack::type::POSITIVE_INTEGER)
            return "\"ts\" must be a non-negative integer (ms since the Unix epoch)";
        if (ts->via.u64 > static_cast<uint64_t>(INT64_MAX)) return "\"ts\" is out of range";
        event.ts = static_cast<TimeMs>(ts->via.u64);
    }
    event.attrs = nullptr;
    if (const msgpack::object* attrs = field(o, "attrs");
        attrs && attrs->type != msgpack::type::NIL) {
        if (attrs->type != msgpack::type::MAP) return "\"attrs\" must be a map";
        std::string error;
        auto json = msgpack_to_json(*attrs, error);
        if (!json) return "attrs: " + error;
        if (!all_numbers_finite(*json))
            return "attrs: numbers must be finite (no NaN, no infinity)";
        event.attrs = std::move(*json);
        if (event.type == kProfileEventType)
            if (auto e = check_reserved_attrs(event.attrs); !e.empty()) return e;
    }
    if (event.type == kIdentifyEventType) return check_identify(event);
    return {};
}

void add_event(const msgpack::object& o, uint32_t index, TimeMs receive_time, DecodedRequest& out) {
    Event event;
    std::string error = read_event(o, receive_time, event);
    if (!error.empty()) {
        out.errors.push_back({index, std::move(error)});
        return;
    }
    out.events.push_back(std::move(event));
    out.index.push_back(index);
}

// Unpacks a frame body that must hold exactly one msgpack value, bounded by its size; the
// frame error, empty when `handle` holds the value.
std::string unpack_one_value(std::string_view body, msgpack::object_handle& handle,
                             size_t max_depth = kMaxDepth) {
    const size_t n = body.size();
    // No element can take less than one byte (a map entry two): claims beyond that are lies.
    const msgpack::unpack_limit limits(n, n / 2, n, n, n, max_depth);
    size_t offset = 0;
    try {
        handle = msgpack::unpack(body.data(), n, offset, nullptr, nullptr, limits);
    } catch (const std::exception& e) {
        return std::string("body is not valid msgpack: ") + e.what();
    }
    if (offset != n) return "body holds more than one msgpack value";
    return {};
}

}  // namespace

DecodedRequest decode_request_body(std::string_view body, TimeMs receive_time, size_t max_depth) {
    DecodedRequest out;
    msgpack::object_handle handle;
    out.frame_error = unpack_one_value(body, handle, max_depth);
    if (!out.frame_error.empty()) return out;
    const msgpack::object& root = handle.get();
    if (root.type == msgpack::type::MAP) {
        out.size = 1;
        add_event(root, 0, receive_time, out);
    } else if (root.type == msgpack::type::ARRAY) {
        out.size = root.via.array.size;
        for (uint32_t i = 0; i < root.via.array.size; ++i)
            add_event(root.via.array.ptr[i], i, receive_time, out);
    } else {
        out.frame_error = "a frame must hold an event map or a batch array";
    }
    return out;
}

std::string encode_answer(FrameAnswer answer) {
    std::sort(answer.errors.begin(), answer.errors.end(),
              [](const EventError& a, const EventError& b) { return a.index < b.index; });
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pk.pack_map(4);
    pk.pack(std::string("ok"));
    pk.pack(answer.errors.empty());
    pk.pack(std::string("accepted"));
    pk.pack(answer.accepted);
    pk.pack(std::string("duplicates"));
    pk.pack(answer.duplicates);
    pk.pack(std::string("errors"));
    pk.pack_array(static_cast<uint32_t>(answer.errors.size()));
    for (const EventError& e : answer.errors) {
        pk.pack_map(2);
        pk.pack(std::string("index"));
        pk.pack(e.index);
        pk.pack(std::string("error"));
        pk.pack(e.error);
    }
    return std::string(buffer.data(), buffer.size());
}

std::string encode_frame_error(std::string_view message) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pk.pack_map(2);
    pk.pack(std::string("ok"));
    pk.pack(false);
    pk.pack(std::string("error"));
    pk.pack(std::string(message));
    return std::string(buffer.data(), buffer.size());
}

Hello decode_hello(std::string_view body) {
    Hello hello;
    msgpack::object_handle handle;
    if (!unpack_one_value(body, handle).empty()) return hello;
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::MAP || root.via.map.size != 1) return hello;
    const msgpack::object* inner = field(root, "hello");
    if (!inner) return hello;
    hello.is_hello = true;
    const msgpack::object* token =
        inner->type == msgpack::type::MAP ? field(*inner, "token") : nullptr;
    if (!token || token->type != msgpack::type::STR)
        hello.error = "a hello is {\"hello\": {\"token\": \"...\"}}";
    else
        hello.token.assign(token->via.str.ptr, token->via.str.size);
    return hello;
}

std::string encode_hello_accepted() {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pk.pack_map(1);
    pk.pack(std::string("ok"));
    pk.pack(true);
    return std::string(buffer.data(), buffer.size());
}

std::string pack_events(const std::vector<Event>& events) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pk.pack_array(static_cast<uint32_t>(events.size()));
    for (const Event& event : events) {
        pk.pack_map(event.attrs.is_null() ? 4 : 5);
        pk.pack(std::string("id"));
        pk.pack(event.id);
        pk.pack(std::string("customer"));
        pk.pack(event.customer);
        pk.pack(std::string("type"));
        pk.pack(event.type);
        pk.pack(std::string("ts"));
        pk.pack(static_cast<uint64_t>(event.ts));
        if (!event.attrs.is_null()) {
            pk.pack(std::string("attrs"));
            pack_json(pk, event.attrs);
        }
    }
    return std::string(buffer.data(), buffer.size());
}

std::string encode_event_results(const std::vector<EventResult>& results) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pk.pack_array(static_cast<uint32_t>(results.size()));
    for (const EventResult& result : results) {
        if (result.error.empty())
            pk.pack(result.duplicate ? 1 : 0);
        else
            pk.pack(result.error);
    }
    return std::string(buffer.data(), buffer.size());
}

std::optional<std::vector<EventResult>> decode_event_results(std::string_view bytes,
                                                             std::string& error) {
    try {
        // Bounded like decode_request_body: an element takes at least one byte.
        const size_t n = bytes.size();
        const msgpack::unpack_limit limits(n, n / 2, n, n, n, kMaxDepth);
        size_t offset = 0;
        const msgpack::object_handle handle =
            msgpack::unpack(bytes.data(), n, offset, nullptr, nullptr, limits);
        const msgpack::object& root = handle.get();
        if (root.type != msgpack::type::ARRAY) throw std::runtime_error("not an array");
        std::vector<EventResult> results(root.via.array.size);
        for (uint32_t i = 0; i < root.via.array.size; ++i) {
            const msgpack::object& item = root.via.array.ptr[i];
            if (item.type == msgpack::type::STR)
                results[i].error = item.as<std::string>();
            else
                results[i].duplicate = item.as<int>() == 1;
        }
        return results;
    } catch (const std::exception& e) {
        error = std::string("event results unreadable: ") + e.what();
        return std::nullopt;
    }
}

std::string frame_header(uint32_t length) {
    const char bytes[4] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                           static_cast<char>(length >> 8), static_cast<char>(length)};
    return std::string(bytes, 4);
}

uint32_t read_frame_header(const char* b) {
    return (uint32_t{static_cast<uint8_t>(b[0])} << 24) |
           (uint32_t{static_cast<uint8_t>(b[1])} << 16) |
           (uint32_t{static_cast<uint8_t>(b[2])} << 8) | uint32_t{static_cast<uint8_t>(b[3])};
}

}  // namespace journeyd
