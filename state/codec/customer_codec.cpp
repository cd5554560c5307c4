#include "state/codec/customer_codec.hpp"

#include "state/codec/msgpack_json.hpp"
#include "state/codec/msgpack_read.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {
namespace {

// Records written before the condition language have three fields fewer (no condition_hits,
// no segments, no goal windows); some written while it was being built two or one fewer.
// Records written before drivers have no episodes (16 fields), before send time no engagement
// hours (17).
constexpr uint32_t kFields = 18;
constexpr uint32_t kOldestFields = 13;

// nullopt when the model has no such driver, inactivity rule or program.
std::optional<uint16_t> index_of_timer(const JourneyModel& model, TimerKind kind,
                                       const std::string& name) {
    if (kind == TimerKind::segments) return 0;
    if (kind == TimerKind::driver_window) return model.driver_id(name);
    if (kind == TimerKind::inactivity) {
        for (size_t i = 0; i < model.timers.size(); ++i)
            if (model.timers[i].name == name) return static_cast<uint16_t>(i);
        return std::nullopt;
    }
    return model.program_id(name);
}

std::string_view timer_rule_name(const JourneyModel& model, const PendingTimer& timer) {
    switch (timer.kind) {
        case TimerKind::driver_window:
            return model.driver_name(timer.rule);
        case TimerKind::inactivity:
            return model.timers[timer.rule].name;
        case TimerKind::program_delay:
            return model.programs[timer.rule].name;
        case TimerKind::segments:
            break;
    }
    return kSegmentsTimer;
}

// Windows are stored by the event type they count, not by index: a type the configuration no
// longer counts is dropped, and a window that keeps fewer times keeps the newest. The stored
// `within` is informational (the next event prunes by the configuration's).
void read_condition_hits(const msgpack::object& o, const ConditionModel& model, JourneyState& j) {
    const auto& windows = as_array(o, "condition_hits");
    for (uint32_t i = 0; i < windows.size; ++i) {
        const auto& w = as_array(windows.ptr[i], "condition window");
        if (w.size != 3) throw DecodeError("bad condition window");
        const std::string type = as_string(w.ptr[0], "window type");
        as_int(w.ptr[1], "window within");
        const auto& times = as_array(w.ptr[2], "window times");
        for (size_t k = 0; k < model.windows.size(); ++k) {
            if (model.windows[k].type != type) continue;
            const uint32_t skip =
                times.size > model.windows[k].keep ? times.size - model.windows[k].keep : 0;
            for (uint32_t t = skip; t < times.size; ++t)
                j.condition_hits.push_back(
                    {static_cast<uint16_t>(k), as_int(times.ptr[t], "window time")});
        }
    }
    std::sort(j.condition_hits.begin(), j.condition_hits.end(), by_rule_then_ts);
}

// By name: a segment the configuration no longer has is dropped (it has no count to leave).
void read_segments(const msgpack::object& o, const ConditionModel& model, JourneyState& j) {
    const auto& names = as_array(o, "segments");
    for (uint32_t i = 0; i < names.size; ++i)
        if (auto id = model.segment_id(as_string(names.ptr[i], "segment")))
            j.segments.push_back(*id);
    std::sort(j.segments.begin(), j.segments.end());
}

// By name: the window of an action or program the configuration no longer has is dropped.
// Windows written before programs had goals have four fields and are an action's.
void read_goal_windows(const msgpack::object& o, const JourneyModel& model, JourneyState& j) {
    const auto& windows = as_array(o, "goal_windows");
    for (uint32_t i = 0; i < windows.size; ++i) {
        uint32_t size = 0;
        const msgpack::object* w = fields_between(windows.ptr[i], 4, 5, "goal window", size);
        const int64_t of = size > 4 ? as_int(w[4], "goal window of") : 0;
        if (of < 0 || of > static_cast<int64_t>(GoalOf::action_control))
            throw DecodeError("bad field goal window of");
        const std::string name = as_string(w[0], "goal window name");
        const auto id =
            of_action(static_cast<GoalOf>(of)) ? model.action_id(name) : model.program_id(name);
        const uint64_t decision =
            expect(w[1], msgpack::type::POSITIVE_INTEGER, "goal window decision").via.u64;
        const TimeMs sent_at = as_int(w[2], "goal window sent_at");
        const TimeMs closes_at = as_int(w[3], "goal window closes_at");
        if (id)
            j.goal_windows.push_back({static_cast<GoalOf>(of), *id, decision, sent_at, closes_at});
    }
}

// By driver name (from, to and window): the episode of a driver the configuration no longer
// declares is dropped, as is one that no longer starts in the customer's stage.
void read_episodes(const msgpack::object& o, const JourneyModel& model, JourneyState& j) {
    const auto& episodes = as_array(o, "episodes");
    for (uint32_t i = 0; i < episodes.size; ++i) {
        const msgpack::object* e = fields_of(episodes.ptr[i], 4, "episode");
        const auto driver = model.driver_id(as_string(e[0], "episode driver"));
        DriverEpisode episode;
        episode.opened_at = as_int(e[1], "episode opened_at");
        episode.other = expect(e[2], msgpack::type::BOOLEAN, "episode other").via.boolean;
        const auto& types = as_array(e[3], "episode types");
        for (uint32_t t = 0; t < types.size; ++t) {
            const std::string type = as_string(types.ptr[t], "episode type");
            episode.note(type, stable_hash(type));
        }
        if (!driver || model.drivers[*driver].from != j.stage) continue;
        episode.driver = *driver;
        j.episodes.push_back(std::move(episode));
    }
}

void pack_episodes(msgpack::packer<msgpack::sbuffer>& pk, const JourneyModel& model,
                   const JourneyState& j) {
    pk.pack_array(static_cast<uint32_t>(j.episodes.size()));
    for (const DriverEpisode& episode : j.episodes) {
        pk.pack_array(4);
        pk.pack(model.driver_name(episode.driver));
        pk.pack(episode.opened_at);
        pk.pack(episode.other);
        pk.pack_array(static_cast<uint32_t>(episode.seen.size()));
        episode.for_each_type([&](std::string_view type) { pk.pack(type); });
    }
}

void pack_condition_hits(msgpack::packer<msgpack::sbuffer>& pk, const ConditionModel& model,
                         const JourneyState& j) {
    uint32_t windows = 0;
    for (size_t i = 0; i < j.condition_hits.size(); ++i)
        if (i == 0 || j.condition_hits[i].rule != j.condition_hits[i - 1].rule) ++windows;
    pk.pack_array(windows);
    for (auto first = j.condition_hits.begin(); first != j.condition_hits.end();) {
        const auto [begin, end] = hits_of(j.condition_hits, first->rule);
        const EventWindow& window = model.windows[first->rule];
        pk.pack_array(3);
        pk.pack(window.type);
        pk.pack(window.within);
        pk.pack_array(static_cast<uint32_t>(end - begin));
        for (auto hit = begin; hit != end; ++hit) pk.pack(hit->ts);
        first = end;
    }
}

// A customer who never engaged costs one byte: nil. Else [decayed_at, [24 bucket units]].
void pack_hours(msgpack::packer<msgpack::sbuffer>& pk, const EngagementHours& hours) {
    if (hours == EngagementHours()) {
        pk.pack_nil();
        return;
    }
    pk.pack_array(2);
    pk.pack(hours.decayed_at());
    pk.pack_array(kHoursPerDay);
    for (uint16_t bucket : hours.buckets()) pk.pack(bucket);
}

EngagementHours read_hours(const msgpack::object& o) {
    if (o.type == msgpack::type::NIL) return {};
    const msgpack::object* f = fields_of(o, 2, "hours");
    const auto& buckets = as_array(f[1], "hours buckets");
    if (buckets.size != kHoursPerDay) throw DecodeError("hours: 24 buckets expected");
    EngagementHours::Buckets read{};
    for (int h = 0; h < kHoursPerDay; ++h) {
        const uint64_t units =
            expect(buckets.ptr[h], msgpack::type::POSITIVE_INTEGER, "hours bucket").via.u64;
        if (units > 0xffff) throw DecodeError("hours: a bucket above 65535");
        read[h] = static_cast<uint16_t>(units);
    }
    return EngagementHours(read, as_int(f[0], "hours decayed_at"));
}

CustomerState read_customer(const msgpack::object& root, const JourneyModel& model,
                            ReadNotes* notes) {
    if (notes) *notes = ReadNotes{};
    uint32_t size = 0;
    const msgpack::object* f = fields_between(root, kOldestFields, kFields, "record", size);
    CustomerState c;
    c.id = as_string(f[0], "id");
    std::string error;
    auto attrs = msgpack_to_json(expect(f[1], msgpack::type::MAP, "profile"), error);
    if (!attrs) throw DecodeError("profile: " + error);
    c.profile.merge(*attrs);
    JourneyState& j = c.journey;
    j.created = expect(f[2], msgpack::type::BOOLEAN, "created").via.boolean;
    const std::string stage = as_string(f[3], "stage");
    auto stage_id = model.stage_or_migrated(stage);
    if (!stage_id) throw DecodeError("the configuration has no stage \"" + stage + "\"");
    j.stage = *stage_id;
    if (notes && model.stages[*stage_id] != stage) notes->migrated_from = stage;
    j.stage_since = as_int(f[4], "stage_since");
    j.events_seen = static_cast<uint64_t>(as_int(f[5], "events_seen"));
    j.last_event_ts = as_int(f[6], "last_event_ts");
    j.last_event_at = as_int(f[7], "last_event_at");
    const auto& hits = as_array(f[8], "window_hits");
    for (uint32_t i = 0; i + 1 < hits.size; i += 2) {
        const auto rule = static_cast<uint16_t>(as_int(hits.ptr[i], "window rule"));
        if (rule < model.transitions.size() && model.transitions[rule].counts())
            j.window_hits.push_back({rule, as_int(hits.ptr[i + 1], "window ts")});
    }
    const auto& timers = as_array(f[9], "timers");
    for (uint32_t i = 0; i < timers.size; ++i) {
        const auto& tf = as_array(timers.ptr[i], "timer");
        if (tf.size != 5) throw DecodeError("bad timer");
        PendingTimer timer;
        timer.seq = static_cast<uint32_t>(as_int(tf.ptr[0], "timer seq"));
        timer.kind = static_cast<TimerKind>(as_int(tf.ptr[1], "timer kind"));
        if (timer.kind != TimerKind::inactivity && timer.kind != TimerKind::program_delay &&
            timer.kind != TimerKind::segments && timer.kind != TimerKind::driver_window)
            throw DecodeError("bad timer kind");
        const auto rule = index_of_timer(model, timer.kind, as_string(tf.ptr[2], "timer name"));
        timer.due = as_int(tf.ptr[3], "timer due");
        timer.cause = as_string(tf.ptr[4], "timer cause");
        if (!rule) {
            // A driver's window simply ends with its driver; the others are the caller's to
            // settle (the stage's timers are armed again, a program's delay is dropped).
            if (timer.kind != TimerKind::driver_window && notes) ++notes->timers_dropped;
            continue;
        }
        timer.rule = *rule;
        j.timers.push_back(std::move(timer));
    }
    j.next_timer_seq = static_cast<uint32_t>(as_int(f[10], "next_timer_seq"));
    const auto& ring = as_array(f[11], "recent_ids");
    std::vector<uint64_t> fingerprints;
    for (uint32_t i = 0; i < ring.size; ++i)
        fingerprints.push_back(static_cast<uint64_t>(
            expect(ring.ptr[i], msgpack::type::POSITIVE_INTEGER, "recent id").via.u64));
    j.recent_ids.restore(std::move(fingerprints),
                         static_cast<uint32_t>(as_int(f[12], "recent_ids slot")));
    if (size > 13) read_condition_hits(f[13], model.conditions, j);
    if (size > 14) read_segments(f[14], model.conditions, j);
    if (size > 15) read_goal_windows(f[15], model, j);
    if (size > 16) read_episodes(f[16], model, j);
    if (size > 17) j.hours = read_hours(f[17]);
    // A driver window timer whose episode was dropped has nothing to close.
    j.timers.erase(std::remove_if(j.timers.begin(), j.timers.end(),
                                  [&](const PendingTimer& t) {
                                      return t.kind == TimerKind::driver_window &&
                                             std::none_of(j.episodes.begin(), j.episodes.end(),
                                                          [&](const DriverEpisode& e) {
                                                              return e.driver == t.rule;
                                                          });
                                  }),
                   j.timers.end());
    return c;
}

}  // namespace

std::string encode_customer(const CustomerState& c, const JourneyModel& model) {
    // Encoded once per event: a record is a few hundred bytes, not sbuffer's default 8 KiB.
    msgpack::sbuffer buffer(512);
    const char version = static_cast<char>(kCustomerRecordVersion);
    buffer.write(&version, 1);
    msgpack::packer<msgpack::sbuffer> pk(buffer);
    const JourneyState& j = c.journey;
    pk.pack_array(kFields);
    pk.pack(c.id);
    pack_json(pk, c.profile.attrs());
    pk.pack(j.created);
    pk.pack(model.stages[j.stage]);
    pk.pack(j.stage_since);
    pk.pack(j.events_seen);
    pk.pack(j.last_event_ts);
    pk.pack(j.last_event_at);
    pk.pack_array(static_cast<uint32_t>(j.window_hits.size() * 2));
    for (const WindowHit& hit : j.window_hits) {
        pk.pack(hit.rule);
        pk.pack(hit.ts);
    }
    pk.pack_array(static_cast<uint32_t>(j.timers.size()));
    for (const PendingTimer& timer : j.timers) {
        pk.pack_array(5);
        pk.pack(timer.seq);
        pk.pack(static_cast<uint8_t>(timer.kind));
        pk.pack(timer_rule_name(model, timer));
        pk.pack(timer.due);
        pk.pack(timer.cause);
    }
    pk.pack(j.next_timer_seq);
    pk.pack(j.recent_ids.ring());
    pk.pack(j.recent_ids.next_slot());
    pack_condition_hits(pk, model.conditions, j);
    pk.pack_array(static_cast<uint32_t>(j.segments.size()));
    for (uint16_t segment : j.segments) pk.pack(model.conditions.segments[segment].name);
    pk.pack_array(static_cast<uint32_t>(j.goal_windows.size()));
    for (const GoalWindow& w : j.goal_windows) {
        pk.pack_array(5);
        pk.pack(of_action(w.of) ? model.actions[w.id].name : model.programs[w.id].name);
        pk.pack(w.decision);
        pk.pack(w.sent_at);
        pk.pack(w.closes_at);
        pk.pack(static_cast<uint8_t>(w.of));
    }
    pack_episodes(pk, model, j);
    pack_hours(pk, j.hours);
    return std::string(buffer.data(), buffer.size());
}

std::optional<CustomerState> decode_customer(std::string_view record, const JourneyModel& model,
                                             std::string& error, ReadNotes* notes) {
    return decode_versioned(
        record, kCustomerRecordVersion, "customer record",
        [&](const msgpack::object& root) { return read_customer(root, model, notes); }, error);
}

}  // namespace journeyd
