// Reading the store's versioned msgpack records (customer_codec, pressure_codec): typed field
// accessors that throw DecodeError naming the field, and the envelope every record shares, a
// version byte and then one msgpack value. decode_versioned turns every failure, ours or
// msgpack's, into nullopt and a message. Also the plain maps cluster members exchange (rate
// leases, store counters): pack_map and unpack_map.
#pragma once

#include <msgpack.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace journeyd {

struct DecodeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline const msgpack::object& expect(const msgpack::object& o, msgpack::type::object_type type,
                                     const char* what) {
    if (o.type != type) throw DecodeError(std::string("bad field ") + what);
    return o;
}

inline int64_t as_int(const msgpack::object& o, const char* what) {
    if (o.type != msgpack::type::POSITIVE_INTEGER && o.type != msgpack::type::NEGATIVE_INTEGER)
        throw DecodeError(std::string("bad field ") + what);
    return o.as<int64_t>();
}

// A float, or an integer (a whole number packed by a writer that chose the shorter form).
inline double as_double(const msgpack::object& o, const char* what) {
    if (o.type == msgpack::type::FLOAT64 || o.type == msgpack::type::FLOAT32) return o.via.f64;
    return static_cast<double>(as_int(o, what));
}

inline std::string as_string(const msgpack::object& o, const char* what) {
    expect(o, msgpack::type::STR, what);
    return std::string(o.via.str.ptr, o.via.str.size);
}

inline const msgpack::object_array& as_array(const msgpack::object& o, const char* what) {
    return expect(o, msgpack::type::ARRAY, what).via.array;
}

// An array of `fewest` to `most` fields (records written by older builds lack the newest
// ones at the end); `size` is set to how many it has.
inline const msgpack::object* fields_between(const msgpack::object& o, uint32_t fewest,
                                             uint32_t most, const char* what, uint32_t& size) {
    const auto& array = as_array(o, what);
    if (array.size < fewest || array.size > most)
        throw DecodeError(std::string(what) + " has the wrong number of fields");
    size = array.size;
    return array.ptr;
}

// An array of exactly `size` fields.
inline const msgpack::object* fields_of(const msgpack::object& o, uint32_t size, const char* what) {
    uint32_t read = 0;
    return fields_between(o, size, size, what, read);
}

// `read(const msgpack::object&)` builds the value from the record's msgpack body. A record of
// known shape passes `limits` so that a corrupt length fails as such, not as an allocation.
template <class Read>
auto decode_versioned(std::string_view record, uint8_t version, const char* what, Read read,
                      std::string& error,
                      const msgpack::unpack_limit& limits = msgpack::unpack_limit())
    -> std::optional<decltype(read(msgpack::object()))> {
    if (record.empty() || static_cast<uint8_t>(record[0]) != version) {
        error = std::string("unknown ") + what + " version";
        return std::nullopt;
    }
    try {
        size_t offset = 0;
        msgpack::object_handle handle =
            msgpack::unpack(record.data() + 1, record.size() - 1, offset, nullptr, nullptr, limits);
        return read(handle.get());
    } catch (const std::exception& e) {  // DecodeError, or msgpack's own parse errors
        error = e.what();
        return std::nullopt;
    }
}

// `map` as msgpack bytes, for a std::string crossing the middleman.
template <class Map>
std::string pack_map(const Map& map) {
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, map);
    return std::string(buffer.data(), buffer.size());
}

// What pack_map made, or nullopt and "WHAT unreadable: ...". msgpack's limits come from the
// size of what came (a map of n bytes has fewer than n / 2 entries), so a corrupt length cannot
// make it allocate more than the bytes could hold.
template <class Map>
std::optional<Map> unpack_map(std::string_view bytes, const char* what, std::string& error) {
    try {
        const size_t n = bytes.size();
        const msgpack::unpack_limit limits(n, n / 2, n, n, n, 4);
        size_t offset = 0;
        const msgpack::object_handle handle =
            msgpack::unpack(bytes.data(), n, offset, nullptr, nullptr, limits);
        return handle.get().as<Map>();
    } catch (const std::exception& e) {
        error = std::string(what) + " unreadable: " + e.what();
        return std::nullopt;
    }
}

}  // namespace journeyd
