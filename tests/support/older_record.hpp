// A customer record as an older journeyd wrote it: the same record with only its first fields,
// for tests that records written before a field was added still decode.
#pragma once

#include <catch2/catch.hpp>
#include <msgpack.hpp>
#include <string>

namespace journeyd::test {

// `record`: an encode_customer result (a version byte, then a msgpack array of fields).
inline std::string with_first_fields(const std::string& record, uint32_t fields) {
    msgpack::object_handle handle = msgpack::unpack(record.data() + 1, record.size() - 1);
    const msgpack::object_array& all = handle.get().via.array;
    REQUIRE(all.size >= fields);
    msgpack::sbuffer older;
    older.write(record.data(), 1);
    msgpack::packer<msgpack::sbuffer> pk(older);
    pk.pack_array(fields);
    for (uint32_t i = 0; i < fields; ++i) pk.pack(all.ptr[i]);
    return std::string(older.data(), older.size());
}

}  // namespace journeyd::test
