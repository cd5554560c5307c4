// A small blocking client for the ingest port of docs/protocol.md, for event sources: journeyctl,
// the integration tests and journey-bench.
//
// Contract:
// - A frame, both directions, is a 4-byte unsigned big-endian length N (N >= 1), then N bytes
//   holding one msgpack value. send_frame writes one; read_response reads one and returns it
//   as JSON: {"ok", "accepted", "duplicates", "errors": [{"index", "error"}]}, or
//   {"ok": false, "error"} for a frame the daemon could not decode.
// - The daemon answers every request frame exactly once, in request order, so a caller may
//   pipeline: send_frame many times, then read_response as many times. The caller bounds the
//   frames in flight: responses wait in the socket buffers until read, and a daemon blocked
//   writing them stops reading requests.
// - Every failure (resolve, connect, refused, timeout, closed connection, malformed
//   response) throws IngestError naming the address. After one, the connection is unusable.
// - `timeout` bounds the connect and each blocking read or write, not a whole call.
// - encode_event / encode_batch do not validate: the daemon does, and tests send invalid
//   events on purpose.
#pragma once

#include <chrono>
#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace journeyd {

class IngestError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct HostPort {
    std::string host;  // without the brackets of "[::1]:7400"
    uint16_t port = 0;
};

// "HOST:PORT" or "[IPV6]:PORT"; nullopt when there is no host or the port is not 1..65535.
std::optional<HostPort> parse_host_port(std::string_view text);

// One event (a JSON object: id, customer, type, ts, attrs) as a msgpack map.
std::string encode_event(const nlohmann::json& event);
// {"hello": {"token": TOKEN}}: the first frame to a port with [ingest] token.
std::string encode_hello(std::string_view token);
// Events as a msgpack array of maps: one batch frame.
std::string encode_batch(const std::vector<nlohmann::json>& events);

// Not thread-safe: one connection for one thread at a time (journey-bench and the tests give
// every sending thread a client of its own).
class IngestClient {
  public:
    static IngestClient connect(const std::string& host_port, std::chrono::milliseconds timeout);

    IngestClient(IngestClient&& other) noexcept;
    IngestClient& operator=(IngestClient&& other) noexcept;
    IngestClient(const IngestClient&) = delete;
    IngestClient& operator=(const IngestClient&) = delete;
    ~IngestClient();

    // The hello a port with [ingest] token wants first ({"hello": {"token": TOKEN}}): sent and
    // its answer read. Throws IngestError with the daemon's reason when it refuses.
    void hello(std::string_view token);

    void send_frame(std::string_view msgpack_body);
    nlohmann::json read_response();
    // Waits at most `wait` for the start of a response; true when one has begun to arrive, so
    // a sender pacing itself can collect answers while it waits for its next send instead of
    // blocking in read_response. read_response may still block for the rest of the frame.
    bool response_arrives_within(std::chrono::milliseconds wait);

    const std::string& address() const { return address_; }

  private:
    IngestClient(int socket_fd, std::string address, std::chrono::milliseconds timeout);

    size_t receive_some();  // appends to received_; 0 on an orderly close

    int socket_fd_ = -1;
    std::string address_;
    std::chrono::milliseconds timeout_;
    std::string received_;  // bytes read past the last returned frame: pipelined responses
};

// `journeyctl send`: JSON lines to event frames, pipelined, each rejection mapped back to the
// line that held the event.
struct SendOptions {
    size_t batch_size = 100;  // events per frame, >= 1; 1 sends single-event frames, not batches
    size_t window = 16;       // frames in flight, >= 1
};

struct LineError {
    size_t line = 0;  // 1-based line of the input
    std::string error;
};

struct SendSummary {
    uint64_t accepted = 0;
    uint64_t duplicates = 0;
    std::vector<LineError> errors;  // lines that were not events, and events rejected
};

// Blank lines are skipped; a line that is not a JSON object is reported and not sent. On
// return `summary` holds every line, errors in line order. It is filled as responses arrive,
// so after an IngestError (connection or protocol failure) it holds what was answered; the
// daemon may still have applied frames that were in flight.
void send_json_lines(IngestClient& client, std::istream& lines, const SendOptions& options,
                     SendSummary& summary);

}  // namespace journeyd
