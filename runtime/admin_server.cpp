#include "runtime/admin_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "actors/coordinator.hpp"
#include "actors/messages.hpp"
#include "state/customer_codec.hpp"
#include "state/event_codec.hpp"
#include "state/msgpack_json.hpp"

namespace journeyd {
namespace {

using nlohmann::json;
constexpr auto kActorTimeout = std::chrono::seconds(5);

struct HttpError {
    int status;
    std::string message;
};

void reply(httplib::Response& response, int status, const json& body) {
    response.status = status;
    response.set_content(body.dump(), "application/json");
}

// Asks an actor and waits a bounded time; throws HttpError 503 when it does not answer.
template <class Answer, class... Message>
Answer ask(caf::actor_system& system, const caf::actor& whom, Message&&... message) {
    caf::scoped_actor self{system};
    std::optional<Answer> answer;
    std::string failure;
    self->request(whom, kActorTimeout, std::forward<Message>(message)...)
        .receive([&](Answer& a) { answer = std::move(a); },
                 [&](caf::error& e) { failure = caf::to_string(e); });
    if (!answer) throw HttpError{503, "no answer from the runtime: " + failure};
    return std::move(*answer);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out += static_cast<char>(high * 16 + low);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// The decoded segments of the request target's path: "/customers/a%2Fb" -> {"customers", "a/b"}.
std::vector<std::string> path_segments(const httplib::Request& request) {
    std::string_view target = request.target.empty() ? request.path : request.target;
    target = target.substr(0, target.find('?'));
    std::vector<std::string> segments;
    size_t start = 0;
    while (start < target.size()) {
        if (target[start] == '/') {
            ++start;
            continue;
        }
        const size_t end = std::min(target.find('/', start), target.size());
        segments.push_back(url_decode(target.substr(start, end - start)));
        start = end;
    }
    return segments;
}

int64_t in_stage(const StoreStats& stored, const std::string& stage) {
    auto it = stored.customers_in_stage.find(stage);
    return it == stored.customers_in_stage.end() ? 0 : it->second;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char difference = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return difference == 0;
}

json customer_json(const CustomerState& c, const std::vector<Contact>& contacts,
                   const JourneyModel& model, const JourneyEngine& engine) {
    json timers = json::array();
    for (const PendingTimer& t : c.journey.timers)
        timers.push_back({{"name", engine.timer_name(t)}, {"due", t.due}});
    json sent = json::array();
    for (const Contact& contact : contacts)
        sent.push_back({{"program", model.programs[contact.program].name},
                        {"channel", model.programs[contact.program].channel},
                        {"at", contact.at}});
    return {{"id", c.id},
            {"stage", model.stages[c.journey.stage]},
            {"stage_since", c.journey.stage_since},
            {"profile", c.profile.attrs()},
            {"events_seen", c.journey.events_seen},
            {"timers", std::move(timers)},
            {"contacts", std::move(sent)}};
}

json decision_json(const Decision& d, const JourneyModel& model, const PressurePolicy& policy) {
    const Program& program = model.programs[d.program];
    json out = {{"decision_id", d.decision_id},
                {"program", program.name},
                {"channel", program.channel},
                {"priority", policy.hierarchy[program.priority]},
                {"outcome", std::string(to_string(d.outcome))},
                {"reason", d.reason},
                {"detail", d.detail},
                {"at", d.at}};
    if (d.outcome == Outcome::defer) out["until"] = d.until;
    return out;
}

const char* kConsolePage = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>journeyd</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style>
</head><body><h1>journeyd</h1><p>Live statistics (refreshed every 2 s):</p><pre id="stats">…</pre>
<script>
async function refresh(){const r=await fetch('/stats',{headers:token()});
document.getElementById('stats').textContent=r.ok?JSON.stringify(await r.json(),null,2):r.status+' '+await r.text();}
function token(){const t=sessionStorage.getItem('token');return t?{Authorization:'Bearer '+t}:{};}
refresh();setInterval(refresh,2000);
</script></body></html>)";

}  // namespace

AdminServer::AdminServer(AdminContext context)
    : context_(std::move(context)), server_(std::make_unique<httplib::Server>()) {
    auto handler = [this](const httplib::Request& request, httplib::Response& response) {
        dispatch(request, response);
    };
    server_->Get(".*", handler);
    server_->Post(".*", handler);
    server_->Put(".*", handler);
    server_->Delete(".*", handler);
    server_->Patch(".*", handler);
    server_->Options(".*", handler);
    server_->set_payload_max_length(1u << 20);
    // Small JSON answers on kept-alive connections otherwise wait out Nagle and delayed ACKs.
    server_->set_tcp_nodelay(true);
}

AdminServer::~AdminServer() {
    stop();
}

uint16_t AdminServer::start(const std::string& host, uint16_t port) {
    int bound = port == 0 ? server_->bind_to_any_port(host)
                          : (server_->bind_to_port(host, port) ? port : -1);
    if (bound <= 0)
        throw std::runtime_error("admin: cannot bind " + host + ":" + std::to_string(port));
    serving_ = std::thread([this] { server_->listen_after_bind(); });
    sampling_ = std::thread([this] { sample_event_rate(); });
    return static_cast<uint16_t>(bound);
}

void AdminServer::stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopped_) return;
        stopped_ = true;
    }
    stopping_.notify_all();
    server_->stop();
    if (serving_.joinable()) serving_.join();
    if (sampling_.joinable()) sampling_.join();
}

void AdminServer::sample_event_rate() {
    auto previous_time = std::chrono::steady_clock::now();
    uint64_t previous_events = context_.metrics->events_accepted;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_.wait_for(lock, std::chrono::seconds(1), [this] { return stopped_; })) {
        const auto time = std::chrono::steady_clock::now();
        const uint64_t events = context_.metrics->events_accepted;
        const double seconds = std::chrono::duration<double>(time - previous_time).count();
        events_per_second_ = static_cast<double>(events - previous_events) / seconds;
        previous_time = time;
        previous_events = events;
    }
}

void AdminServer::dispatch(const httplib::Request& request, httplib::Response& response) {
    const std::vector<std::string> path = path_segments(request);
    const std::string& method = request.method;
    auto only = [&](const char* allowed) {
        if (method != allowed) throw HttpError{405, "use " + std::string(allowed) + " here"};
    };
    try {
        const bool is_health = path.size() == 1 && path[0] == "health";
        if (!context_.token.empty() && !is_health) {
            const std::string given = request.get_header_value("Authorization");
            if (!constant_time_equal(given, "Bearer " + context_.token)) {
                response.set_header("WWW-Authenticate", "Bearer");
                throw HttpError{401, "missing or wrong bearer token"};
            }
        }
        caf::actor_system& system = *context_.system;
        const Metrics& metrics = *context_.metrics;
        const JourneyModel& model = context_.engine->model();
        if (path.empty()) {
            only("GET");
            response.set_content(kConsolePage, "text/html; charset=utf-8");
            return;
        }
        if (is_health) {
            only("GET");
            return reply(response, 200, {{"status", "ok"}, {"node", context_.node_name}});
        }
        if (path.size() == 1 && (path[0] == "stats" || path[0] == "metrics")) {
            only("GET");
            const auto decided =
                ask<CoordinatorStats>(system, context_.coordinator, stats_atom::value);
            const StoreStats stored = context_.store->stats();
            if (path[0] == "stats") {
                json stages = json::object();
                for (size_t i = 0; i < model.stages.size(); ++i)
                    stages[model.stages[i]] = in_stage(stored, model.stages[i]);
                double rate;
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    rate = events_per_second_;
                }
                return reply(response, 200,
                             {{"node", context_.node_name},
                              {"customers_live", metrics.customers_live.load()},
                              {"customers_stored", stored.customers},
                              {"store",
                               {{"customers", stored.customers},
                                {"pending_timers", stored.pending_timers},
                                {"pending_requests", stored.pending_requests},
                                {"outbox", stored.outbox},
                                {"bytes", stored.bytes}}},
                              {"events_total", metrics.events_accepted.load()},
                              {"events_duplicate", metrics.events_duplicate.load()},
                              {"events_rejected", metrics.events_rejected.load()},
                              {"events_per_s", rate},
                              {"decisions",
                               {{"send", decided.send},
                                {"defer", decided.defer},
                                {"suppress", decided.suppress}}},
                              {"outbox", decided.outbox},
                              {"stages", std::move(stages)}});
            }
            std::ostringstream out;
            auto counter = [&](const char* name, const char* type, auto value) {
                out << "# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
            };
            counter("journeyd_events_total", "counter", metrics.events_accepted.load());
            counter("journeyd_events_duplicate_total", "counter", metrics.events_duplicate.load());
            counter("journeyd_events_rejected_total", "counter", metrics.events_rejected.load());
            counter("journeyd_frames_total", "counter", metrics.frames.load());
            counter("journeyd_frame_errors_total", "counter", metrics.frame_errors.load());
            counter("journeyd_ingest_connections", "gauge", metrics.connections_open.load());
            counter("journeyd_ingest_backpressure_pauses_total", "counter",
                    metrics.backpressure_pauses.load());
            counter("journeyd_customers_live", "gauge", metrics.customers_live.load());
            counter("journeyd_customers_passivated_total", "counter", metrics.passivations.load());
            counter("journeyd_customers_stored", "gauge", stored.customers);
            counter("journeyd_store_pending_timers", "gauge", stored.pending_timers);
            counter("journeyd_store_bytes", "gauge", stored.bytes);
            counter("journeyd_store_pending_requests", "gauge", stored.pending_requests);
            counter("journeyd_store_outbox", "gauge", stored.outbox);
            out << "# TYPE journeyd_decisions_total counter\n"
                << "journeyd_decisions_total{outcome=\"send\"} " << decided.send << "\n"
                << "journeyd_decisions_total{outcome=\"defer\"} " << decided.defer << "\n"
                << "journeyd_decisions_total{outcome=\"suppress\"} " << decided.suppress << "\n";
            out << "# TYPE journeyd_customers_in_stage gauge\n";
            for (size_t i = 0; i < model.stages.size(); ++i)
                out << "journeyd_customers_in_stage{stage=\"" << model.stages[i] << "\"} "
                    << in_stage(stored, model.stages[i]) << "\n";
            const SinkStats sink = context_.sink->stats();
            counter("journeyd_delivery_outbox", "gauge", decided.outbox);
            counter("journeyd_delivery_delivered_total", "counter", sink.delivered);
            counter("journeyd_delivery_retries_total", "counter", sink.retries);
            counter("journeyd_delivery_queue_full_total", "counter", sink.queue_full);
            counter("journeyd_delivery_queued", "gauge", sink.queued);
            counter("journeyd_delivery_already_delivered_total", "counter", sink.already_delivered);
            out << metrics.event_to_decision.render("journeyd_event_to_decision_seconds");
            out << metrics.timer_lateness.render("journeyd_timer_lateness_seconds");
            response.set_content(out.str(), "text/plain; version=0.0.4");
            return;
        }
        if (path.size() >= 2 && path.size() <= 3 && path[0] == "customers") {
            const std::string& id = path[1];
            const caf::actor& shard = context_.router.shard_for(id);
            if (path.size() == 3 && path[2] == "events") {
                only("POST");
                return post_event(request, response, id);
            }
            if (path.size() == 3 && path[2] == "record") {
                only("GET");
                return reply(response, 200, stored_customer_json(id));
            }
            if (path.size() == 3 && path[2] != "decisions")
                throw HttpError{404, "no such endpoint"};
            only("GET");
            const auto found = ask<CustomerLookup>(system, shard, lookup_atom::value, id);
            if (!found.found) throw HttpError{404, "customer \"" + id + "\" not found"};
            if (path.size() == 3) {
                json list = json::array();
                for (const Decision& d : ask<std::vector<Decision>>(system, context_.coordinator,
                                                                    decisions_atom::value, id))
                    list.push_back(decision_json(d, model, context_.policy));
                return reply(response, 200, list);
            }
            const auto contacts =
                ask<std::vector<Contact>>(system, context_.coordinator, contacts_atom::value, id);
            return reply(response, 200,
                         customer_json(found.state, contacts, model, *context_.engine));
        }
        throw HttpError{404, "no such endpoint"};
    } catch (const HttpError& e) {
        reply(response, e.status, {{"error", e.message}});
    }
}

// What the store holds for the customer, decoded, without activating it: what a restart
// would bring back.
json AdminServer::stored_customer_json(const std::string& id) const {
    const auto record = context_.store->read(id);
    if (!record) throw HttpError{404, "customer \"" + id + "\" has no stored record"};
    std::string error;
    const auto stored = decode_customer(*record, context_.engine->model(), error);
    if (!stored) throw HttpError{500, "stored record of " + id + " is unreadable: " + error};
    json out = customer_json(*stored, {}, context_.engine->model(), *context_.engine);
    out.erase("contacts");  // the coordinator's, not part of the customer's record
    out["record_bytes"] = record->size();
    out["record_format"] = static_cast<int>(static_cast<uint8_t>((*record)[0]));
    out["recent_event_ids"] = stored->journey.recent_ids.ring().size();
    return out;
}

void AdminServer::post_event(const httplib::Request& request, httplib::Response& response,
                             const std::string& customer) {
    json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) throw HttpError{400, "the body is not valid JSON"};
    if (!body.is_object()) throw HttpError{400, "the body must be one event object"};
    if (!body.contains("customer")) body["customer"] = customer;
    if (body["customer"] != customer)
        throw HttpError{400, "the event's customer differs from the one in the path"};
    msgpack::sbuffer packed;
    msgpack::packer<msgpack::sbuffer> packer(packed);
    pack_json(packer, body);
    DecodedRequest decoded = decode_request_body({packed.data(), packed.size()}, context_.now());
    if (!decoded.frame_error.empty()) throw HttpError{400, decoded.frame_error};
    if (!decoded.errors.empty()) throw HttpError{400, decoded.errors[0].error};
    const auto outcome = ask<EventOutcome>(*context_.system, context_.router.shard_for(customer),
                                           event_atom::value, std::move(decoded.events[0]));
    reply(response, 202, {{"ok", true}, {"duplicate", outcome == EventOutcome::duplicate}});
}

}  // namespace journeyd
