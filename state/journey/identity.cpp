#include "state/journey/identity.hpp"

#include <msgpack.hpp>

#include <algorithm>
#include <tuple>

#include "state/codec/event_codec.hpp"
#include "state/codec/msgpack_read.hpp"
#include "state/journey/program_requests.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

std::string encode_alias_record(const AliasRecord& alias) {
    std::string out(1, static_cast<char>(kAliasRecordVersion));
    return out.append(pack_map(std::make_tuple(alias.canonical, alias.recent_ids)));
}

bool is_alias_record(std::string_view record) {
    return !record.empty() && static_cast<uint8_t>(record[0]) == kAliasRecordVersion;
}

std::optional<AliasRecord> decode_alias_record(std::string_view record, std::string& error) {
    if (!is_alias_record(record)) {
        error = "not an alias record";
        return std::nullopt;
    }
    auto fields = unpack_map<std::tuple<std::string, std::vector<uint64_t>>>(record.substr(1),
                                                                             "alias record", error);
    if (!fields) return std::nullopt;
    return AliasRecord{std::move(std::get<0>(*fields)), std::move(std::get<1>(*fields))};
}

std::string encode_alias_list(const std::vector<std::string>& aliases) {
    return pack_map(aliases);
}

std::optional<std::vector<std::string>> decode_alias_list(std::string_view bytes,
                                                          std::string& error) {
    return unpack_map<std::vector<std::string>>(bytes, "alias list", error);
}

void repoint_aliases(const std::vector<std::string>& aliases, const std::string& canonical,
                     const RecordStore& store, std::vector<StoreRecord>& out) {
    for (const std::string& id : aliases) {
        AliasRecord alias{canonical, {}};
        std::string error;
        if (auto bytes = store.read(id))
            if (auto old = decode_alias_record(*bytes, error))
                alias.recent_ids = std::move(old->recent_ids);
        StoreRecord record;
        record.customer = id;
        record.record = encode_alias_record(alias);
        out.push_back(std::move(record));
    }
}

std::vector<uint64_t> oldest_first(const RecentEventIds& ids) {
    const std::vector<uint64_t>& ring = ids.ring();
    if (ring.size() < RecentEventIds::kCapacity) return ring;
    std::vector<uint64_t> ordered(ring.begin() + ids.next_slot(), ring.end());
    ordered.insert(ordered.end(), ring.begin(), ring.begin() + ids.next_slot());
    return ordered;
}

namespace {

// Keys of `from` that `into` lacks are copied; maps present in both are filled key by key.
void fill_missing(nlohmann::json& into, const nlohmann::json& from) {
    if (!into.is_object() || !from.is_object()) return;
    for (const auto& [key, value] : from.items()) {
        auto mine = into.find(key);
        if (mine == into.end())
            into[key] = value;
        else
            fill_missing(*mine, value);
    }
}

void merge_hits(std::vector<WindowHit>& into, const std::vector<WindowHit>& from) {
    into.insert(into.end(), from.begin(), from.end());
    std::sort(into.begin(), into.end(), by_rule_then_ts);
}

// Timers that belong to the customer's stage: they move with it.
bool belongs_to_stage(const PendingTimer& timer) {
    return timer.kind == TimerKind::inactivity || timer.kind == TimerKind::driver_window;
}

void take_timer(JourneyState& into, PendingTimer timer) {
    timer.seq = into.next_timer_seq++;
    into.timers.push_back(std::move(timer));
}

}  // namespace

MergeEffects merge_customer(CustomerState& canonical, const CustomerState& alias,
                            const JourneyModel& model) {
    MergeEffects effects;
    JourneyState& into = canonical.journey;
    const JourneyState& from = alias.journey;

    const ContactPreferences preferences_before = preferences_of(canonical.profile);
    nlohmann::json attrs = canonical.profile.attrs();
    fill_missing(attrs, alias.profile.attrs());
    if (attrs != canonical.profile.attrs()) {
        Profile merged;
        merged.merge(attrs);
        canonical.profile = std::move(merged);
    }
    effects.preferences_changed = preferences_of(canonical.profile) != preferences_before;

    const bool canonical_new = !into.created || into.stage == model.initial_stage;
    const bool stage_from_alias = canonical_new && from.created;
    const std::string stage_before = into.created ? model.stages[into.stage] : std::string();
    if (stage_from_alias) {
        into.stage = from.stage;
        into.stage_since = from.stage_since;
        into.episodes = from.episodes;
        into.timers.erase(std::remove_if(into.timers.begin(), into.timers.end(), belongs_to_stage),
                          into.timers.end());
    }
    for (const PendingTimer& timer : from.timers)
        if (timer.kind == TimerKind::program_delay || (stage_from_alias && belongs_to_stage(timer)))
            take_timer(into, timer);
    into.created = into.created || from.created;
    into.events_seen += from.events_seen;
    into.last_event_ts = std::max(into.last_event_ts, from.last_event_ts);
    into.last_event_at = std::max(into.last_event_at, from.last_event_at);
    merge_hits(into.window_hits, from.window_hits);
    merge_hits(into.condition_hits, from.condition_hits);
    into.goal_windows.insert(into.goal_windows.end(), from.goal_windows.begin(),
                             from.goal_windows.end());

    // The canonical's own ids stay (the newest), the alias's fill the window; its record keeps
    // them all.
    effects.alias = alias_leave(alias, model);
    std::vector<uint64_t> window = effects.alias.recent_ids;
    const std::vector<uint64_t> own = oldest_first(into.recent_ids);
    window.insert(window.end(), own.begin(), own.end());
    if (window.size() > RecentEventIds::kCapacity)
        window.erase(window.begin(), window.end() - RecentEventIds::kCapacity);
    into.recent_ids.restore(std::move(window), 0);

    const std::string stage_after = into.created ? model.stages[into.stage] : std::string();
    if (stage_after != stage_before) effects.stage_move.emplace(stage_before, stage_after);
    return effects;
}

AliasLeave alias_leave(const CustomerState& alias, const JourneyModel& model) {
    const JourneyState& j = alias.journey;
    AliasLeave leave;
    leave.move = {j.created ? model.stages[j.stage] : std::string(), std::string()};
    for (uint16_t segment : j.segments)
        leave.counter_changes.emplace_back(kSegmentCount + model.conditions.segments[segment].name,
                                           -1);
    leave.counter_changes.emplace_back(kAliasCount, 1);
    leave.recent_ids = oldest_first(j.recent_ids);
    return leave;
}

std::string encode_merge_in(const MergeIn& in) {
    return pack_map(std::make_tuple(in.alias, in.into, in.record, in.aliases, in.repoint,
                                    pack_events({in.identify}), in.handover));
}

std::optional<MergeIn> decode_merge_in(std::string_view bytes, std::string& error) {
    using Fields = std::tuple<std::string, std::string, std::string, std::vector<std::string>,
                              std::vector<std::string>, std::string, std::string>;
    auto fields = unpack_map<Fields>(bytes, "merge", error);
    if (!fields) return std::nullopt;
    // The identify was validated where it arrived.
    DecodedRequest identify = decode_request_body(std::get<5>(*fields), 0);
    if (identify.events.size() != 1) {
        error = "merge unreadable: its identify event: " +
                (identify.frame_error.empty() ? std::string("missing") : identify.frame_error);
        return std::nullopt;
    }
    MergeIn in;
    in.alias = std::move(std::get<0>(*fields));
    in.into = std::move(std::get<1>(*fields));
    in.record = std::move(std::get<2>(*fields));
    in.aliases = std::move(std::get<3>(*fields));
    in.repoint = std::move(std::get<4>(*fields));
    in.identify = std::move(identify.events[0]);
    in.handover = std::move(std::get<6>(*fields));
    return in;
}

}  // namespace journeyd
