// The ingest client against fake servers speaking the framing of docs/protocol.md: encoding,
// pipelining in order, failures with clear messages, and journeyctl send's line mapping.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/client/ingest_client.hpp"
#include "state/codec/msgpack_json.hpp"
#include "tests/support/ports.hpp"

using namespace journeyd;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A listening socket on 127.0.0.1 with a kernel-chosen port.
int listen_on_loopback(uint16_t& port) {
    const int listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::listen(listen_fd, 1) != 0 ||
        ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
        throw std::runtime_error(std::string("cannot listen: ") + std::strerror(errno));
    }
    port = ntohs(address.sin_port);
    return listen_fd;
}

// Serves one connection with `serve` on its own thread; the socket closes when serve returns.
class FakeIngestServer {
  public:
    explicit FakeIngestServer(std::function<void(int)> serve)
        : listen_fd_(listen_on_loopback(port_)), thread_([this, serve = std::move(serve)] {
              const int connection = ::accept(listen_fd_, nullptr, nullptr);
              if (connection < 0) return;  // shut down before a client came
              serve(connection);
              ::close(connection);
          }) {}

    ~FakeIngestServer() {
        ::shutdown(listen_fd_, SHUT_RDWR);  // wakes an accept still waiting
        thread_.join();
        ::close(listen_fd_);
    }

    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  private:
    uint16_t port_ = 0;
    int listen_fd_;
    std::thread thread_;
};

bool read_exactly(int fd, char* data, size_t size) {
    for (size_t done = 0; done < size;) {
        const ssize_t received = ::recv(fd, data + done, size - done, 0);
        if (received <= 0) return false;
        done += static_cast<size_t>(received);
    }
    return true;
}

void write_all(int fd, const std::string& bytes) {
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t sent = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (sent <= 0) return;
        done += static_cast<size_t>(sent);
    }
}

std::string length_prefix(uint32_t length) {
    return {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
            static_cast<char>(length >> 8), static_cast<char>(length)};
}

// The body of the next frame; nullopt once the client closed.
std::optional<std::string> read_frame(int fd) {
    unsigned char prefix[4];
    if (!read_exactly(fd, reinterpret_cast<char*>(prefix), sizeof prefix)) return std::nullopt;
    const uint32_t length = uint32_t{prefix[0]} << 24 | uint32_t{prefix[1]} << 16 |
                            uint32_t{prefix[2]} << 8 | uint32_t{prefix[3]};
    std::string body(length, '\0');
    if (!read_exactly(fd, body.data(), length)) return std::nullopt;
    return body;
}

void write_frame(int fd, const json& value) {
    const std::string body = encode_event(value);  // any JSON value, not only events
    write_all(fd, length_prefix(static_cast<uint32_t>(body.size())) + body);
}

json decode(const std::string& body) {
    const msgpack::object_handle handle = msgpack::unpack(body.data(), body.size());
    std::string error;
    return msgpack_to_json(handle.get(), error).value_or(json());
}

json ok_response(uint64_t accepted, uint64_t duplicates, json errors = json::array()) {
    return {{"ok", errors.empty()},
            {"accepted", accepted},
            {"duplicates", duplicates},
            {"errors", std::move(errors)}};
}

// Answers like the daemon would: an event of type "bad" is rejected, one with id "dup" is a
// duplicate, the others are accepted. Records whether each frame was a batch.
struct DaemonLikeServer {
    std::mutex mutex;
    std::vector<bool> frames_were_batches;

    void serve(int fd) {
        while (const std::optional<std::string> body = read_frame(fd)) {
            const json request = decode(*body);
            const json events = request.is_array() ? request : json::array({request});
            uint64_t accepted = 0, duplicates = 0;
            json errors = json::array();
            for (size_t index = 0; index < events.size(); ++index) {
                if (events[index].value("type", "") == "bad") {
                    errors.push_back({{"index", index}, {"error", "type \"bad\" is refused"}});
                } else if (events[index].value("id", "") == "dup") {
                    ++duplicates;
                } else {
                    ++accepted;
                }
            }
            {
                std::lock_guard<std::mutex> lock(mutex);
                frames_were_batches.push_back(request.is_array());
            }
            write_frame(fd, ok_response(accepted, duplicates, std::move(errors)));
        }
    }
};

std::string event_line(const std::string& id, const std::string& type) {
    return json{{"id", id}, {"customer", "c-1"}, {"type", type}, {"ts", 1700000000000}}.dump();
}

}  // namespace

TEST_CASE("encode_event packs an event as a string-keyed msgpack map", "[client]") {
    const json event = {{"id", "e-1"},
                        {"customer", "c-42"},
                        {"type", "profile"},
                        {"ts", 1717171717123},
                        {"attrs",
                         {{"tz", "Europe/Oslo"},
                          {"score", 0.5},
                          {"vip", true},
                          {"nickname", nullptr},
                          {"tags", {"a", "b"}},
                          {"consent", {{"email", false}}}}}};
    const std::string body = encode_event(event);
    const msgpack::object_handle handle = msgpack::unpack(body.data(), body.size());
    const msgpack::object& root = handle.get();
    REQUIRE(root.type == msgpack::type::MAP);

    std::map<std::string, msgpack::object> fields;
    for (uint32_t i = 0; i < root.via.map.size; ++i) {
        const msgpack::object_kv& kv = root.via.map.ptr[i];
        REQUIRE(kv.key.type == msgpack::type::STR);
        fields[kv.key.as<std::string>()] = kv.val;
    }
    REQUIRE(fields.size() == 5);
    CHECK(fields["id"].type == msgpack::type::STR);
    CHECK(fields["customer"].as<std::string>() == "c-42");
    CHECK(fields["type"].type == msgpack::type::STR);
    CHECK(fields["ts"].type == msgpack::type::POSITIVE_INTEGER);
    CHECK(fields["ts"].as<int64_t>() == 1717171717123);
    REQUIRE(fields["attrs"].type == msgpack::type::MAP);

    std::string error;
    const std::optional<json> attrs = msgpack_to_json(fields["attrs"], error);
    REQUIRE(attrs);
    CHECK(*attrs == event["attrs"]);
    std::map<std::string, msgpack::type::object_type> attr_types;
    for (uint32_t i = 0; i < fields["attrs"].via.map.size; ++i) {
        const msgpack::object_kv& kv = fields["attrs"].via.map.ptr[i];
        attr_types[kv.key.as<std::string>()] = kv.val.type;
    }
    CHECK(attr_types["score"] == msgpack::type::FLOAT64);
    CHECK(attr_types["vip"] == msgpack::type::BOOLEAN);
    CHECK(attr_types["nickname"] == msgpack::type::NIL);
    CHECK(attr_types["tags"] == msgpack::type::ARRAY);
    CHECK(attr_types["consent"] == msgpack::type::MAP);
}

TEST_CASE("encode_batch packs events as a msgpack array of maps", "[client]") {
    const std::vector<json> events = {{{"id", "e-1"}, {"customer", "c"}, {"type", "view"}},
                                      {{"id", "e-2"}, {"customer", "c"}, {"type", "sale"}}};
    const std::string body = encode_batch(events);
    const msgpack::object_handle handle = msgpack::unpack(body.data(), body.size());
    REQUIRE(handle.get().type == msgpack::type::ARRAY);
    REQUIRE(handle.get().via.array.size == 2);
    CHECK(handle.get().via.array.ptr[1].type == msgpack::type::MAP);
    CHECK(decode(body) == json(events));
}

TEST_CASE("parse_host_port", "[client]") {
    CHECK(parse_host_port("127.0.0.1:7400")->port == 7400);
    CHECK(parse_host_port("[::1]:7400")->host == "::1");
    CHECK_FALSE(parse_host_port("localhost"));
    CHECK_FALSE(parse_host_port(":7400"));
    CHECK_FALSE(parse_host_port("localhost:0"));
    CHECK_FALSE(parse_host_port("localhost:65536"));
    CHECK_FALSE(parse_host_port("localhost:74x"));
}

TEST_CASE("pipelined frames are answered in request order", "[client]") {
    constexpr int kFrames = 50;
    // Answers frame k (from 1) with accepted = k and echoes the event id it decoded.
    FakeIngestServer server([](int fd) {
        for (uint64_t frame = 1; const std::optional<std::string> body = read_frame(fd); ++frame) {
            json response = ok_response(frame, 0);
            response["echo"] = decode(*body).value("id", "");
            write_frame(fd, response);
        }
    });
    IngestClient client = IngestClient::connect(server.address(), 2s);
    for (int frame = 1; frame <= kFrames; ++frame) {
        client.send_frame(encode_event(
            {{"id", "e-" + std::to_string(frame)}, {"customer", "c"}, {"type", "view"}}));
    }
    for (int frame = 1; frame <= kFrames; ++frame) {
        const json response = client.read_response();
        REQUIRE(response["accepted"] == frame);
        REQUIRE(response["echo"] == "e-" + std::to_string(frame));
        CHECK(response["ok"] == true);
        CHECK(response["errors"] == json::array());
    }
}

TEST_CASE("response_arrives_within waits for an answer without reading it", "[client]") {
    FakeIngestServer server([](int fd) {
        read_frame(fd);
        // A late answer is the point: the client must find none at first, then wait for it.
        std::this_thread::sleep_for(200ms);
        write_frame(fd, ok_response(1, 0));
        read_frame(fd);  // until the client closes
    });
    IngestClient client = IngestClient::connect(server.address(), 2s);
    client.send_frame(encode_event({{"id", "e-1"}, {"customer", "c"}, {"type", "view"}}));
    REQUIRE_FALSE(client.response_arrives_within(10ms));
    REQUIRE(client.response_arrives_within(2s));
    REQUIRE(client.response_arrives_within(0ms));  // still there: nothing was read
    REQUIRE(client.read_response()["accepted"] == 1);
}

TEST_CASE("connecting to a closed port fails naming the address", "[client]") {
    const uint16_t port = test::reserve_port();  // nothing listens on it
    const std::string address = "127.0.0.1:" + std::to_string(port);
    REQUIRE_THROWS_WITH(
        IngestClient::connect(address, 2s),
        Catch::Contains("cannot connect to " + address) && Catch::Contains("refused"));
    REQUIRE_THROWS_WITH(IngestClient::connect("no-port-here", 2s),
                        Catch::Contains("invalid ingest address \"no-port-here\""));
}

TEST_CASE("a truncated response frame makes read_response throw", "[client]") {
    FakeIngestServer server([](int fd) {
        read_frame(fd);
        write_all(fd, length_prefix(100) + std::string(10, 'x'));  // promised 100, sent 10
    });
    IngestClient client = IngestClient::connect(server.address(), 2s);
    client.send_frame(encode_event({{"id", "e-1"}}));
    REQUIRE_THROWS_WITH(client.read_response(),
                        Catch::Contains("closed the connection in the middle of a response"));
}

TEST_CASE("a server that closes or stays silent makes read_response throw", "[client]") {
    SECTION("closed") {
        FakeIngestServer server([](int fd) { read_frame(fd); });
        IngestClient client = IngestClient::connect(server.address(), 2s);
        client.send_frame(encode_event({{"id", "e-1"}}));
        REQUIRE_THROWS_WITH(client.read_response(),
                            Catch::EndsWith(server.address() + " closed the connection"));
    }
    SECTION("silent") {
        FakeIngestServer server([](int fd) {
            read_frame(fd);
            read_frame(fd);  // until the client gives up and closes
        });
        IngestClient client = IngestClient::connect(server.address(), 100ms);
        client.send_frame(encode_event({{"id", "e-1"}}));
        REQUIRE_THROWS_WITH(client.read_response(),
                            Catch::Contains("timed out after 100 ms waiting for a response"));
    }
    SECTION("not msgpack") {
        FakeIngestServer server([](int fd) {
            read_frame(fd);
            write_all(fd, length_prefix(1) + "\xc1");  // the one byte msgpack never uses
        });
        IngestClient client = IngestClient::connect(server.address(), 2s);
        client.send_frame(encode_event({{"id", "e-1"}}));
        REQUIRE_THROWS_WITH(client.read_response(), Catch::Contains("malformed response"));
    }
}

TEST_CASE("send_json_lines maps every rejection back to its input line", "[client]") {
    const std::string input = event_line("e-1", "view") + "\n" +  // line 1
                              "\n" +                              // line 2: skipped
                              event_line("e-2", "bad") + "\n" +   // line 3: rejected
                              "{not json\n" +                     // line 4
                              "[1, 2]\n" +                        // line 5
                              event_line("dup", "view") + "\n" +  // line 6: duplicate
                              event_line("e-3", "view") + "\n" +  // line 7
                              event_line("e-4", "bad") + "\n";    // line 8: rejected
    DaemonLikeServer daemon;
    SendSummary summary;
    SendOptions options;
    SECTION("in batches") {
        options.batch_size = 2;
    }
    SECTION("one event a frame") {
        options.batch_size = 1;
    }
    options.window = 2;
    {
        FakeIngestServer server([&](int fd) { daemon.serve(fd); });
        IngestClient client = IngestClient::connect(server.address(), 2s);
        std::istringstream lines(input);
        send_json_lines(client, lines, options, summary);
    }
    CHECK(summary.accepted == 2);
    CHECK(summary.duplicates == 1);
    REQUIRE(summary.errors.size() == 4);
    CHECK(summary.errors[0].line == 3);
    CHECK(summary.errors[0].error == "type \"bad\" is refused");
    CHECK(summary.errors[1].line == 4);
    CHECK_THAT(summary.errors[1].error, Catch::StartsWith("not valid JSON"));
    CHECK(summary.errors[2].line == 5);
    CHECK(summary.errors[2].error == "not a JSON object");
    CHECK(summary.errors[3].line == 8);

    // Five lines hold events: five single frames, or batches of 2, 2 and 1.
    const std::vector<bool> expected_kinds =
        options.batch_size == 1 ? std::vector<bool>(5, false) : std::vector<bool>(3, true);
    CHECK(daemon.frames_were_batches == expected_kinds);
}

TEST_CASE("a frame the daemon cannot read rejects every line of it", "[client]") {
    FakeIngestServer server([](int fd) {
        read_frame(fd);
        write_frame(fd, {{"ok", false}, {"error", "frame is not msgpack"}});
    });
    IngestClient client = IngestClient::connect(server.address(), 2s);
    std::istringstream lines(event_line("e-1", "view") + "\n" + event_line("e-2", "view"));
    SendSummary summary;
    send_json_lines(client, lines, SendOptions{}, summary);
    CHECK(summary.accepted == 0);
    REQUIRE(summary.errors.size() == 2);
    CHECK(summary.errors[1].line == 2);
    CHECK(summary.errors[1].error == "frame rejected: frame is not msgpack");
}
