// One connection of the ingest port (docs/protocol.md "Ingest port"), on standalone asio.
//
// Reads frames, decodes them (state/codec/event_codec) on the I/O thread, hands each frame's
// valid events to its relay actor (actors/ingest_relay.hpp) and answers every frame exactly
// once, in request order (AnswerQueue), once all its events are committed or failed.
//
// Flow control: a read is outstanding only while there is room, i.e. fewer than
// max_pending_frames frames unanswered and fewer than max_unsent_bytes of answers not yet
// written to the socket. Whichever completion makes room (a result, a finished write) takes
// the frames already received and issues the next read; the kernel's buffers push back on
// the client meanwhile. There is no separate resume signal that could be lost.
//
// A malformed body is answered with an error and the connection stays open; a length of 0
// or over max_frame is answered and the connection closed. drain(): stop reading, answer
// every complete frame received, then close. Such a close is graceful: the answers are
// written, the sending side shut down (after TLS's close_notify), and what the client still
// sends is read and dropped until it closes (at most kLinger), since closing over unread
// bytes would make the kernel reset the connection and discard answers the client has not
// read yet. A read or write error closes at once.
//
// Access (docs/protocol.md "Authentication"): with a TLS context, the handshake comes first;
// with a token, the first frame must be a hello carrying it, or it is answered with an error
// and the connection ends. A hello is accepted without a token too, so a source can always
// send one. A connection that receives nothing for limits.idle_timeout while none of its
// frames waits for an answer is ended the same graceful way. A refused connection (the
// acceptor's max_connections) is answered one error frame and ended, within kRefusalLife.
//
// Thread-safety: every member is touched only on the connection's strand (the socket's
// executor); start() and drain() post to it, the relay posts results to it.
#pragma once

#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "actors/ingest_relay.hpp"
#include "runtime/ingest/answer_queue.hpp"
#include "runtime/ingest/frame_assembler.hpp"

namespace journeyd {

class IngestConnection;

// What the acceptor and its connections share: the open connections, for max_connections
// and the drain, and whether the I/O threads still run (the relays post only while they do).
// `open` owns the connections: one waiting only for CAF has no handler in asio holding it;
// close() removes it.
// Thread-safety: every member under `mutex`.
struct IngestConnections {
    std::mutex mutex;
    std::condition_variable ended;  // notified as `open` shrinks
    std::unordered_map<IngestConnection*, std::shared_ptr<IngestConnection>> open;
    size_t refusing = 0;    // entries of `open` only answering a refusal: not counted as open
    bool draining = false;  // new connections are closed at once
    bool stopped = false;   // the I/O threads are gone: nothing may be posted any more
};

// Who may use the port: the TLS context (null: plain TCP) and the SHA-256 of [ingest] token
// (empty: no hello required), compared in constant time.
struct IngestAccess {
    std::shared_ptr<asio::ssl::context> tls;
    std::string token_digest;
};

// The SHA-256 of a token, as IngestAccess holds it; empty for an empty token.
std::string ingest_token_digest(std::string_view token);

class IngestConnection : public std::enable_shared_from_this<IngestConnection> {
  public:
    // A non-empty `refusal` makes a connection that only answers that error and ends.
    IngestConnection(asio::ip::tcp::socket socket, std::shared_ptr<const IngestContext> context,
                     std::shared_ptr<const IngestAccess> access,
                     std::shared_ptr<IngestConnections> connections, caf::actor_system& system,
                     std::string refusal = {});
    ~IngestConnection();

    void start();
    void drain();

  private:
    using Clock = std::chrono::steady_clock;

    asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : plain_; }
    // Runs op(stream) on the TLS stream when there is one, else on the plain socket.
    template <typename Operation>
    void with_stream(Operation&& op) {
        if (tls_)
            op(*tls_);
        else
            op(plain_);
    }
    void begin();
    void watch_idle();
    bool room() const;
    void advance();
    void take_frames();
    void accept_body(std::string_view body);
    void greet(std::string_view body);
    void reject_frame(std::string error, bool close_after);
    void read();
    void write();
    void record(uint64_t seq, std::vector<uint32_t> index, std::vector<EventResult> results);
    void finish();
    void finish_tls();
    void finish_tcp();
    void close();

    asio::any_io_executor strand_;
    asio::ip::tcp::socket plain_;                                  // without TLS
    std::optional<asio::ssl::stream<asio::ip::tcp::socket>> tls_;  // with TLS
    asio::steady_timer linger_;  // bounds finish()'s wait for the client to close
    asio::steady_timer idle_;    // fires at most idle_limit_ after the last bytes received
    Clock::time_point last_received_;
    Clock::duration idle_limit_;
    std::shared_ptr<const IngestContext> context_;
    std::shared_ptr<const IngestAccess> access_;
    std::shared_ptr<IngestConnections> connections_;
    caf::actor_system& system_;
    caf::actor relay_;
    FrameAssembler assembler_;
    AnswerQueue answers_;
    std::array<char, 64 * 1024> buffer_;
    std::string queued_;   // answers ready, not yet handed to the socket
    std::string writing_;  // answers the write under way is sending
    std::string refusal_;
    bool started_ = false;     // the TLS handshake is done (at once without TLS)
    bool greeted_ = false;     // the first frame was taken: a hello, or needing none
    bool tls_closed_ = false;  // close_notify exchanged (or given up): the socket is plain TCP
    bool reading_ = false;
    bool paused_ = false;     // counted once per pause in backpressure_pauses
    bool draining_ = false;   // no more reads; every complete frame received is answered
    bool ending_ = false;     // an answer that ends the stream is queued: close once written
    bool finishing_ = false;  // everything answered and written: reading only to drop
    bool closed_ = false;
};

}  // namespace journeyd
