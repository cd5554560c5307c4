// libFuzzer harness: a JSON body as the admin port reads it (runtime/admin/admin_api.cpp
// post_event): parse_json with the ingest depth limit (state/codec/msgpack_json.hpp), then
// pack_json to msgpack and, for an object, decode_request_body as an event.
//
// Input: the body's bytes (the seeds in corpus/json_body/: events, deep nesting, numbers out
// of range, bytes that are not UTF-8, surrogate escapes, a NUL byte, which ends nlohmann's
// input).
//
// Checks beyond "no crash": parse_json never throws; it agrees with an independent reading
// of the text (nlohmann's SAX parser, which builds nothing and so needs no depth limit):
// valid JSON nested deeper than 32 levels is refused with "nested deeper than 32 levels",
// valid JSON within the limit is accepted, and anything else is refused with an error; a value
// accepted packs to one msgpack value that reads back equal, and an object is never refused
// by the ingest decoder for its depth, since both ports take the same events.
#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.hpp"
#include "state/codec/event_codec.hpp"
#include "state/codec/msgpack_json.hpp"

using namespace journeyd;
using nlohmann::json;

namespace {

constexpr TimeMs kNow = 1'700'000'000'000;

// Validity and the deepest nesting of arrays and objects, counted as the SAX events come.
struct DepthReader : nlohmann::json_sax<json> {
    size_t depth = 0;
    size_t deepest = 0;

    bool open() {
        deepest = std::max(deepest, ++depth);
        return true;
    }
    bool close() {
        --depth;
        return true;
    }
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(size_t) override { return open(); }
    bool key(string_t&) override { return true; }
    bool end_object() override { return close(); }
    bool start_array(size_t) override { return open(); }
    bool end_array() override { return close(); }
    bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) override {
        return false;
    }
};

size_t depth_of(const json& value) {
    if (!value.is_structured()) return 0;
    size_t deepest = 0;
    for (const json& element : value) deepest = std::max(deepest, depth_of(element));
    return deepest + 1;
}

void check_accepted(const json& value) {
    FUZZ_CHECK(depth_of(value) <= kMaxDepth);
    msgpack::sbuffer packed;
    msgpack::packer<msgpack::sbuffer> packer(packed);
    pack_json(packer, value);

    size_t offset = 0;
    const msgpack::object_handle handle = msgpack::unpack(packed.data(), packed.size(), offset);
    FUZZ_CHECK(offset == packed.size());
    std::string error;
    const std::optional<json> back = msgpack_to_json(handle.get(), error);
    FUZZ_CHECK(back && *back == value);

    if (!value.is_object()) return;
    const DecodedRequest decoded = decode_request_body({packed.data(), packed.size()}, kNow);
    FUZZ_CHECK(decoded.frame_error.find("depth") == std::string::npos);
    FUZZ_CHECK(!decoded.frame_error.empty() || decoded.size == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    DepthReader reader;
    const bool valid = json::sax_parse(text, &reader);

    std::string error;
    std::optional<json> parsed;
    try {
        parsed = parse_json(text, kMaxDepth, error);
    } catch (...) {
        FUZZ_CHECK(!"parse_json threw");
    }
    const std::string depth_error = "nested deeper than 32 levels";
    // nlohmann's lexer ends the input at a NUL byte, so "{}\0junk" is valid JSON to both
    // readers; parse_json's depth count looks past the NUL and may refuse it for its depth.
    const bool has_nul = text.find('\0') != std::string_view::npos;
    if (valid && reader.deepest > kMaxDepth)
        FUZZ_CHECK(!parsed && error == depth_error);
    else if (valid)
        FUZZ_CHECK(parsed || (has_nul && error == depth_error));
    else
        FUZZ_CHECK(!parsed && !error.empty());
    if (parsed) check_accepted(*parsed);
    return 0;
}
