// Delivery sink tests on real files and a real local HTTP server: every wait is a poll with a
// deadline, never a sleep that hopes the work is done.
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "runtime/delivery/delivery_sink.hpp"
#include "runtime/delivery/http_answer.hpp"
#include "tests/support/poll.hpp"
#include "tests/support/ports.hpp"

using namespace journeyd;
using namespace std::chrono_literals;

namespace {

constexpr TimeMs kFirstDecision = 1'700'000'000'000;
const std::string kPath = "/deliveries";

// Retries are the point of several tests; their warnings would bury Catch's own output.
const bool kQuietLogs = [] {
    spdlog::set_level(spdlog::level::err);
    return true;
}();

// The sequence number travels in decided_at, so a receiver can check each customer's order.
Delivery make_delivery(const std::string& customer, int sequence) {
    return {"decision-" + customer + "-" + std::to_string(sequence),
            customer,
            "onboarding",
            "email",
            "welcome-" + std::to_string(sequence),
            "high",
            kFirstDecision + sequence};
}

std::vector<Delivery> interleaved_deliveries(int customers, int per_customer) {
    std::vector<Delivery> deliveries;
    for (int sequence = 0; sequence < per_customer; ++sequence)
        for (int c = 0; c < customers; ++c)
            deliveries.push_back(make_delivery("customer-" + std::to_string(c), sequence));
    return deliveries;
}

SinkOptions fast_retries() {
    SinkOptions options;
    options.retry_initial = 10ms;
    options.retry_max = 100ms;
    options.http_timeout = 2s;
    return options;
}

std::map<std::string, std::vector<TimeMs>> sequences_by_customer(
    const std::vector<nlohmann::json>& objects) {
    std::map<std::string, std::vector<TimeMs>> sequences;
    for (const nlohmann::json& object : objects)
        sequences[object.at("customer").get<std::string>()].push_back(
            object.at("decided_at").get<TimeMs>() - kFirstDecision);
    return sequences;
}

void require_each_customer_in_order(const std::vector<nlohmann::json>& objects, int customers,
                                    int per_customer) {
    const auto sequences = sequences_by_customer(objects);
    REQUIRE(sequences.size() == static_cast<size_t>(customers));
    std::vector<TimeMs> expected(per_customer);
    for (int i = 0; i < per_customer; ++i) expected[i] = i;
    for (const auto& [customer, sequence] : sequences) {
        INFO("customer " << customer);
        REQUIRE(sequence == expected);
    }
}

void require_same_object(const nlohmann::json& object, const Delivery& delivery) {
    REQUIRE(object.size() == 7);
    CHECK(object.at("decision_id") == delivery.decision_id);
    CHECK(object.at("customer") == delivery.customer);
    CHECK(object.at("program") == delivery.program);
    CHECK(object.at("channel") == delivery.channel);
    CHECK(object.at("template") == delivery.template_name);
    CHECK(object.at("priority") == delivery.priority);
    CHECK(object.at("decided_at") == delivery.decided_at);
}

// Offers until accepted: the back-pressure loop the coordinator runs.
void offer_all(DeliverySink& sink, const std::vector<Delivery>& deliveries) {
    for (const Delivery& delivery : deliveries)
        REQUIRE(test::poll_until([&] { return sink.offer(delivery); }));
}

class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "journeyd-sink-XXXXXX");
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// What an endpoint received, filled from the server's threads.
struct Receiver {
    std::mutex mutex;
    std::vector<nlohmann::json> accepted;  // answered 2xx, in arrival order
    std::vector<std::string> arrived_ids;  // every request, whatever the answer
    std::vector<std::string> content_types;

    size_t accepted_count() {
        std::lock_guard<std::mutex> lock(mutex);
        return accepted.size();
    }
};

class TestServer {
  public:
    // port 0: any free port.
    explicit TestServer(httplib::Server::Handler handler, int port = 0) {
        server_.Post(kPath, std::move(handler));
        port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                          : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
        REQUIRE(port_ > 0);
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        if (!test::poll_until([this] { return server_.is_running(); })) {
            thread_.join();
            FAIL("test HTTP server did not start");
        }
    }
    ~TestServer() {
        server_.stop();
        thread_.join();
    }
    std::string sink_spec() const { return "http://127.0.0.1:" + std::to_string(port_) + kPath; }

  private:
    httplib::Server server_;
    int port_ = -1;
    std::thread thread_;
};

std::string spec_for_port(int port) {
    return "http://127.0.0.1:" + std::to_string(port) + kPath;
}

// Records the body, then answers with whatever `status_for` says for it.
httplib::Server::Handler recording_handler(
    std::shared_ptr<Receiver> receiver,
    std::function<int(const nlohmann::json&, Receiver&)> status_for) {
    return [receiver, status_for](const httplib::Request& request, httplib::Response& response) {
        const nlohmann::json object = nlohmann::json::parse(request.body);
        std::lock_guard<std::mutex> lock(receiver->mutex);
        receiver->arrived_ids.push_back(object.at("decision_id").get<std::string>());
        receiver->content_types.push_back(request.get_header_value("Content-Type"));
        response.status = status_for(object, *receiver);
        if (response.status == 200) receiver->accepted.push_back(object);
    };
}

std::unique_ptr<DeliverySink> require_sink(const std::string& spec, const SinkOptions& options) {
    std::string error;
    auto sink = make_sink(spec, options, error);
    INFO(error);
    REQUIRE(sink != nullptr);
    return sink;
}

}  // namespace

TEST_CASE("file sink appends one JSON object a line, in offer order, all of it by close()") {
    TempDir dir;
    const std::string path = dir.file("deliveries.ndjson");
    SinkOptions options = fast_retries();
    options.queue_capacity = 16;  // far fewer than offered: back-pressure on the way
    auto sink = require_sink("file:" + path, options);
    const auto deliveries = interleaved_deliveries(10, 30);
    offer_all(*sink, deliveries);
    sink->close();

    const auto lines = read_lines(path);
    REQUIRE(lines.size() == deliveries.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        INFO("line " << i + 1);
        require_same_object(nlohmann::json::parse(lines[i]), deliveries[i]);
    }
    const SinkStats stats = sink->stats();
    CHECK(stats.delivered == deliveries.size());
    CHECK(stats.queued == 0);
    CHECK(stats.retries == 0);
    CHECK_FALSE(sink->offer(make_delivery("late", 0)));
}

TEST_CASE("file sink appends after existing lines and ends a torn last line first") {
    TempDir dir;
    const std::string path = dir.file("deliveries.ndjson");
    std::ofstream(path) << "{\"decision_id\":\"complete\"}\n{\"decision_id\":\"tor";
    auto sink = require_sink("file:" + path, fast_retries());
    REQUIRE(sink->offer(make_delivery("customer-1", 0)));
    sink->close();

    const auto lines = read_lines(path);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0] == "{\"decision_id\":\"complete\"}");
    CHECK(lines[1] == "{\"decision_id\":\"tor");
    require_same_object(nlohmann::json::parse(lines[2]), make_delivery("customer-1", 0));
}

// What on_delivered was called with, from the sink's threads.
struct Confirmations {
    std::mutex mutex;
    std::vector<std::string> ids;

    std::function<void(std::vector<std::string>)> callback() {
        return [this](std::vector<std::string> delivered) {
            std::lock_guard<std::mutex> lock(mutex);
            ids.insert(ids.end(), delivered.begin(), delivered.end());
        };
    }
    std::vector<std::string> all() {
        std::lock_guard<std::mutex> lock(mutex);
        return ids;
    }
};

std::vector<std::string> ids_of(const std::vector<Delivery>& deliveries) {
    std::vector<std::string> ids;
    for (const Delivery& d : deliveries) ids.push_back(d.decision_id);
    return ids;
}

TEST_CASE("file sink confirms each delivery once it is on disk, in order") {
    TempDir dir;
    Confirmations confirmed;
    SinkOptions options = fast_retries();
    options.queue_capacity = 8;
    options.on_delivered = confirmed.callback();
    auto sink = require_sink("file:" + dir.file("deliveries.ndjson"), options);
    const auto deliveries = interleaved_deliveries(5, 10);
    offer_all(*sink, deliveries);
    REQUIRE(test::poll_until([&] { return confirmed.all().size() == deliveries.size(); }));
    CHECK(confirmed.all() == ids_of(deliveries));
    CHECK(read_lines(dir.file("deliveries.ndjson")).size() == deliveries.size());
}

TEST_CASE("file sink drops ids already among its file's newest lines, confirming them") {
    TempDir dir;
    const std::string path = dir.file("deliveries.ndjson");
    const auto earlier = interleaved_deliveries(3, 10);  // 30 lines
    {
        auto sink = require_sink("file:" + path, fast_retries());
        offer_all(*sink, earlier);
        sink->close();
    }
    // A torn line at the end, as a kill leaves it, names nothing and stops nothing.
    std::ofstream(path, std::ios::app) << "{\"decision_id\":\"torn";
    Confirmations confirmed;
    SinkOptions options = fast_retries();
    options.tail_lines = 20;  // the torn line and the newest 19 whole ones
    options.on_delivered = confirmed.callback();
    auto sink = require_sink("file:" + path, options);
    const Delivery old_one = earlier[5];      // line 6: before the tail
    const Delivery recent_one = earlier[25];  // line 26: in it
    const Delivery torn_one{"torn", "customer-9", "p", "email", "t", "high", kFirstDecision};
    for (const Delivery& d : {recent_one, old_one, torn_one}) REQUIRE(sink->offer(d));
    sink->close();

    CHECK(sink->stats().already_delivered == 1);
    CHECK(sink->stats().delivered == 2);
    const auto lines = read_lines(path);
    REQUIRE(lines.size() == earlier.size() + 1 + 2);
    require_same_object(nlohmann::json::parse(lines[lines.size() - 2]), old_one);
    require_same_object(nlohmann::json::parse(lines.back()), torn_one);
    // Confirmed all the same: its outbox entry must go too.
    CHECK(confirmed.all() ==
          std::vector<std::string>{recent_one.decision_id, old_one.decision_id, "torn"});
}

TEST_CASE("make_sink refuses a spec that is neither file:PATH nor http://HOST:PORT/PATH") {
    for (const char* spec :
         {"", "deliveries.ndjson", "file:", "ftp://127.0.0.1:21/x", "https://127.0.0.1:443/x",
          "http://127.0.0.1/deliveries", "http://127.0.0.1:80", "http://:80/deliveries",
          "http://127.0.0.1:port/deliveries", "http://127.0.0.1:0/deliveries",
          "http://127.0.0.1:65536/deliveries"}) {
        INFO("spec \"" << spec << "\"");
        std::string error;
        CHECK(make_sink(spec, SinkOptions{}, error) == nullptr);
        CHECK_THAT(error, Catch::Contains("file:PATH or http://HOST:PORT/PATH"));
    }
}

TEST_CASE("make_sink refuses a file it cannot open for appending") {
    TempDir dir;
    for (const std::string& path :
         {dir.file("missing-directory/deliveries.ndjson"), dir.file("")}) {
        INFO("path " << path);
        std::string error;
        CHECK(make_sink("file:" + path, SinkOptions{}, error) == nullptr);
        CHECK_THAT(error, Catch::Contains(path));
    }
}

TEST_CASE("http sink posts every delivery as a JSON object and drains on close()") {
    auto receiver = std::make_shared<Receiver>();
    TestServer server(recording_handler(receiver, [](auto&, auto&) { return 200; }));
    auto sink = require_sink(server.sink_spec(), fast_retries());
    const auto deliveries = interleaved_deliveries(20, 5);
    offer_all(*sink, deliveries);
    sink->close();  // no waiting before it: close() itself delivers what is queued

    std::lock_guard<std::mutex> lock(receiver->mutex);
    REQUIRE(receiver->accepted.size() == deliveries.size());
    std::map<std::string, nlohmann::json> by_id;
    for (const nlohmann::json& object : receiver->accepted)
        by_id[object.at("decision_id")] = object;
    for (const Delivery& delivery : deliveries) {
        INFO("decision " << delivery.decision_id);
        REQUIRE(by_id.count(delivery.decision_id) == 1);
        require_same_object(by_id[delivery.decision_id], delivery);
    }
    for (const std::string& content_type : receiver->content_types)
        CHECK(content_type == "application/json");
    require_each_customer_in_order(receiver->accepted, 20, 5);
    const SinkStats stats = sink->stats();
    CHECK(stats.delivered == deliveries.size());
    CHECK(stats.queued == 0);
    CHECK(stats.retries == 0);
    CHECK_FALSE(sink->offer(make_delivery("late", 0)));
}

TEST_CASE("http sink confirms each delivery once it is answered 2xx, not before") {
    auto receiver = std::make_shared<Receiver>();
    TestServer server(recording_handler(
        receiver, [](auto&, Receiver& r) { return r.arrived_ids.size() <= 3 ? 503 : 200; }));
    Confirmations confirmed;
    SinkOptions options = fast_retries();
    options.http_lanes = 1;
    options.on_delivered = confirmed.callback();
    auto sink = require_sink(server.sink_spec(), options);
    const auto deliveries = interleaved_deliveries(2, 3);
    offer_all(*sink, deliveries);
    sink->close();
    CHECK(sink->stats().retries == 3);
    CHECK(confirmed.all() == ids_of(deliveries));
}

TEST_CASE("http sink retries 500 answers and keeps each customer's order") {
    constexpr size_t kFailedAnswers = 25;
    auto receiver = std::make_shared<Receiver>();
    TestServer server(recording_handler(receiver, [](auto&, Receiver& r) {
        return r.arrived_ids.size() <= kFailedAnswers ? 500 : 200;
    }));
    auto sink = require_sink(server.sink_spec(), fast_retries());
    const auto deliveries = interleaved_deliveries(20, 5);
    offer_all(*sink, deliveries);

    REQUIRE(test::poll_until([&] { return receiver->accepted_count() == deliveries.size(); }));
    sink->close();
    std::lock_guard<std::mutex> lock(receiver->mutex);
    require_each_customer_in_order(receiver->accepted, 20, 5);
    const SinkStats stats = sink->stats();
    CHECK(stats.delivered == deliveries.size());
    CHECK(stats.retries >= kFailedAnswers);
    CHECK(stats.queued == 0);
}

TEST_CASE("http sink retries a refused connection until the endpoint comes up") {
    auto receiver = std::make_shared<Receiver>();
    const int port = test::reserve_port();  // refuses connections until the server binds it
    auto sink = require_sink(spec_for_port(port), fast_retries());
    const auto deliveries = interleaved_deliveries(20, 5);
    offer_all(*sink, deliveries);
    REQUIRE(test::poll_until([&] { return sink->stats().retries >= 3; }));
    CHECK(sink->stats().delivered == 0);

    TestServer server(recording_handler(receiver, [](auto&, auto&) { return 200; }), port);
    REQUIRE(test::poll_until([&] { return receiver->accepted_count() == deliveries.size(); }));
    sink->close();
    std::lock_guard<std::mutex> lock(receiver->mutex);
    require_each_customer_in_order(receiver->accepted, 20, 5);
    CHECK(sink->stats().delivered == deliveries.size());
}

TEST_CASE("http sink resends after a failed answer and receivers dedupe on decision_id") {
    // The request arrives and is recorded, but the answer says it failed: the sink cannot
    // tell this from a lost request, so the receiver gets the same decision again.
    auto receiver = std::make_shared<Receiver>();
    TestServer server(recording_handler(receiver, [](const nlohmann::json& object, Receiver& r) {
        const bool every_third = (object.at("decided_at").get<TimeMs>() - kFirstDecision) % 3 == 0;
        const auto id = object.at("decision_id").get<std::string>();
        const bool first_arrival = std::count(r.arrived_ids.begin(), r.arrived_ids.end(), id) == 1;
        return every_third && first_arrival ? 500 : 200;
    }));
    auto sink = require_sink(server.sink_spec(), fast_retries());
    const auto deliveries = interleaved_deliveries(10, 6);
    offer_all(*sink, deliveries);
    REQUIRE(test::poll_until([&] { return receiver->accepted_count() == deliveries.size(); }));
    sink->close();

    std::lock_guard<std::mutex> lock(receiver->mutex);
    const std::set<std::string> unique_ids(receiver->arrived_ids.begin(),
                                           receiver->arrived_ids.end());
    CHECK(unique_ids.size() == deliveries.size());
    const size_t duplicates = receiver->arrived_ids.size() - unique_ids.size();
    CHECK(duplicates >= deliveries.size() / 3);
    for (const Delivery& delivery : deliveries) CHECK(unique_ids.count(delivery.decision_id) == 1);
    require_each_customer_in_order(receiver->accepted, 10, 6);
    CHECK(sink->stats().retries >= duplicates);
    CHECK(sink->stats().retries > 0);
}

TEST_CASE("http sink with a dead endpoint refuses offers once full and close() gives up") {
    SinkOptions options = fast_retries();
    options.queue_capacity = 8;
    options.http_lanes = 2;
    options.close_timeout = 200ms;
    auto sink = require_sink(spec_for_port(test::reserve_port()), options);  // nothing listens

    uint64_t accepted = 0;
    uint64_t refused = 0;
    for (const Delivery& delivery : interleaved_deliveries(50, 20)) {
        if (sink->offer(delivery)) {
            ++accepted;
        } else {
            ++refused;
        }
    }
    CHECK(accepted == options.queue_capacity);  // 1000 deliveries fill both lanes
    CHECK(refused == 1000 - accepted);
    SinkStats stats = sink->stats();
    CHECK(stats.queue_full == refused);
    CHECK(stats.queued == accepted);
    REQUIRE(test::poll_until([&] { return sink->stats().retries > 0; }));

    auto closing = std::async(std::launch::async, [&] { sink->close(); });
    REQUIRE(test::poll_until([&] { return closing.wait_for(0s) == std::future_status::ready; }));
    stats = sink->stats();
    CHECK(stats.delivered == 0);
    CHECK(stats.queued == accepted);  // given up on, still visible as undelivered
    CHECK_FALSE(sink->offer(make_delivery("late", 0)));
}

TEST_CASE("http sink close() cuts short a request the endpoint never answers") {
    struct Gate {
        std::mutex mutex;
        std::condition_variable opened;
        bool open = false;
        int arrived = 0;
    };
    auto gate = std::make_shared<Gate>();
    TestServer server([gate](const httplib::Request&, httplib::Response& response) {
        std::unique_lock<std::mutex> lock(gate->mutex);
        ++gate->arrived;
        gate->opened.wait_for(lock, test::kPollDeadline, [&] { return gate->open; });
        response.status = 200;
    });
    SinkOptions options = fast_retries();
    options.http_timeout = 60s;  // beyond the poll's deadline: only close() can end the wait
    options.close_timeout = 200ms;
    auto sink = require_sink(server.sink_spec(), options);
    REQUIRE(sink->offer(make_delivery("customer-1", 0)));
    REQUIRE(test::poll_until([&] {
        std::lock_guard<std::mutex> lock(gate->mutex);
        return gate->arrived == 1;
    }));

    auto closing = std::async(std::launch::async, [&] { sink->close(); });
    REQUIRE(test::poll_until([&] { return closing.wait_for(0s) == std::future_status::ready; }));
    CHECK(sink->stats().delivered == 0);
    CHECK(sink->stats().queued == 1);
    {
        std::lock_guard<std::mutex> lock(gate->mutex);
        gate->open = true;
    }
    gate->opened.notify_all();
}

TEST_CASE("http answers: 2xx delivered; the listed 4xx or a permanent failure dead; else retry") {
    const auto now = std::chrono::system_clock::from_time_t(1'790'000'000);
    using Kind = AnswerVerdict::Kind;
    CHECK(judge_answer(200, "", "", now, 10min).kind == Kind::delivered);
    CHECK(judge_answer(204, "", "", now, 10min).kind == Kind::delivered);
    for (int status : {400, 401, 403, 404, 410, 413, 422})
        CHECK(judge_answer(status, "", "", now, 10min).kind == Kind::dead);
    CHECK(judge_answer(500, "", "Permanent", now, 10min).kind == Kind::dead);
    for (int status : {408, 409, 429, 500, 502, 503})
        CHECK(judge_answer(status, "", "", now, 10min).kind == Kind::retry);
    const AnswerVerdict later = judge_answer(429, "7", "", now, 10min);
    CHECK(later.kind == Kind::retry);
    CHECK(later.retry_after == std::chrono::milliseconds(7s));
    CHECK(judge_answer(503, "86400", "", now, 10min).retry_after ==
          std::chrono::milliseconds(10min));
    CHECK_FALSE(judge_answer(503, "soon", "", now, 10min).retry_after);
}

TEST_CASE("http answers: Retry-After as seconds or an HTTP date") {
    // Mon, 21 Sep 2026 00:00:00 GMT is 1,789,948,800 s after the epoch.
    const auto now = std::chrono::system_clock::from_time_t(1'789'948'800);
    CHECK(parse_retry_after("120", now) == std::chrono::milliseconds(120s));
    CHECK(parse_retry_after("Mon, 21 Sep 2026 00:01:30 GMT", now) ==
          std::chrono::milliseconds(90s));
    CHECK(parse_retry_after("Sun, 20 Sep 2026 23:00:00 GMT", now) == std::chrono::milliseconds(0));
    CHECK_FALSE(parse_retry_after("", now));
    CHECK_FALSE(parse_retry_after("-5", now));
    CHECK_FALSE(parse_retry_after("Mon, 21 Sep 2026 00:01:30", now));
    CHECK_FALSE(parse_retry_after("99999999999999999999", now));
}

// It used to retry a 400 forever, holding its lane: the other customers of the lane waited.
TEST_CASE("http sink parks a send refused for good as a dead letter and the lane goes on") {
    auto receiver = std::make_shared<Receiver>();
    TestServer server([receiver](const httplib::Request& request, httplib::Response& response) {
        const nlohmann::json object = nlohmann::json::parse(request.body);
        std::lock_guard<std::mutex> lock(receiver->mutex);
        receiver->arrived_ids.push_back(object.at("decision_id").get<std::string>());
        if (object.at("customer") == "customer-1") {
            response.status = 400;
            response.set_content(std::string(600, 'x'), "text/plain");
            return;
        }
        response.status = 200;
        receiver->accepted.push_back(object);
    });
    SinkOptions options = fast_retries();
    options.http_lanes = 1;  // every customer shares the one lane the refusals would hold
    std::mutex mutex;
    std::vector<DeadLetter> dead;
    std::vector<std::string> confirmed;
    options.on_dead_letter = [&](DeadLetter d) {
        std::lock_guard<std::mutex> lock(mutex);
        dead.push_back(std::move(d));
    };
    options.on_delivered = [&](std::vector<std::string> ids) {
        std::lock_guard<std::mutex> lock(mutex);
        confirmed.insert(confirmed.end(), ids.begin(), ids.end());
    };
    auto sink = require_sink(server.sink_spec(), options);
    const auto deliveries = interleaved_deliveries(3, 4);
    offer_all(*sink, deliveries);

    REQUIRE(test::poll_until([&] { return receiver->accepted_count() == 8; }));
    sink->close();
    std::lock_guard<std::mutex> lock(mutex);
    REQUIRE(dead.size() == 4);
    for (const DeadLetter& d : dead) {
        CHECK(d.delivery.customer == "customer-1");
        CHECK(d.status == 400);
        CHECK(d.error == std::string(512, 'x'));
        CHECK(d.at > 0);
    }
    CHECK(confirmed.size() == 8);
    const SinkStats stats = sink->stats();
    CHECK(stats.delivered == 8);
    CHECK(stats.dead_letters == 4);
    CHECK(stats.retries == 0);
    CHECK(stats.queued == 0);
}

TEST_CASE("http sink waits as long as a 429's Retry-After asks, then delivers") {
    auto receiver = std::make_shared<Receiver>();
    std::vector<std::chrono::steady_clock::time_point> arrivals;
    TestServer server([&](const httplib::Request&, httplib::Response& response) {
        std::lock_guard<std::mutex> lock(receiver->mutex);
        arrivals.push_back(std::chrono::steady_clock::now());
        if (arrivals.size() == 1) {
            response.status = 429;
            response.set_header("Retry-After", "1");
            return;
        }
        response.status = 200;
        receiver->accepted.push_back(nlohmann::json::object());
    });
    auto sink = require_sink(server.sink_spec(), fast_retries());
    offer_all(*sink, {make_delivery("customer-0", 0)});
    REQUIRE(test::poll_until([&] { return receiver->accepted_count() == 1; }));
    sink->close();
    std::lock_guard<std::mutex> lock(receiver->mutex);
    REQUIRE(arrivals.size() == 2);
    CHECK(arrivals[1] - arrivals[0] >= 1s);  // the backoff alone would have been 10 ms
    CHECK(sink->stats().retries == 1);
}
