#include "state/codec/msgpack_json.hpp"

#include <algorithm>
#include <cstring>

namespace journeyd {
namespace {

// The deepest [ and { nesting of `text` outside strings, counting no further than `limit` + 1.
// Exact for valid JSON; for invalid JSON it may be off, which only changes which of two
// errors the caller reports.
size_t nesting_depth(std::string_view text, size_t limit) {
    size_t depth = 0;
    size_t deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size() && deepest <= limit; ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;  // the escaped character cannot end the string
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

// Recursion is bounded by the depth msgpack-c's unpacker allows (its limits apply upstream).
bool convert(const msgpack::object& in, nlohmann::json& out, std::string& error) {
    switch (in.type) {
        case msgpack::type::NIL:
            out = nullptr;
            return true;
        case msgpack::type::BOOLEAN:
            out = in.via.boolean;
            return true;
        case msgpack::type::POSITIVE_INTEGER:
            out = in.via.u64;
            return true;
        case msgpack::type::NEGATIVE_INTEGER:
            out = in.via.i64;
            return true;
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            out = in.via.f64;
            return true;
        case msgpack::type::STR:
            out = std::string(in.via.str.ptr, in.via.str.size);
            return true;
        case msgpack::type::BIN:
            out = std::string(in.via.bin.ptr, in.via.bin.size);
            return true;
        case msgpack::type::ARRAY:
            out = nlohmann::json::array();
            for (uint32_t i = 0; i < in.via.array.size; ++i) {
                nlohmann::json element;
                if (!convert(in.via.array.ptr[i], element, error)) return false;
                out.push_back(std::move(element));
            }
            return true;
        case msgpack::type::MAP:
            out = nlohmann::json::object();
            for (uint32_t i = 0; i < in.via.map.size; ++i) {
                const msgpack::object_kv& kv = in.via.map.ptr[i];
                if (kv.key.type != msgpack::type::STR) {
                    error = "map keys must be strings";
                    return false;
                }
                nlohmann::json element;
                if (!convert(kv.val, element, error)) return false;
                out[std::string(kv.key.via.str.ptr, kv.key.via.str.size)] = std::move(element);
            }
            return true;
        default:
            error = "msgpack ext types are not supported";
            return false;
    }
}

// msgpack-c's pack_double stores a whole double as an integer when it is at most
// double(UINT64_MAX), which rounds to 2^64: 2^64 itself is then converted to uint64_t, out of
// range (undefined behaviour). That one value is written as a float64 here: 0xcb, then the
// bits big-endian; pack_str_body appends bytes as they are.
void pack_float(msgpack::packer<msgpack::sbuffer>& packer, double value) {
    if (value != 18446744073709551616.0) {
        packer.pack_double(value);
        return;
    }
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    char bytes[9] = {static_cast<char>(0xcb)};
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    packer.pack_str_body(bytes, sizeof bytes);
}

}  // namespace

std::optional<nlohmann::json> parse_json(std::string_view text, size_t max_depth,
                                         std::string& error) {
    if (nesting_depth(text, max_depth) > max_depth) {
        error = "nested deeper than " + std::to_string(max_depth) + " levels";
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        error = "syntax error at byte " + std::to_string(e.byte);
        return std::nullopt;
    } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range: a number like 1e999
        error = e.what();
        return std::nullopt;
    }
}

std::optional<nlohmann::json> msgpack_to_json(const msgpack::object& value, std::string& error) {
    nlohmann::json out;
    if (!convert(value, out, error)) return std::nullopt;
    return out;
}

void pack_json(msgpack::packer<msgpack::sbuffer>& packer, const nlohmann::json& value) {
    using value_t = nlohmann::json::value_t;
    switch (value.type()) {
        case value_t::null:
        case value_t::discarded:
            packer.pack_nil();
            return;
        case value_t::boolean:
            value.get<bool>() ? packer.pack_true() : packer.pack_false();
            return;
        case value_t::number_integer:
            packer.pack(value.get<int64_t>());
            return;
        case value_t::number_unsigned:
            packer.pack(value.get<uint64_t>());
            return;
        case value_t::number_float:
            pack_float(packer, value.get<double>());
            return;
        case value_t::string:
            packer.pack(value.get_ref<const std::string&>());
            return;
        case value_t::binary:
            packer.pack(std::string(value.get_binary().begin(), value.get_binary().end()));
            return;
        case value_t::array:
            packer.pack_array(static_cast<uint32_t>(value.size()));
            for (const auto& element : value) pack_json(packer, element);
            return;
        case value_t::object:
            packer.pack_map(static_cast<uint32_t>(value.size()));
            for (auto it = value.begin(); it != value.end(); ++it) {
                packer.pack(it.key());
                pack_json(packer, it.value());
            }
            return;
    }
}

}  // namespace journeyd
