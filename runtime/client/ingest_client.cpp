#include "runtime/client/ingest_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <limits>
#include <msgpack.hpp>
#include <utility>

#include "state/codec/msgpack_json.hpp"

namespace journeyd {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr size_t kLengthPrefixBytes = 4;
// Far above any real response (one short error per event of a 1 MiB batch), far below what
// garbage decodes to: an HTTP server's "HTTP/1.1 400" read as a length is 1.2 GB.
constexpr uint32_t kMaxResponseBytes = 64u << 20;
constexpr size_t kReceiveChunkBytes = 64u << 10;

std::string errno_text(int error_number) {
    return std::strerror(error_number);
}

bool would_block(int error_number) {
    return error_number == EAGAIN || error_number == EWOULDBLOCK;
}

// The msgpack bytes `pack` writes with the packer it is given.
template <typename Pack>
std::string packed(Pack&& pack) {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    pack(packer);
    return std::string(buffer.data(), buffer.size());
}

class Socket {
  public:
    explicit Socket(int fd) : fd_(fd) {}
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

// A connected socket, or -1 with `error` set. The connect is non-blocking so it can give up
// at `deadline` (`timeout` after the first attempt began); the returned socket is blocking.
int connect_before(const addrinfo& address, Clock::time_point deadline,
                   std::chrono::milliseconds timeout, std::string& error) {
    Socket socket(
        ::socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC, address.ai_protocol));
    if (socket.get() < 0) {
        error = errno_text(errno);
        return -1;
    }
    const int blocking_flags = ::fcntl(socket.get(), F_GETFL);
    ::fcntl(socket.get(), F_SETFL, blocking_flags | O_NONBLOCK);
    if (::connect(socket.get(), address.ai_addr, address.ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            error = errno_text(errno);
            return -1;
        }
        pollfd watch{socket.get(), POLLOUT, 0};
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            const int ready =
                ::poll(&watch, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
            if (ready > 0) break;
            if (ready == 0) {
                error = "timed out after " + std::to_string(timeout.count()) + " ms";
                return -1;
            }
            if (errno != EINTR) {
                error = errno_text(errno);
                return -1;
            }
        }
        int connect_error = 0;
        socklen_t size = sizeof connect_error;
        ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &connect_error, &size);
        if (connect_error != 0) {
            error = errno_text(connect_error);
            return -1;
        }
    }
    ::fcntl(socket.get(), F_SETFL, blocking_flags);
    return socket.release();
}

void set_io_options(int socket_fd, std::chrono::milliseconds timeout) {
    // Frames are written whole; Nagle would hold a small one back until the previous
    // response's ACK, adding a round trip to every pipelined frame.
    const int enabled = 1;
    ::setsockopt(socket_fd, IPPROTO_TCP, TCP_NODELAY, &enabled, sizeof enabled);
    timeval io_timeout{};
    io_timeout.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    io_timeout.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    ::setsockopt(socket_fd, SOL_SOCKET, SO_RCVTIMEO, &io_timeout, sizeof io_timeout);
    ::setsockopt(socket_fd, SOL_SOCKET, SO_SNDTIMEO, &io_timeout, sizeof io_timeout);
}

[[noreturn]] void throw_malformed(const std::string& address, const std::string& what,
                                  const json& response) {
    throw IngestError("malformed response from " + address + ": " + what + " in " +
                      response.dump());
}

uint64_t count_field(const json& response, const char* key, const std::string& address) {
    const auto field = response.find(key);
    if (field == response.end() || !field->is_number_integer() || *field < 0) {
        throw_malformed(address, std::string("no count \"") + key + "\"", response);
    }
    return field->get<uint64_t>();
}

// Folds the response to one frame into `summary`; `frame_lines` are the input lines of the
// frame's events, in frame order, which is what the response's error indices count.
void record_response(const json& response, const std::vector<size_t>& frame_lines,
                     const std::string& address, SendSummary& summary) {
    if (!response.is_object()) throw_malformed(address, "not a map", response);
    const auto frame_error = response.find("error");
    if (frame_error != response.end() && !response.contains("accepted")) {
        // The daemon could not read the frame at all: none of its events was applied.
        const std::string message =
            "frame rejected: " +
            (frame_error->is_string() ? frame_error->get<std::string>() : frame_error->dump());
        for (size_t line : frame_lines) summary.errors.push_back({line, message});
        return;
    }
    summary.accepted += count_field(response, "accepted", address);
    summary.duplicates += count_field(response, "duplicates", address);
    const auto errors = response.find("errors");
    if (errors == response.end() || !errors->is_array()) {
        throw_malformed(address, "no \"errors\" list", response);
    }
    for (const json& rejected : *errors) {
        const auto index = rejected.find("index");
        const auto message = rejected.find("error");
        if (!rejected.is_object() || index == rejected.end() || !index->is_number_integer() ||
            *index < 0 || index->get<uint64_t>() >= frame_lines.size() ||
            message == rejected.end() || !message->is_string()) {
            throw_malformed(address, "bad error entry " + rejected.dump(), response);
        }
        summary.errors.push_back({frame_lines[index->get<size_t>()], message->get<std::string>()});
    }
}

bool is_blank(const std::string& line) {
    return std::all_of(line.begin(), line.end(),
                       [](unsigned char c) { return std::isspace(c) != 0; });
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    unsigned port = 0;
    const auto [end, status] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (host.empty() || status != std::errc() || end != port_text.data() + port_text.size() ||
        port == 0 || port > std::numeric_limits<uint16_t>::max()) {
        return std::nullopt;
    }
    return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

std::string encode_event(const json& event) {
    return packed([&](auto& packer) { pack_json(packer, event); });
}

std::string encode_hello(std::string_view token) {
    return packed([&](auto& packer) {
        packer.pack_map(1);
        packer.pack(std::string_view("hello"));
        packer.pack_map(1);
        packer.pack(std::string_view("token"));
        packer.pack(token);
    });
}

std::string encode_batch(const std::vector<json>& events) {
    return packed([&](auto& packer) {
        packer.pack_array(static_cast<uint32_t>(events.size()));
        for (const json& event : events) pack_json(packer, event);
    });
}

IngestClient IngestClient::connect(const std::string& host_port,
                                   std::chrono::milliseconds timeout) {
    const std::optional<HostPort> target = parse_host_port(host_port);
    if (!target) {
        throw IngestError("invalid ingest address \"" + host_port + "\": expected HOST:PORT");
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* addresses = nullptr;
    const int resolved = ::getaddrinfo(target->host.c_str(), std::to_string(target->port).c_str(),
                                       &hints, &addresses);
    if (resolved != 0) {
        throw IngestError("cannot resolve \"" + target->host + "\": " + ::gai_strerror(resolved));
    }
    const Clock::time_point deadline = Clock::now() + timeout;
    std::string error;
    int socket_fd = -1;
    for (const addrinfo* address = addresses; address && socket_fd < 0;
         address = address->ai_next) {
        socket_fd = connect_before(*address, deadline, timeout, error);
    }
    ::freeaddrinfo(addresses);
    if (socket_fd < 0) throw IngestError("cannot connect to " + host_port + ": " + error);
    set_io_options(socket_fd, timeout);
    return IngestClient(socket_fd, host_port, timeout);
}

IngestClient::IngestClient(int socket_fd, std::string address, std::chrono::milliseconds timeout)
    : socket_fd_(socket_fd), address_(std::move(address)), timeout_(timeout) {}

IngestClient::IngestClient(IngestClient&& other) noexcept
    : socket_fd_(std::exchange(other.socket_fd_, -1)),
      address_(std::move(other.address_)),
      timeout_(other.timeout_),
      received_(std::move(other.received_)) {}

IngestClient& IngestClient::operator=(IngestClient&& other) noexcept {
    if (this != &other) {
        if (socket_fd_ >= 0) ::close(socket_fd_);
        socket_fd_ = std::exchange(other.socket_fd_, -1);
        address_ = std::move(other.address_);
        timeout_ = other.timeout_;
        received_ = std::move(other.received_);
    }
    return *this;
}

IngestClient::~IngestClient() {
    if (socket_fd_ >= 0) ::close(socket_fd_);
}

void IngestClient::hello(std::string_view token) {
    send_frame(encode_hello(token));
    const json answer = read_response();
    if (answer.is_object() && answer.value("ok", false)) return;
    const auto error = answer.is_object() ? answer.find("error") : answer.end();
    throw IngestError(
        address_ + " refused the hello: " +
        (error != answer.end() && error->is_string() ? error->get<std::string>() : answer.dump()));
}

void IngestClient::send_frame(std::string_view msgpack_body) {
    if (msgpack_body.empty() || msgpack_body.size() > std::numeric_limits<uint32_t>::max()) {
        throw IngestError("cannot send a frame of " + std::to_string(msgpack_body.size()) +
                          " bytes to " + address_ + ": a frame holds 1 to 2^32-1 bytes");
    }
    const auto length = static_cast<uint32_t>(msgpack_body.size());
    unsigned char prefix[kLengthPrefixBytes] = {
        static_cast<unsigned char>(length >> 24), static_cast<unsigned char>(length >> 16),
        static_cast<unsigned char>(length >> 8), static_cast<unsigned char>(length)};
    // One sendmsg for prefix and body: with TCP_NODELAY two writes would be two segments.
    iovec parts[2] = {{prefix, sizeof prefix},
                      {const_cast<char*>(msgpack_body.data()), msgpack_body.size()}};
    size_t first_unsent = 0;
    while (first_unsent < 2) {
        msghdr message{};
        message.msg_iov = parts + first_unsent;
        message.msg_iovlen = 2 - first_unsent;
        ssize_t sent = ::sendmsg(socket_fd_, &message, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (would_block(errno)) {
                throw IngestError("timed out after " + std::to_string(timeout_.count()) +
                                  " ms sending a frame to " + address_);
            }
            throw IngestError("lost connection to " + address_ + ": " + errno_text(errno));
        }
        while (first_unsent < 2 && static_cast<size_t>(sent) >= parts[first_unsent].iov_len) {
            sent -= static_cast<ssize_t>(parts[first_unsent].iov_len);
            ++first_unsent;
        }
        if (first_unsent < 2) {
            parts[first_unsent].iov_base = static_cast<char*>(parts[first_unsent].iov_base) + sent;
            parts[first_unsent].iov_len -= static_cast<size_t>(sent);
        }
    }
}

size_t IngestClient::receive_some() {
    char chunk[kReceiveChunkBytes];
    for (;;) {
        const ssize_t received = ::recv(socket_fd_, chunk, sizeof chunk, 0);
        if (received >= 0) {
            received_.append(chunk, static_cast<size_t>(received));
            return static_cast<size_t>(received);
        }
        if (errno == EINTR) continue;
        if (would_block(errno)) {
            throw IngestError("timed out after " + std::to_string(timeout_.count()) +
                              " ms waiting for a response from " + address_);
        }
        throw IngestError("lost connection to " + address_ + ": " + errno_text(errno));
    }
}

bool IngestClient::response_arrives_within(std::chrono::milliseconds wait) {
    if (!received_.empty()) return true;
    pollfd watch{socket_fd_, POLLIN, 0};
    for (;;) {
        const int ready = ::poll(&watch, 1, static_cast<int>(std::max<int64_t>(0, wait.count())));
        if (ready >= 0) return ready > 0;
        if (errno != EINTR) {
            throw IngestError("lost connection to " + address_ + ": " + errno_text(errno));
        }
    }
}

nlohmann::json IngestClient::read_response() {
    auto receive_until = [this](size_t wanted) {
        while (received_.size() < wanted) {
            if (receive_some() == 0) {
                throw IngestError(address_ + " closed the connection" +
                                  (received_.empty() ? "" : " in the middle of a response frame"));
            }
        }
    };
    receive_until(kLengthPrefixBytes);
    const auto* prefix = reinterpret_cast<const unsigned char*>(received_.data());
    const uint32_t length = uint32_t{prefix[0]} << 24 | uint32_t{prefix[1]} << 16 |
                            uint32_t{prefix[2]} << 8 | uint32_t{prefix[3]};
    if (length == 0 || length > kMaxResponseBytes) {
        throw IngestError("malformed response from " + address_ + ": frame length " +
                          std::to_string(length) + " (is this the ingest port?)");
    }
    receive_until(kLengthPrefixBytes + length);

    std::string error;
    std::optional<nlohmann::json> response;
    try {
        size_t parsed = 0;
        const msgpack::object_handle handle =
            msgpack::unpack(received_.data() + kLengthPrefixBytes, length, parsed);
        if (parsed == length) {
            response = msgpack_to_json(handle.get(), error);
        } else {
            error = "trailing bytes after the msgpack value";
        }
    } catch (const std::exception& e) {  // msgpack::unpack_error and its limits
        error = std::string("not msgpack: ") + e.what();
    }
    received_.erase(0, kLengthPrefixBytes + length);
    if (!response) throw IngestError("malformed response from " + address_ + ": " + error);
    return std::move(*response);
}

void send_json_lines(IngestClient& client, std::istream& lines, const SendOptions& options,
                     SendSummary& summary) {
    std::deque<std::vector<size_t>> frames_in_flight;  // the input lines of each
    std::vector<json> batch;
    std::vector<size_t> batch_lines;
    auto record_oldest_response = [&] {
        record_response(client.read_response(), frames_in_flight.front(), client.address(),
                        summary);
        frames_in_flight.pop_front();
    };
    auto send_batch = [&] {
        if (frames_in_flight.size() >= options.window) record_oldest_response();
        client.send_frame(options.batch_size == 1 ? encode_event(batch.front())
                                                  : encode_batch(batch));
        frames_in_flight.push_back(std::move(batch_lines));
        batch.clear();
        batch_lines.clear();
    };

    std::string text;
    for (size_t line = 1; std::getline(lines, text); ++line) {
        if (is_blank(text)) continue;
        json event;
        try {
            event = json::parse(text);
        } catch (const json::parse_error& e) {
            summary.errors.push_back(
                {line, "not valid JSON (at byte " + std::to_string(e.byte) + ")"});
            continue;
        }
        if (!event.is_object()) {
            summary.errors.push_back({line, "not a JSON object"});
            continue;
        }
        batch.push_back(std::move(event));
        batch_lines.push_back(line);
        if (batch.size() >= options.batch_size) send_batch();
    }
    if (!batch.empty()) send_batch();
    while (!frames_in_flight.empty()) record_oldest_response();
    std::stable_sort(summary.errors.begin(), summary.errors.end(),
                     [](const LineError& a, const LineError& b) { return a.line < b.line; });
}

}  // namespace journeyd
