#include "state/codec/event_codec.hpp"

#include <catch2/catch.hpp>
#include <msgpack.hpp>

#include "state/codec/msgpack_json.hpp"

using namespace journeyd;
using nlohmann::json;

namespace {

constexpr TimeMs kNow = 1'780'000'000'000;

std::string packed(const json& value) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pack_json(pk, value);
    return std::string(buffer.data(), buffer.size());
}

json unpacked(const std::string& bytes) {
    auto handle = msgpack::unpack(bytes.data(), bytes.size());
    std::string error;
    return *msgpack_to_json(handle.get(), error);
}

json event(const std::string& id) {
    return {{"id", id}, {"customer", "c1"}, {"type", "view"}};
}

std::string first_error_of_raw(const std::string& body) {
    DecodedRequest d = decode_request_body(body, kNow);
    REQUIRE(d.frame_error.empty());
    REQUIRE(d.errors.size() == 1);
    return d.errors[0].error;
}

std::string first_error(const json& value) {
    return first_error_of_raw(packed(value));
}

}  // namespace

TEST_CASE("codec: a single event decodes, ts defaults to the receive time") {
    DecodedRequest d = decode_request_body(packed(event("e1")), kNow);
    REQUIRE(d.events.size() == 1);
    CHECK(d.size == 1);
    CHECK(d.events[0].id == "e1");
    CHECK(d.events[0].customer == "c1");
    CHECK(d.events[0].ts == kNow);
    CHECK(d.events[0].attrs.is_null());
    json with_ts = event("e2");
    with_ts["ts"] = 1234;
    with_ts["attrs"] = {{"tz", "Europe/Amsterdam"}, {"n", {1, 2}}};
    with_ts["type"] = "profile";
    d = decode_request_body(packed(with_ts), kNow);
    REQUIRE(d.events.size() == 1);
    CHECK(d.events[0].ts == 1234);
    CHECK(d.events[0].attrs["n"] == json::array({1, 2}));
}

TEST_CASE("codec: a batch applies its valid events and names the invalid ones by index") {
    json batch = json::array({event("a"), {{"id", "b"}, {"customer", "c1"}}, event("c")});
    DecodedRequest d = decode_request_body(packed(batch), kNow);
    CHECK(d.size == 3);
    REQUIRE(d.events.size() == 2);
    CHECK(d.index == std::vector<uint32_t>{0, 2});
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].index == 1);
    CHECK(d.errors[0].error == "missing \"type\"");
}

TEST_CASE("codec: every field is checked with a clear message") {
    json e = event("x");
    e["id"] = "";
    CHECK(first_error(e) == "\"id\" must be 1..128 bytes");
    e["id"] = std::string(129, 'i');
    CHECK(first_error(e) == "\"id\" must be 1..128 bytes");
    e = event("x");
    e["customer"] = 7;
    CHECK(first_error(e) == "\"customer\" must be a string");
    e = event("x");
    e["type"] = std::string(65, 't');
    CHECK(first_error(e) == "\"type\" must be 1..64 bytes");
    e = event("x");
    e["ts"] = -5;
    CHECK(first_error(e) == "\"ts\" must be a non-negative integer (ms since the Unix epoch)");
    e["ts"] = "yesterday";
    CHECK(first_error(e) == "\"ts\" must be a non-negative integer (ms since the Unix epoch)");
    e = event("x");
    e["attrs"] = json::array();
    CHECK(first_error(e) == "\"attrs\" must be a map");
    e = event("x");
    e["type"] = "profile";
    e["attrs"] = {{"tz", "Mars/Base"}};
    CHECK(first_error(e) == "attrs.tz: unknown time zone \"Mars/Base\"");
    e["attrs"] = {{"consent", {{"email", "yes"}}}};
    CHECK(first_error(e) == "attrs.consent.email must be a bool");
    CHECK(first_error(json::array({42})) == "an event must be a map");
}

TEST_CASE("codec: malformed bodies are frame errors, never crashes or huge allocations") {
    CHECK_FALSE(decode_request_body("\xc1", kNow).frame_error.empty());  // never-used byte
    CHECK_FALSE(decode_request_body(packed(event("a")) + "\x01", kNow).frame_error.empty());
    CHECK(decode_request_body(packed(42), kNow).frame_error ==
          "a frame must hold an event map or a batch array");
    // An array header claiming 4 billion elements in a 5-byte body.
    CHECK_FALSE(
        decode_request_body(std::string("\xdd\xff\xff\xff\xff", 5), kNow).frame_error.empty());
    CHECK_FALSE(
        decode_request_body(std::string("\xdf\xff\xff\xff\xff", 5), kNow).frame_error.empty());
    // Nesting deeper than the limit.
    CHECK_FALSE(decode_request_body(std::string(100, '\x91') + '\x01', kNow).frame_error.empty());
    std::string truncated = packed(event("a"));
    for (size_t cut = 0; cut < truncated.size(); ++cut)
        CHECK_FALSE(decode_request_body(truncated.substr(0, cut), kNow).frame_error.empty());
    // A map key that is not a string inside attrs.
    std::string odd_key = packed(json{{"id", "a"}, {"customer", "c"}, {"type", "t"}});
    odd_key[0] = static_cast<char>(0x84);  // four entries, the fourth appended below
    odd_key += packed("attrs") + std::string("\x81\x01\x02", 3);
    CHECK(first_error_of_raw(odd_key) == "attrs: map keys must be strings");
}

TEST_CASE("codec: answers and frame errors encode as docs/protocol.md says") {
    json answer = unpacked(encode_answer({2, 1, {{4, "late"}, {1, "bad"}}}));
    CHECK(answer ==
          json{{"ok", false},
               {"accepted", 2},
               {"duplicates", 1},
               {"errors", {{{"index", 1}, {"error", "bad"}}, {{"index", 4}, {"error", "late"}}}}});
    CHECK(unpacked(encode_answer({3, 0, {}}))["ok"] == true);
    CHECK(unpacked(encode_frame_error("nope")) == json{{"ok", false}, {"error", "nope"}});
    CHECK(read_frame_header(frame_header(0x01020304).data()) == 0x01020304u);
    CHECK(frame_header(5) == std::string("\0\0\0\x05", 4));
}

// journeyd acknowledged an event for customer "\xff\xfe" and aborted two seconds later,
// when the welcome send for that customer was written as JSON by the delivery sink.
TEST_CASE("codec: id, customer and type must be UTF-8") {
    json e = event("x");
    e["customer"] = "\xff\xfe";
    CHECK(first_error(e) == "\"customer\" must be UTF-8");
    e = event("\xed\xa0\x80");  // a UTF-16 surrogate
    CHECK(first_error(e) == "\"id\" must be UTF-8");
    e = event("x");
    e["type"] =
        "vi\xc0\xaf"
        "ew";  // an overlong "/"
    CHECK(first_error(e) == "\"type\" must be UTF-8");
    e = event("Zo\xc3\xab \xf0\x9f\x98\x80");  // "Zoë 😀"
    CHECK(decode_request_body(packed(e), kNow).events.size() == 1);
}

// Found by fuzz_event_codec (minimized): a profile attribute holding a NaN float64. JSON
// cannot hold it, so the admin API showed null and the customer's record never read back
// equal to the customer.
TEST_CASE("codec: numbers in attrs must be finite") {
    const std::string crash(
        "\x84\xa2id\xa2p1\xa8"
        "customer\xa3"
        "ann\xa4type\xa7profile\xa5"
        "attrs\x84\xa2t\xc2\xcb\xff\xff"
        "aP\x0cQ\x99\x00\xa4taa\x01\xc0\xa4taa\x01\xc0\xa4taa\x01\xc0",
        70);
    CHECK(first_error_of_raw(crash) == "attrs: numbers must be finite (no NaN, no infinity)");
    json e = event("x");
    e["attrs"] = {{"nested", {{"deep", {1.0, std::numeric_limits<double>::infinity()}}}}};
    CHECK(first_error(e) == "attrs: numbers must be finite (no NaN, no infinity)");
    e["attrs"] = {{"score", 2.5}};
    CHECK(decode_request_body(packed(e), kNow).events.size() == 1);
}

TEST_CASE("codec: pack_events reads back as the same events, as forwarded events must") {
    Event original;
    original.id = "e-1";
    original.customer = "c\xc3\xa9";
    original.type = "profile";
    original.ts = kNow - 5;
    original.attrs = {{"tz", "Europe/Amsterdam"}, {"consent", {{"sms", false}}}, {"n", 1.5}};
    Event bare = original;
    bare.id = "e-2";
    bare.type = "view";
    bare.attrs = nullptr;
    const std::vector<Event> sent = {original, bare};
    const DecodedRequest back = decode_request_body(pack_events(sent), kNow);
    REQUIRE(back.frame_error.empty());
    REQUIRE(back.errors.empty());
    REQUIRE(back.events.size() == 2);
    for (size_t i = 0; i < sent.size(); ++i) {
        const Event& got = back.events[i];
        CHECK(got.id == sent[i].id);
        CHECK(got.customer == sent[i].customer);
        CHECK(got.type == sent[i].type);
        CHECK(got.ts == sent[i].ts);
        CHECK(got.attrs == sent[i].attrs);
    }
}

TEST_CASE("codec: event results of a forwarded batch round-trip; garbage is an error") {
    std::vector<EventResult> results(3);
    results[1].duplicate = true;
    results[2].error = "stored state of customer x is unreadable";
    std::string error;
    const auto back = decode_event_results(encode_event_results(results), error);
    REQUIRE(back);
    REQUIRE(back->size() == 3);
    CHECK((*back)[0].error.empty());
    CHECK_FALSE((*back)[0].duplicate);
    CHECK((*back)[1].duplicate);
    CHECK((*back)[2].error == results[2].error);
    CHECK_FALSE(decode_event_results("\x81\xa1", error));
    CHECK_THAT(error, Catch::Contains("unreadable"));
}

// msgpack-c's pack_double stores a whole double as an integer when it is at most
// double(UINT64_MAX), which rounds up to 2^64: 2^64 itself was converted to uint64_t, out of
// range (undefined; 0 or 2^63 in practice). fuzz_json_body found it.
TEST_CASE("codec: whole doubles beyond the integers round-trip through msgpack as doubles") {
    for (const double value :
         {18446744073709551616.0, 1e19, -9223372036854775808.0, -1e19, 1e300, 4294967296.0, 0.5}) {
        INFO(value);
        msgpack::sbuffer buffer;
        msgpack::packer<msgpack::sbuffer> packer(buffer);
        pack_json(packer, nlohmann::json(value));
        const msgpack::object_handle handle = msgpack::unpack(buffer.data(), buffer.size());
        std::string error;
        const std::optional<nlohmann::json> back = msgpack_to_json(handle.get(), error);
        REQUIRE(back);
        CHECK(back->get<double>() == value);
    }
}

// fuzz_event_codec found it: an event nested to the limit, sent alone, is one level deeper
// once a member forwards it in a batch, and its owner refused it.
TEST_CASE("codec: an event nested to the depth limit can be forwarded to its owner") {
    msgpack::sbuffer body;
    msgpack::packer<msgpack::sbuffer> packer(body);
    packer.pack_map(4);
    packer.pack(std::string("id"));
    packer.pack(std::string("deep"));
    packer.pack(std::string("customer"));
    packer.pack(std::string("ann"));
    packer.pack(std::string("type"));
    packer.pack(std::string("view"));
    packer.pack(std::string("attrs"));
    packer.pack_map(1);  // depth 2
    packer.pack(std::string("a"));
    for (size_t depth = 3; depth <= kMaxDepth; ++depth) packer.pack_array(1);
    packer.pack_nil();
    const DecodedRequest alone = decode_request_body({body.data(), body.size()}, 1);
    REQUIRE(alone.frame_error.empty());
    REQUIRE(alone.events.size() == 1);
    const std::string packed = pack_events(alone.events);
    CHECK_FALSE(decode_request_body(packed, 1).frame_error.empty());  // why owners allow more
    const DecodedRequest forwarded = decode_request_body(packed, 1, kMaxForwardedDepth);
    CHECK(forwarded.frame_error.empty());
    REQUIRE(forwarded.events.size() == 1);
    CHECK(forwarded.events[0].attrs == alone.events[0].attrs);
}
