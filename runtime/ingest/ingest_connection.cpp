#include "runtime/ingest/ingest_connection.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

namespace journeyd {
namespace {

// How long a refused connection may take to read its error: the limit it was refused for
// must not be a way to hold sockets.
constexpr std::chrono::seconds kRefusalLife{2};
constexpr std::chrono::seconds kLinger{2};

std::string remote_of(asio::ip::tcp::socket& socket) {
    asio::error_code error;
    const asio::ip::tcp::endpoint remote = socket.remote_endpoint(error);
    if (error) return "?";
    return remote.address().to_string() + ":" + std::to_string(remote.port());
}

}  // namespace

std::string ingest_token_digest(std::string_view token) {
    if (token.empty()) return {};
    std::string digest(SHA256_DIGEST_LENGTH, '\0');
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
           reinterpret_cast<unsigned char*>(digest.data()));
    return digest;
}

IngestConnection::IngestConnection(asio::ip::tcp::socket socket,
                                   std::shared_ptr<const IngestContext> context,
                                   std::shared_ptr<const IngestAccess> access,
                                   std::shared_ptr<IngestConnections> connections,
                                   caf::actor_system& system, std::string refusal)
    : strand_(socket.get_executor()),
      plain_(strand_),
      linger_(strand_),
      idle_(strand_),
      context_(std::move(context)),
      access_(std::move(access)),
      connections_(std::move(connections)),
      system_(system),
      assembler_(context_->limits.max_frame),
      refusal_(std::move(refusal)) {
    if (access_->tls)
        tls_.emplace(std::move(socket), *access_->tls);
    else
        plain_ = std::move(socket);
    idle_limit_ = refusal_.empty() ? Clock::duration(context_->limits.idle_timeout)
                                   : Clock::duration(kRefusalLife);
}

IngestConnection::~IngestConnection() {
    // Only reached without close() when the I/O threads stopped before the drain ended.
    if (relay_) caf::anon_send_exit(relay_, caf::exit_reason::user_shutdown);
}

void IngestConnection::start() {
    asio::post(strand_, [self = shared_from_this()] {
        self->last_received_ = Clock::now();
        self->watch_idle();
        if (!self->tls_) return self->begin();
        self->tls_->async_handshake(asio::ssl::stream_base::server,
                                    [self](const asio::error_code& error) {
                                        if (self->closed_) return;
                                        if (!error) return self->begin();
                                        ++self->context_->metrics->ingest_tls_failures;
                                        spdlog::warn("ingest: TLS handshake with {} failed: {}",
                                                     remote_of(self->socket()), error.message());
                                        self->close();
                                    });
    });
}

// The connection is ready for frames: TLS, if any, is established.
void IngestConnection::begin() {
    started_ = true;
    if (!refusal_.empty()) {
        answers_.push_error(refusal_, true);
        ending_ = answers_.take_ready(queued_);
        return advance();
    }
    ++context_->metrics->connections_open;
    // The relay reports results from CAF threads: they go to this connection's strand, unless
    // the connection is gone or the I/O threads have stopped.
    IngestReport report = [weak = weak_from_this(), connections = connections_, strand = strand_](
                              uint64_t seq, const uint32_t* index, const EventResult* results,
                              size_t n) {
        std::vector<uint32_t> positions(index, index + n);
        std::vector<EventResult> outcomes(results, results + n);
        std::lock_guard<std::mutex> lock(connections->mutex);
        if (connections->stopped) return;
        asio::post(strand, [weak, seq, positions = std::move(positions),
                            outcomes = std::move(outcomes)]() mutable {
            if (auto self = weak.lock())
                self->record(seq, std::move(positions), std::move(outcomes));
        });
    };
    relay_ = system_.spawn(ingest_relay, context_, std::move(report));
    advance();
}

// One timer a connection, re-armed only when it fires: a read just notes the time, so busy
// connections pay nothing for the timeout.
void IngestConnection::watch_idle() {
    if (idle_limit_ == Clock::duration::zero()) return;
    idle_.expires_at(last_received_ + idle_limit_);
    idle_.async_wait([self = shared_from_this()](const asio::error_code& error) {
        if (error || self->closed_ || self->finishing_) return;
        const Clock::time_point now = Clock::now();
        if (!self->refusal_.empty()) return self->close();
        // A client waiting for answers is not idle: the wait is ours.
        if (!self->answers_.empty() || !self->writing_.empty()) self->last_received_ = now;
        if (now - self->last_received_ < self->idle_limit_) return self->watch_idle();
        self->context_->metrics->limit_hits.hit(Limit::idle_timeout);
        spdlog::info(
            "ingest: connection from {} closed: nothing received for {} ms ([ingest] "
            "idle_timeout)",
            remote_of(self->socket()), self->context_->limits.idle_timeout.count());
        if (!self->started_) return self->close();
        self->draining_ = true;
        self->advance();
    });
}

void IngestConnection::drain() {
    asio::post(strand_, [self = shared_from_this()] {
        self->draining_ = true;
        if (!self->started_) return self->close();
        self->advance();
    });
}

bool IngestConnection::room() const {
    const IngestLimits& limits = context_->limits;
    return answers_.size() < limits.max_pending_frames &&
           queued_.size() + writing_.size() < limits.max_unsent_bytes;
}

// Every completion ends here: frame what was received while there is room, write what is
// answered, close once an ending stream is written out, and read while there is room.
void IngestConnection::advance() {
    if (closed_ || finishing_ || !started_) return;
    take_frames();
    if (!queued_.empty() && writing_.empty()) write();
    if ((ending_ || (draining_ && answers_.empty())) && queued_.empty() && writing_.empty())
        return finish();
    if (ending_ || draining_) return;
    // A read already under way when room ran out completes into the assembler, whose frames
    // then wait for room: what stops is the next read. Each such stop is one pause.
    const bool has_room = room();
    if (!has_room && !paused_) {
        ++context_->metrics->backpressure_pauses;
        LimitHits& hits = context_->metrics->limit_hits;
        if (answers_.size() >= context_->limits.max_pending_frames)
            hits.hit(Limit::max_pending_frames);
        if (queued_.size() + writing_.size() >= context_->limits.max_unsent_bytes)
            hits.hit(Limit::max_unsent_bytes);
    }
    paused_ = !has_room;
    if (has_room && !reading_) read();
}

// Takes complete frames while there is room (all of them when draining: they were received,
// so they are answered), moving each finished answer to `queued_` at once so that frames
// answered without CAF (frame errors) free their room for the next.
void IngestConnection::take_frames() {
    while (!ending_ && (room() || draining_)) {
        const std::optional<FrameAssembler::Frame> frame = assembler_.next();
        if (!frame) break;
        ++context_->metrics->frames;
        if (frame->out_of_bounds) {
            const uint32_t max = context_->limits.max_frame;
            if (frame->length > max) context_->metrics->limit_hits.hit(Limit::max_frame);
            reject_frame("frame length " + std::to_string(frame->length) + " is outside 1.." +
                             std::to_string(max) + "; closing the connection",
                         true);
        } else if (!greeted_) {
            greeted_ = true;
            greet(frame->body);
        } else {
            accept_body(frame->body);
        }
        ending_ = answers_.take_ready(queued_) || ending_;
    }
}

// The first frame: a hello is answered (and its token checked when the port has one); any
// other frame is an event frame, unless the port has a token.
void IngestConnection::greet(std::string_view body) {
    const Hello hello = decode_hello(body);
    const std::string& expected = access_->token_digest;
    if (!hello.is_hello && expected.empty()) return accept_body(body);
    std::string refused;
    if (!hello.is_hello)
        refused = "this port needs a hello first: {\"hello\": {\"token\": \"...\"}}";
    else if (!hello.error.empty())
        refused = hello.error;
    else if (!expected.empty()) {
        const std::string given = ingest_token_digest(hello.token);
        if (given.size() != expected.size() ||
            CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0)
            refused = "wrong token";
    }
    if (refused.empty()) return answers_.push_answered(encode_hello_accepted());
    ++context_->metrics->ingest_auth_failures;
    spdlog::warn("ingest: connection from {} refused: {}", remote_of(socket()), refused);
    reject_frame(refused + "; closing the connection", true);
}

void IngestConnection::accept_body(std::string_view body) {
    const IngestContext& context = *context_;
    DecodedRequest request = decode_request_body(body, context.now());
    if (!request.frame_error.empty()) return reject_frame(std::move(request.frame_error), false);
    context.metrics->events_rejected += request.errors.size();
    FrameAnswer answer;
    answer.errors = std::move(request.errors);
    const uint64_t seq =
        answers_.push(std::move(answer), static_cast<uint32_t>(request.events.size()));
    if (request.events.empty()) return;
    caf::anon_send(relay_, IngestFrame{seq, std::move(request.events), std::move(request.index)});
}

void IngestConnection::reject_frame(std::string error, bool close_after) {
    ++context_->metrics->frame_errors;
    answers_.push_error(std::move(error), close_after);
}

void IngestConnection::read() {
    reading_ = true;
    auto received = [self = shared_from_this()](const asio::error_code& error, size_t n) {
        self->reading_ = false;
        if (self->closed_) return;
        // finish() cancelled this read to end TLS: the session may not be read meanwhile.
        if (self->finishing_ && self->tls_ && !self->tls_closed_) return self->finish_tls();
        if (error) return self->close();            // the client left (or reset): nothing to answer
        if (self->finishing_) return self->read();  // dropped: everything is answered
        self->last_received_ = Clock::now();
        // Bytes that arrive once draining began are not taken: the drain stopped reading.
        if (!self->draining_) self->assembler_.append(self->buffer_.data(), n);
        self->advance();
    };
    // Once finishing, what the client still sends is dropped below TLS: its session is over.
    if (finishing_)
        socket().async_read_some(asio::buffer(buffer_), std::move(received));
    else
        with_stream([&](auto& stream) {
            stream.async_read_some(asio::buffer(buffer_), std::move(received));
        });
}

void IngestConnection::write() {
    writing_.swap(queued_);
    with_stream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(writing_),
                          [self = shared_from_this()](const asio::error_code& error, size_t) {
                              if (self->closed_) return;
                              if (error) return self->close();
                              self->writing_.clear();
                              self->advance();
                          });
    });
}

void IngestConnection::record(uint64_t seq, std::vector<uint32_t> index,
                              std::vector<EventResult> results) {
    if (closed_) return;
    answers_.record(seq, index.data(), results.data(), index.size());
    ending_ = answers_.take_ready(queued_) || ending_;
    advance();
}

void IngestConnection::finish() {
    finishing_ = true;
    linger_.expires_after(kLinger);
    linger_.async_wait([self = shared_from_this()](const asio::error_code& error) {
        if (!error && !self->closed_) self->close();
    });
    if (!tls_) return finish_tcp();
    // A TLS session is ended with close_notify, which cannot overlap a read of the session:
    // a read under way is cancelled first and its completion comes back here.
    if (reading_) return socket().cancel();
    finish_tls();
}

void IngestConnection::finish_tls() {
    tls_->async_shutdown([self = shared_from_this()](const asio::error_code&) {
        // Whatever the client answered to close_notify, the session is over.
        self->tls_closed_ = true;
        if (!self->closed_) self->finish_tcp();
    });
}

void IngestConnection::finish_tcp() {
    asio::error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    if (!reading_) read();
}

void IngestConnection::close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    socket().close(ignored);
    linger_.cancel();
    idle_.cancel();
    if (relay_) {
        --context_->metrics->connections_open;
        caf::anon_send_exit(relay_, caf::exit_reason::user_shutdown);
        relay_ = nullptr;
    }
    std::shared_ptr<IngestConnection> self;  // the last owner, perhaps: released unlocked
    std::lock_guard<std::mutex> lock(connections_->mutex);
    const auto it = connections_->open.find(this);
    if (it != connections_->open.end()) {
        self = std::move(it->second);
        connections_->open.erase(it);
        if (!refusal_.empty()) --connections_->refusing;
    }
    connections_->ended.notify_all();
}

}  // namespace journeyd
