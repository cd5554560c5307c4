// A raw TCP connection to journeyd's ingest port, for the tests that must control exactly
// how bytes reach the daemon (one send() a frame, a byte at a time, a small receive buffer,
// a close with frames in flight), which IngestClient deliberately hides.
//
// Contract: connect_raw() returns a connected blocking socket (REQUIREs success); the caller
// closes it. read_until_closed() collects what the daemon sends until it closes. AnswerReader turns
// whatever recv() gave into answer frames, decoded to JSON, whatever the chunking. Thread-safety:
// an AnswerReader belongs to one thread; a socket may be written by one thread while another reads
// it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "state/codec/event_codec.hpp"
#include "state/codec/msgpack_json.hpp"

namespace journeyd::test {

// `receive_buffer` > 0 sets SO_RCVBUF before connecting, so the window is small from the start.
inline int connect_raw(const std::string& ingest, int receive_buffer = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    if (receive_buffer > 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::stoi(ingest.substr(ingest.find(':') + 1))));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    return fd;
}

// A frame as it goes on the wire: header, then body.
inline std::string framed(const std::string& body) {
    return frame_header(static_cast<uint32_t>(body.size())) + body;
}

// What the daemon sends on `fd` until it closes it, or until `timeout` passes (then
// `closed` is false).
inline std::string read_until_closed(int fd, std::chrono::milliseconds timeout, bool& closed) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string received;
    char buffer[4096];
    closed = false;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        pollfd readable{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0)
            return received;
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) {
            closed = true;
            return received;
        }
        received.append(buffer, static_cast<size_t>(n));
    }
}

class AnswerReader {
  public:
    void append(const char* data, size_t size) { received_.append(data, size); }

    // The next complete answer, if one has arrived.
    std::optional<nlohmann::json> next() {
        if (received_.size() < 4) return std::nullopt;
        const uint32_t length = read_frame_header(received_.data());
        if (received_.size() < 4 + size_t{length}) return std::nullopt;
        auto handle = msgpack::unpack(received_.data() + 4, length);
        std::string error;
        nlohmann::json answer = msgpack_to_json(handle.get(), error).value_or(nlohmann::json());
        received_.erase(0, 4 + size_t{length});
        return answer;
    }

  private:
    std::string received_;
};

}  // namespace journeyd::test
