// libFuzzer harness: any bytes as the body of one ingest frame (state/codec/event_codec.hpp), then
// every valid event through the journey engine of the embedded default journey and the
// customer record codec.
//
// Beyond "no crash, no sanitizer report", it checks what the ingest connection relies on: a
// frame error comes alone; otherwise every event of the frame is either valid (and then
// within the documented bounds) or named by its index; the answer encodes. And what the
// store relies on: a customer changed by these events reads back from its record equal.
// And what the sinks rely on: the ids of a valid event can be written as JSON.
#include <msgpack.hpp>
#include <set>

#include "config/config.hpp"
#include "fuzz_check.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/event_codec.hpp"
#include "state/journey/journey_engine.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kReceiveTime = 1'700'000'000'000;

const JourneyEngine& engine() {
    static const JourneyEngine instance(load_default_config().config->journey);
    return instance;
}

void check_bounds(const Event& event) {
    FUZZ_CHECK(!event.id.empty() && event.id.size() <= kMaxIdBytes);
    FUZZ_CHECK(!event.customer.empty() && event.customer.size() <= kMaxIdBytes);
    FUZZ_CHECK(!event.type.empty() && event.type.size() <= kMaxTypeBytes);
    FUZZ_CHECK(event.ts >= 0);
    FUZZ_CHECK(event.attrs.is_null() || event.attrs.is_object());
    // The ids go into JSON in the admin API and in every delivery: dump() must not throw.
    const nlohmann::json ids = {
        {"id", event.id}, {"customer", event.customer}, {"type", event.type}};
    FUZZ_CHECK(!ids.dump().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    // A member's answer to a forwarded batch: any bytes must give results or an error.
    std::string results_error;
    if (!decode_event_results(body, results_error)) FUZZ_CHECK(!results_error.empty());
    DecodedRequest request = decode_request_body(body, kReceiveTime);
    if (!request.frame_error.empty()) {
        FUZZ_CHECK(request.events.empty() && request.errors.empty());
        encode_frame_error(request.frame_error);
        return 0;
    }
    FUZZ_CHECK(request.events.size() == request.index.size());
    FUZZ_CHECK(request.events.size() + request.errors.size() == request.size);
    std::set<uint32_t> indexes;
    for (uint32_t index : request.index) indexes.insert(index);
    for (const EventError& error : request.errors) {
        FUZZ_CHECK(!error.error.empty());
        indexes.insert(error.index);
    }
    FUZZ_CHECK(indexes.size() == request.size);  // each position once, valid or not
    FUZZ_CHECK(request.size == 0 || *indexes.rbegin() == request.size - 1);

    FrameAnswer answer;
    answer.accepted = static_cast<uint32_t>(request.events.size());
    answer.errors = request.errors;
    const std::string encoded = encode_answer(answer);
    FUZZ_CHECK(msgpack::unpack(encoded.data(), encoded.size())->type == msgpack::type::MAP);

    // What a node forwards to an owner reads back as the same events.
    const DecodedRequest forwarded =
        decode_request_body(pack_events(request.events), kReceiveTime, kMaxForwardedDepth);
    FUZZ_CHECK(forwarded.frame_error.empty() && forwarded.errors.empty());
    FUZZ_CHECK(forwarded.events.size() == request.events.size());
    for (size_t i = 0; i < forwarded.events.size(); ++i) {
        FUZZ_CHECK(forwarded.events[i].id == request.events[i].id);
        FUZZ_CHECK(forwarded.events[i].attrs == request.events[i].attrs);
    }

    CustomerState customer;
    Effects effects;
    for (const Event& event : request.events) {
        check_bounds(event);
        customer.id = event.customer;
        engine().apply(customer, event, kReceiveTime, effects);
    }
    if (!customer.journey.created) return 0;
    engine().fire_due(customer, kReceiveTime + 400LL * 86'400'000, effects);
    std::string error;
    const auto decoded =
        decode_customer(encode_customer(customer, engine().model()), engine().model(), error);
    FUZZ_CHECK(decoded.has_value());
    FUZZ_CHECK(*decoded == customer);
    return 0;
}
