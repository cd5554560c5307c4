#include "actors/ingest_session.hpp"

#include <spdlog/spdlog.h>
#include <algorithm>
#include <deque>
#include <unordered_set>

#include "actors/messages.hpp"
#include "state/codec/event_codec.hpp"

namespace journeyd {
namespace {

using caf::io::connection_handle;
using caf::io::receive_policy;

struct PendingFrame {
    FrameAnswer answer;
    uint32_t outstanding = 0;  // events sent to customers, not yet acknowledged
    std::string frame_error;   // set: answered with {"ok": false, "error"}
    bool close_after = false;  // the stream is no longer framed: close once answered
};

struct Session {
    connection_handle handle;
    std::shared_ptr<const IngestContext> context;
    std::deque<PendingFrame> frames;  // unanswered, oldest first
    uint64_t first_seq = 0;           // sequence number of frames.front()
    // Bytes read but not yet framed: at most one read and one incomplete frame, since
    // framing stops while the session is paused and the socket is not read then either.
    std::string received;
    uint64_t unsent_bytes = 0;
    bool paused = false;
    bool draining = false;
    bool closing = false;
};

void finish(caf::io::broker* self, Session& s) {
    s.closing = true;
    self->flush(s.handle);
    self->close(s.handle);
    --s.context->metrics->connections_open;
    self->quit();
}

constexpr std::chrono::milliseconds kResumeAgainAfter[] = {std::chrono::milliseconds(5),
                                                           std::chrono::milliseconds(100)};

void apply_flow_control(caf::io::broker* self, Session& s) {
    const IngestLimits& limits = s.context->limits;
    if (s.draining || s.closing) return;
    const bool over =
        s.frames.size() >= limits.max_pending_frames || s.unsent_bytes >= limits.max_unsent_bytes;
    const bool well_under = s.frames.size() <= limits.max_pending_frames / 2 &&
                            s.unsent_bytes <= limits.max_unsent_bytes / 2;
    if (!s.paused && over) {
        s.paused = true;
        ++s.context->metrics->backpressure_pauses;
        LimitHits& hits = s.context->metrics->limit_hits;
        if (s.frames.size() >= limits.max_pending_frames) hits.hit(Limit::max_pending_frames);
        if (s.unsent_bytes >= limits.max_unsent_bytes) hits.hit(Limit::max_unsent_bytes);
        self->halt(s.handle);
    } else if (s.paused && well_under) {
        s.paused = false;
        self->trigger(s.handle);
        self->send(self, take_frames_atom::value);  // frames already received wait in `received`
        // CAF 0.17 drops a resume that comes before the multiplexer has applied the pause
        // (the stream still holds its reader, then loses it): resuming again a little later
        // is harmless when reading already goes on, and revives a session that would stall.
        for (auto delay : kResumeAgainAfter) self->delayed_send(self, delay, resume_atom::value);
    }
}

// Writes the answers of every completed frame at the front, in order.
void answer_ready_frames(caf::io::broker* self, Session& s) {
    bool wrote = false;
    while (!s.frames.empty() && s.frames.front().outstanding == 0) {
        PendingFrame& frame = s.frames.front();
        const std::string body = frame.frame_error.empty() ? encode_answer(std::move(frame.answer))
                                                           : encode_frame_error(frame.frame_error);
        const std::string header = frame_header(static_cast<uint32_t>(body.size()));
        self->write(s.handle, header.size(), header.data());
        self->write(s.handle, body.size(), body.data());
        s.unsent_bytes += header.size() + body.size();
        wrote = true;
        const bool close_after = frame.close_after;
        s.frames.pop_front();
        ++s.first_seq;
        if (close_after) return finish(self, s);
    }
    if (wrote) self->flush(s.handle);
    if (s.draining && s.frames.empty()) return finish(self, s);
    apply_flow_control(self, s);
}

void reject_frame(caf::io::broker* self, Session& s, std::string error, bool close_after) {
    ++s.context->metrics->frame_errors;
    if (close_after) ++s.context->metrics->frames;  // bodies were counted when read
    PendingFrame frame;
    frame.frame_error = std::move(error);
    frame.close_after = close_after;
    s.frames.push_back(std::move(frame));
    if (close_after) self->halt(s.handle);
    answer_ready_frames(self, s);
}

// The events of one frame for one other member, sent to its peer together.
struct Forwarded {
    caf::actor peer;
    std::vector<Event> events;
    std::vector<uint32_t> index;  // their positions in the frame
};

void accept_body(caf::io::broker* self, std::shared_ptr<Session> session, std::string_view body) {
    Session& s = *session;
    const IngestContext& context = *s.context;
    ++context.metrics->frames;
    DecodedRequest request = decode_request_body(body, context.now());
    if (!request.frame_error.empty()) return reject_frame(self, s, request.frame_error, false);
    context.metrics->events_rejected += request.errors.size();
    PendingFrame frame;
    frame.answer.errors = std::move(request.errors);
    frame.outstanding = static_cast<uint32_t>(request.events.size());
    s.frames.push_back(std::move(frame));
    const uint64_t seq = s.first_seq + s.frames.size() - 1;
    // Records what became of `n` events of this frame (their positions in it and results),
    // and answers what is ready.
    auto record = [self, session, seq, metrics = context.metrics](
                      const uint32_t* index, const EventResult* results, size_t n) {
        for (size_t k = 0; k < n; ++k) metrics->events_rejected += !results[k].error.empty();
        Session& s = *session;
        if (s.closing || seq < s.first_seq) return;
        PendingFrame& frame = s.frames[seq - s.first_seq];
        for (size_t k = 0; k < n; ++k) {
            if (results[k].error.empty())
                ++(results[k].duplicate ? frame.answer.duplicates : frame.answer.accepted);
            else
                frame.answer.errors.push_back({index[k], "not applied: " + results[k].error});
        }
        frame.outstanding -= static_cast<uint32_t>(n);
        answer_ready_frames(self, s);
    };
    const auto failure = [self](const caf::error& error) {
        EventResult failed;
        failed.error = describe(self->system(), error);
        return failed;
    };
    // Events of customers another member owns go to its peer in one batch per member.
    std::vector<Forwarded> forwarded;
    for (size_t i = 0; i < request.events.size(); ++i) {
        Event& event = request.events[i];
        const uint32_t index = request.index[i];
        const CustomerRouter::Route owner = context.router.route(event.customer);
        if (!owner.local) {
            auto batch = std::find_if(forwarded.begin(), forwarded.end(),
                                      [&](const Forwarded& f) { return f.peer == owner.to; });
            if (batch == forwarded.end()) {
                forwarded.emplace_back();
                forwarded.back().peer = owner.to;
                batch = std::prev(forwarded.end());
            }
            batch->events.push_back(std::move(event));
            batch->index.push_back(index);
            continue;
        }
        self->request(owner.to, context.limits.event_timeout, event_atom::value, std::move(event))
            .then(
                [record, index](EventOutcome outcome) {
                    EventResult result;
                    result.duplicate = outcome == EventOutcome::duplicate;
                    record(&index, &result, 1);
                },
                [record, index, failure](caf::error& error) {
                    const EventResult failed = failure(error);
                    record(&index, &failed, 1);
                });
    }
    for (Forwarded& batch : forwarded) {
        self->request(batch.peer, context.limits.event_timeout, event_atom::value,
                      std::move(batch.events))
            .then(
                [record, index = batch.index](std::vector<EventResult>& results) {
                    EventResult missing;
                    missing.error = "no result from the owner";
                    results.resize(index.size(), missing);
                    record(index.data(), results.data(), index.size());
                },
                [record, index = batch.index, failure](caf::error& error) {
                    const std::vector<EventResult> failed(index.size(), failure(error));
                    record(index.data(), failed.data(), index.size());
                });
    }
    answer_ready_frames(self, s);
}

// Takes the complete frames at the front of `received`, until the session pauses (a
// draining session takes them all: they were received, so they are answered).
void take_frames(caf::io::broker* self, const std::shared_ptr<Session>& session) {
    Session& s = *session;
    size_t at = 0;
    while (!s.closing && (!s.paused || s.draining) && s.received.size() - at >= 4) {
        const uint32_t length = read_frame_header(s.received.data() + at);
        const uint32_t max = s.context->limits.max_frame;
        if (length == 0 || length > max) {
            if (length > max) s.context->metrics->limit_hits.hit(Limit::max_frame);
            s.received.clear();
            return reject_frame(self, s,
                                "frame length " + std::to_string(length) + " is outside 1.." +
                                    std::to_string(max) + "; closing the connection",
                                true);
        }
        if (s.received.size() - at - 4 < length) break;
        accept_body(self, session, std::string_view(s.received).substr(at + 4, length));
        at += 4 + length;
    }
    s.received.erase(0, at);
}

caf::behavior ingest_session(caf::io::broker* self, connection_handle handle,
                             std::shared_ptr<const IngestContext> context) {
    auto session = std::make_shared<Session>();
    session->handle = handle;
    session->context = std::move(context);
    ++session->context->metrics->connections_open;
    // Framing is ours, on whatever the socket gives: switching CAF's receive policy between
    // header and body per frame misframes the stream when reading is halted and resumed.
    self->configure_read(handle, receive_policy::at_most(64 * 1024));
    self->ack_writes(handle, true);
    return {
        [self, session](const caf::io::new_data_msg& msg) {
            if (session->closing) return;
            session->received.append(msg.buf.data(), msg.buf.size());
            take_frames(self, session);
        },
        [self, session](take_frames_atom) { take_frames(self, session); },
        [self, session](resume_atom) {
            const Session& s = *session;
            if (!s.paused && !s.draining && !s.closing) self->trigger(s.handle);
        },
        [self, session](const caf::io::data_transferred_msg& msg) {
            session->unsent_bytes = msg.remaining;
            apply_flow_control(self, *session);
        },
        [self, session](const caf::io::connection_closed_msg&) {
            if (!session->closing) --session->context->metrics->connections_open;
            session->closing = true;
            self->quit();
        },
        [self, session](drain_atom) {
            Session& s = *session;
            s.draining = true;
            self->halt(s.handle);
            take_frames(self, session);
            if (s.frames.empty() && !s.closing) finish(self, s);
        },
    };
}

}  // namespace

caf::behavior ingest_acceptor(caf::io::broker* self, std::shared_ptr<const IngestContext> context) {
    auto sessions = std::make_shared<std::unordered_set<caf::actor_addr>>();
    auto drained = std::make_shared<std::vector<caf::response_promise>>();
    auto listening = std::make_shared<std::vector<caf::io::accept_handle>>();
    self->set_down_handler([sessions, drained](caf::down_msg& down) {
        sessions->erase(down.source);
        if (!sessions->empty()) return;
        for (auto& promise : *drained) promise.deliver(caf::unit);
        drained->clear();
    });
    return {
        [self, listening](bind_atom, const std::string& host,
                          uint16_t port) -> caf::result<uint16_t> {
            auto bound = self->add_tcp_doorman(port, host.c_str(), true);
            if (!bound) return bound.error();
            listening->push_back(bound->first);
            return bound->second;
        },
        [self, context, sessions](const caf::io::new_connection_msg& msg) {
            if (sessions->size() >= context->limits.max_connections) {
                context->metrics->limit_hits.hit(Limit::max_connections);
                spdlog::warn("ingest: connection closed: {} open, [ingest] max_connections = {}",
                             sessions->size(), context->limits.max_connections);
                self->close(msg.handle);
                return;
            }
            auto session = self->fork(ingest_session, msg.handle, context);
            self->monitor(session);
            sessions->insert(session.address());
        },
        [self, sessions, drained, listening](drain_atom) -> caf::result<caf::unit_t> {
            for (const caf::io::accept_handle& handle : *listening) self->close(handle);
            listening->clear();
            if (sessions->empty()) return caf::unit;
            for (const caf::actor_addr& session : *sessions)
                caf::anon_send(caf::actor_cast<caf::actor>(session), drain_atom::value);
            drained->push_back(self->make_response_promise());
            return caf::delegated<caf::unit_t>{};
        },
    };
}

}  // namespace journeyd
