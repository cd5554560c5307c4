#include "runtime/ingest/ingest_connection.hpp"

namespace journeyd {

IngestConnection::IngestConnection(asio::ip::tcp::socket socket,
                                   std::shared_ptr<const IngestContext> context,
                                   std::shared_ptr<IngestConnections> connections,
                                   caf::actor_system& system)
    : socket_(std::move(socket)),
      linger_(socket_.get_executor()),
      context_(std::move(context)),
      connections_(std::move(connections)),
      system_(system),
      assembler_(context_->limits.max_frame) {}

IngestConnection::~IngestConnection() {
    // Only reached without close() when the I/O threads stopped before the drain ended.
    if (relay_) caf::anon_send_exit(relay_, caf::exit_reason::user_shutdown);
}

void IngestConnection::start() {
    ++context_->metrics->connections_open;
    // The relay reports results from CAF threads: they go to this connection's strand, unless
    // the connection is gone or the I/O threads have stopped.
    IngestReport report = [weak = weak_from_this(), connections = connections_,
                           strand = socket_.get_executor()](uint64_t seq, const uint32_t* index,
                                                            const EventResult* results, size_t n) {
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
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->advance(); });
}

void IngestConnection::drain() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
        self->draining_ = true;
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
    if (closed_ || finishing_) return;
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
        if (frame->out_of_bounds) {
            const uint32_t max = context_->limits.max_frame;
            if (frame->length > max) context_->metrics->limit_hits.hit(Limit::max_frame);
            ++context_->metrics->frames;
            reject_frame("frame length " + std::to_string(frame->length) + " is outside 1.." +
                             std::to_string(max) + "; closing the connection",
                         true);
        } else {
            accept_body(frame->body);
        }
        ending_ = answers_.take_ready(queued_) || ending_;
    }
}

void IngestConnection::accept_body(std::string_view body) {
    const IngestContext& context = *context_;
    ++context.metrics->frames;
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
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](
                                                       const asio::error_code& error, size_t n) {
        self->reading_ = false;
        if (self->closed_) return;
        if (error) return self->close();            // the client left (or reset): nothing to answer
        if (self->finishing_) return self->read();  // dropped: everything is answered
        // Bytes that arrive once draining began are not taken: the drain stopped reading.
        if (!self->draining_) self->assembler_.append(self->buffer_.data(), n);
        self->advance();
    });
}

void IngestConnection::write() {
    writing_.swap(queued_);
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](const asio::error_code& error, size_t) {
                          if (self->closed_) return;
                          if (error) return self->close();
                          self->writing_.clear();
                          self->advance();
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
    constexpr auto kLinger = std::chrono::seconds(2);
    finishing_ = true;
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    linger_.expires_after(kLinger);
    linger_.async_wait([self = shared_from_this()](const asio::error_code& error) {
        if (!error && !self->closed_) self->close();
    });
    if (!reading_) read();
}

void IngestConnection::close() {
    closed_ = true;
    asio::error_code ignored;
    socket_.close(ignored);
    linger_.cancel();
    --context_->metrics->connections_open;
    caf::anon_send_exit(relay_, caf::exit_reason::user_shutdown);
    relay_ = nullptr;
    std::shared_ptr<IngestConnection> self;  // the last owner, perhaps: released unlocked
    std::lock_guard<std::mutex> lock(connections_->mutex);
    const auto it = connections_->open.find(this);
    if (it != connections_->open.end()) {
        self = std::move(it->second);
        connections_->open.erase(it);
    }
    connections_->ended.notify_all();
}

}  // namespace journeyd
