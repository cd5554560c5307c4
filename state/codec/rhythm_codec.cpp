#include "state/codec/rhythm_codec.hpp"

#include <cmath>
#include <limits>

#include "state/codec/msgpack_read.hpp"

namespace journeyd {
namespace {

template <class Hours>
std::string encode_hours(TimeMs decayed_at, const Hours& hours) {
    msgpack::sbuffer buffer(128);  // 24 hours of a few bytes each
    const char version = static_cast<char>(kRhythmRecordVersion);
    buffer.write(&version, 1);
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    pk.pack_array(2);
    pk.pack(decayed_at);
    pk.pack_array(kHoursPerDay);
    for (const auto& hour : hours) pk.pack(hour);
    return std::string(buffer.data(), buffer.size());
}

// The record's [decayed_at, hours]; `hours` points at its 24 entries.
TimeMs read_envelope(const msgpack::object& root, const msgpack::object*& hours) {
    const msgpack::object* f = fields_of(root, 2, "rhythm hours");
    hours = fields_of(f[1], kHoursPerDay, "hours");
    return as_int(f[0], "decayed_at");
}

EngagementHours read_engagement(const msgpack::object& root) {
    const msgpack::object* hours = nullptr;
    const TimeMs decayed_at = read_envelope(root, hours);
    EngagementHours::Buckets buckets{};
    for (int hour = 0; hour < kHoursPerDay; ++hour) {
        if (hours[hour].type != msgpack::type::POSITIVE_INTEGER ||
            hours[hour].via.u64 > std::numeric_limits<uint16_t>::max())
            throw DecodeError("bad field engagement bucket");
        buckets[hour] = static_cast<uint16_t>(hours[hour].via.u64);
    }
    return EngagementHours(buckets, decayed_at);
}

PopulationHours read_population(const msgpack::object& root) {
    const msgpack::object* hours = nullptr;
    const TimeMs decayed_at = read_envelope(root, hours);
    HourWeights weights{};
    for (int hour = 0; hour < kHoursPerDay; ++hour) {
        weights[hour] = as_double(hours[hour], "population weight");
        if (!std::isfinite(weights[hour]) || weights[hour] < 0)
            throw DecodeError("bad field population weight");
    }
    return PopulationHours(weights, decayed_at);
}

// The largest array a record has is its 24 hours, nested one deep; no maps or strings.
const msgpack::unpack_limit kRecordLimits(kHoursPerDay, 0, 0, 0, 0, 2);

}  // namespace

std::string encode_engagement_hours(const EngagementHours& hours) {
    return encode_hours(hours.decayed_at(), hours.buckets());
}

std::optional<EngagementHours> decode_engagement_hours(std::string_view record,
                                                       std::string& error) {
    return decode_versioned(record, kRhythmRecordVersion, "engagement hours record",
                            read_engagement, error, kRecordLimits);
}

std::string encode_population_hours(const PopulationHours& hours) {
    return encode_hours(hours.decayed_at(), hours.stored_weights());
}

std::optional<PopulationHours> decode_population_hours(std::string_view record,
                                                       std::string& error) {
    return decode_versioned(record, kRhythmRecordVersion, "population hours record",
                            read_population, error, kRecordLimits);
}

}  // namespace journeyd
