#include "state/codec/pressure_codec.hpp"

#include "state/codec/msgpack_read.hpp"

namespace journeyd {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

std::string finish(const msgpack::sbuffer& buffer) {
    return std::string(buffer.data(), buffer.size());
}

// The version byte goes first, then the packer writes the body after it.
msgpack::sbuffer versioned_buffer() {
    // Records of requests, histories and deliveries are a few hundred bytes to a few KB; the
    // coordinator encodes thousands a second, so not sbuffer's default 8 KiB each.
    msgpack::sbuffer buffer(1024);
    const char version = static_cast<char>(kPressureRecordVersion);
    buffer.write(&version, 1);
    return buffer;
}

ProgramId program_named(const JourneyModel& model, const std::string& name) {
    auto id = model.program_id(name);
    if (!id) throw DecodeError("the configuration has no program \"" + name + "\"");
    return *id;
}

// Ranked candidate actions as [name, propensity, score] triples.
void pack_candidates(Packer& pk, const std::vector<RankedAction>& candidates,
                     const JourneyModel& model) {
    pk.pack_array(static_cast<uint32_t>(candidates.size()));
    for (const RankedAction& c : candidates) {
        pk.pack_array(3);
        pk.pack(model.actions[c.action].name);
        pk.pack(c.propensity);
        pk.pack(c.score);
    }
}

// An action the configuration no longer has is left out; a decision naming one keeps kNoAction.
std::vector<RankedAction> read_candidates(const msgpack::object& o, const JourneyModel& model) {
    std::vector<RankedAction> candidates;
    const auto& list = as_array(o, "candidates");
    for (uint32_t i = 0; i < list.size; ++i) {
        const msgpack::object* c = fields_of(list.ptr[i], 3, "candidate");
        if (auto id = model.action_id(as_string(c[0], "candidate action")))
            candidates.push_back({*id, as_double(c[1], "propensity"), as_double(c[2], "score")});
    }
    return candidates;
}

ActionId action_named(const JourneyModel& model, const std::string& name) {
    if (name.empty()) return kNoAction;
    return model.action_id(name).value_or(kNoAction);
}

void pack_request(Packer& pk, const ContactRequest& r, const JourneyModel& model) {
    pk.pack_array(10);
    pk.pack(r.decision_id);
    pk.pack(r.customer);
    pk.pack(model.programs[r.program].name);
    pk.pack(r.cause);
    pk.pack(r.at);
    pk.pack(r.dropped_reason);
    pk.pack(r.preferences.time_zone);
    pk.pack(r.preferences.refused_channels);
    pack_candidates(pk, r.candidates, model);
    if (r.send_hours)
        pk.pack(*r.send_hours);
    else
        pk.pack_nil();
}

std::optional<SendHours> read_send_hours(const msgpack::object& o) {
    if (o.type == msgpack::type::NIL) return std::nullopt;
    const auto& list = as_array(o, "send_hours");
    if (list.size != kHoursPerDay) throw DecodeError("bad field send_hours");
    SendHours hours{};
    for (uint32_t i = 0; i < list.size; ++i) {
        const int64_t weight = as_int(list.ptr[i], "send_hours");
        if (weight < 0 || weight > 65535) throw DecodeError("bad field send_hours");
        hours[i] = static_cast<uint16_t>(weight);
    }
    return hours;
}

ContactRequest read_request(const msgpack::object& root, const JourneyModel& model) {
    uint32_t size = 0;
    const msgpack::object* f = fields_between(root, 8, 10, "request", size);
    ContactRequest r;
    r.decision_id = as_string(f[0], "decision_id");
    r.customer = as_string(f[1], "customer");
    r.program = program_named(model, as_string(f[2], "program"));
    r.cause = as_string(f[3], "cause");
    r.at = as_int(f[4], "at");
    r.dropped_reason = as_string(f[5], "dropped_reason");
    r.preferences.time_zone = as_string(f[6], "time_zone");
    const auto& refused = as_array(f[7], "refused_channels");
    for (uint32_t i = 0; i < refused.size; ++i)
        r.preferences.refused_channels.push_back(as_string(refused.ptr[i], "refused channel"));
    if (size > 8) r.candidates = read_candidates(f[8], model);
    if (size > 9) r.send_hours = read_send_hours(f[9]);
    return r;
}

Outcome as_outcome(const msgpack::object& o) {
    const int64_t outcome = as_int(o, "outcome");
    if (outcome < 0 || outcome > static_cast<int64_t>(Outcome::suppress))
        throw DecodeError("bad field outcome");
    return static_cast<Outcome>(outcome);
}

void pack_decision(Packer& pk, const Decision& d, const JourneyModel& model) {
    pk.pack_array(13);
    pk.pack(d.decision_id);
    pk.pack(model.programs[d.program].name);
    pk.pack(static_cast<uint8_t>(d.outcome));
    pk.pack(d.reason);
    pk.pack(d.detail);
    pk.pack(d.until);
    pk.pack(d.at);
    pk.pack(d.requested_at);
    pk.pack(model.action_name(d.action));
    pack_candidates(pk, d.candidates, model);
    pk.pack_array(static_cast<uint32_t>(d.skipped.size()));
    for (const SkippedAction& skipped : d.skipped) {
        pk.pack_array(2);
        pk.pack(model.actions[skipped.action].name);
        pk.pack(skipped.reason);
    }
    if (d.would_have)
        pk.pack(static_cast<uint8_t>(*d.would_have));
    else
        pk.pack_nil();
    pk.pack(d.config_version);
}

std::optional<Decision> read_decision(const msgpack::object& o, const std::string& customer,
                                      const JourneyModel& model) {
    uint32_t size = 0;
    const msgpack::object* f = fields_between(o, 8, 13, "decision", size);
    auto program = model.program_id(as_string(f[1], "decision program"));
    if (!program) return std::nullopt;
    const Outcome outcome = as_outcome(f[2]);
    Decision d;
    d.decision_id = as_string(f[0], "decision_id");
    d.customer = customer;
    d.program = *program;
    d.outcome = outcome;
    if (size > 11 && f[11].type != msgpack::type::NIL) d.would_have = as_outcome(f[11]);
    if (size > 12) d.config_version = as_string(f[12], "config_version");
    d.reason = as_string(f[3], "reason");
    d.detail = as_string(f[4], "detail");
    d.until = as_int(f[5], "until");
    d.at = as_int(f[6], "decided at");
    d.requested_at = as_int(f[7], "requested_at");
    if (size > 8) d.action = action_named(model, as_string(f[8], "decision action"));
    if (size > 9) d.candidates = read_candidates(f[9], model);
    if (size > 10) {
        const auto& skipped = as_array(f[10], "skipped");
        for (uint32_t i = 0; i < skipped.size; ++i) {
            const msgpack::object* k = fields_of(skipped.ptr[i], 2, "skipped action");
            if (auto id = model.action_id(as_string(k[0], "skipped action")))
                d.skipped.push_back({*id, as_string(k[1], "skipped reason")});
        }
    }
    return d;
}

PressureHistory read_history(const msgpack::object& root, const std::string& customer,
                             const JourneyModel& model) {
    const msgpack::object* f = fields_of(root, 2, "history");
    PressureHistory history;
    const auto& sends = as_array(f[0], "sends");
    for (uint32_t i = 0; i < sends.size; ++i) {
        uint32_t size = 0;
        const msgpack::object* s = fields_between(sends.ptr[i], 3, 4, "send", size);
        auto program = model.program_id(as_string(s[0], "send program"));
        if (!program) continue;
        history.sends.push_back(
            {*program, as_int(s[1], "send at"),
             expect(s[2], msgpack::type::BOOLEAN, "counts_against_caps").via.boolean,
             size > 3 ? action_named(model, as_string(s[3], "send action")) : kNoAction});
    }
    const auto& decisions = as_array(f[1], "decisions");
    for (uint32_t i = 0; i < decisions.size; ++i)
        if (auto d = read_decision(decisions.ptr[i], customer, model))
            history.decisions.push_back(std::move(*d));
    return history;
}

void pack_delivery(Packer& pk, const Delivery& d) {
    pk.pack_array(9);
    pk.pack(d.decision_id);
    pk.pack(d.customer);
    pk.pack(d.program);
    pk.pack(d.channel);
    pk.pack(d.template_name);
    pk.pack(d.priority);
    pk.pack(d.decided_at);
    pk.pack(d.action);
    pk.pack(d.config_version);
}

Delivery read_delivery(const msgpack::object& root) {
    uint32_t size = 0;
    const msgpack::object* f = fields_between(root, 7, 9, "delivery", size);
    Delivery d;
    d.decision_id = as_string(f[0], "decision_id");
    d.customer = as_string(f[1], "customer");
    d.program = as_string(f[2], "program");
    d.channel = as_string(f[3], "channel");
    d.template_name = as_string(f[4], "template");
    d.priority = as_string(f[5], "priority");
    d.decided_at = as_int(f[6], "decided_at");
    if (size > 7) d.action = as_string(f[7], "action");
    if (size > 8) d.config_version = as_string(f[8], "config_version");
    return d;
}

}  // namespace

std::string encode_request(const ContactRequest& request, const JourneyModel& model) {
    msgpack::sbuffer buffer = versioned_buffer();
    Packer pk(buffer);
    pack_request(pk, request, model);
    return finish(buffer);
}

std::optional<ContactRequest> decode_request(std::string_view record, const JourneyModel& model,
                                             std::string& error) {
    return decode_versioned(
        record, kPressureRecordVersion, "contact request record",
        [&model](const msgpack::object& root) { return read_request(root, model); }, error);
}

std::string encode_history(const std::vector<Contact>& sends,
                           const std::vector<Decision>& decisions, const JourneyModel& model) {
    msgpack::sbuffer buffer = versioned_buffer();
    Packer pk(buffer);
    pk.pack_array(2);
    pk.pack_array(static_cast<uint32_t>(sends.size()));
    for (const Contact& send : sends) {
        pk.pack_array(4);
        pk.pack(model.programs[send.program].name);
        pk.pack(send.at);
        pk.pack(send.counts_against_caps);
        pk.pack(model.action_name(send.action));
    }
    pk.pack_array(static_cast<uint32_t>(decisions.size()));
    for (const Decision& d : decisions) pack_decision(pk, d, model);
    return finish(buffer);
}

std::string encode_history(const PressureHistory& history, const JourneyModel& model) {
    return encode_history(history.sends, history.decisions, model);
}

std::optional<PressureHistory> decode_history(std::string_view record, const std::string& customer,
                                              const JourneyModel& model, std::string& error) {
    return decode_versioned(
        record, kPressureRecordVersion, "contact history record",
        [&](const msgpack::object& root) { return read_history(root, customer, model); }, error);
}

std::string encode_handover(const Handover& handover, const JourneyModel& model) {
    std::vector<std::string> held;
    for (const ContactRequest& request : handover.held)
        held.push_back(encode_request(request, model));
    return pack_map(std::make_pair(encode_history(handover.history, model), held));
}

std::optional<Handover> decode_handover(std::string_view bytes, const std::string& customer,
                                        const JourneyModel& model, std::string& error) {
    auto parts = unpack_map<std::pair<std::string, std::vector<std::string>>>(
        bytes, "pressure handover", error);
    if (!parts) return std::nullopt;
    auto history = decode_history(parts->first, customer, model, error);
    if (!history) return std::nullopt;
    Handover handover{std::move(*history), {}};
    for (const std::string& held : parts->second) {
        auto request = decode_request(held, model, error);
        if (!request) return std::nullopt;
        handover.held.push_back(std::move(*request));
    }
    return handover;
}

std::string encode_delivery(const Delivery& d) {
    msgpack::sbuffer buffer = versioned_buffer();
    Packer pk(buffer);
    pack_delivery(pk, d);
    return finish(buffer);
}

std::string encode_dead_letter(const DeadLetter& dead) {
    msgpack::sbuffer buffer = versioned_buffer();
    Packer pk(buffer);
    pk.pack_array(4);
    pack_delivery(pk, dead.delivery);
    pk.pack(dead.status);
    pk.pack(dead.error);
    pk.pack(dead.at);
    return finish(buffer);
}

std::optional<DeadLetter> decode_dead_letter(std::string_view record, std::string& error) {
    return decode_versioned(
        record, kPressureRecordVersion, "dead letter record",
        [](const msgpack::object& root) {
            const msgpack::object* f = fields_of(root, 4, "dead letter");
            DeadLetter dead;
            dead.delivery = read_delivery(f[0]);
            dead.status = static_cast<int>(as_int(f[1], "status"));
            dead.error = as_string(f[2], "error");
            dead.at = as_int(f[3], "at");
            return dead;
        },
        error);
}

std::optional<Delivery> decode_delivery(std::string_view record, std::string& error) {
    return decode_versioned(record, kPressureRecordVersion, "outbox record", read_delivery, error);
}

std::string encode_notice(const GoalNotice& notice, const JourneyModel& model) {
    msgpack::sbuffer buffer = versioned_buffer();
    Packer pk(buffer);
    pk.pack_array(6);
    pk.pack(notice.decision_id);
    pk.pack(notice.customer);
    pk.pack(model.action_name(notice.action));
    pk.pack(notice.sent_at);
    pk.pack(model.programs[notice.program].name);
    pk.pack(notice.control);
    return finish(buffer);
}

// Notices written before programs had goals name an action alone, and no program.
std::optional<GoalNotice> decode_notice(std::string_view record, const JourneyModel& model,
                                        std::string& error) {
    return decode_versioned(
        record, kPressureRecordVersion, "goal notice record",
        [&model](const msgpack::object& root) {
            uint32_t size = 0;
            const msgpack::object* f = fields_between(root, 4, 6, "goal notice", size);
            GoalNotice notice;
            notice.decision_id = as_string(f[0], "decision_id");
            notice.customer = as_string(f[1], "customer");
            const std::string action = as_string(f[2], "action");
            if (!action.empty()) {
                const auto id = model.action_id(action);
                if (!id) throw DecodeError("the configuration has no action \"" + action + "\"");
                notice.action = *id;
            }
            notice.sent_at = as_int(f[3], "sent_at");
            if (size > 4) {
                const std::string program = as_string(f[4], "program");
                const auto id = model.program_id(program);
                if (!id) throw DecodeError("the configuration has no program \"" + program + "\"");
                notice.program = *id;
            }
            if (size > 5)
                notice.control = expect(f[5], msgpack::type::BOOLEAN, "control").via.boolean;
            return notice;
        },
        error);
}

}  // namespace journeyd
