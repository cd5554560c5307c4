#include "runtime/admin/admin_api.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <msgpack.hpp>
#include <nlohmann/json.hpp>
#include <string_view>
#include <tuple>

#include "config/config_change.hpp"
#include "runtime/admin/console_page.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/codec/event_codec.hpp"
#include "state/codec/msgpack_json.hpp"
#include "state/decimal.hpp"
#include "state/decisioning/holdout.hpp"
#include "state/decisioning/program_counts.hpp"
#include "state/decisioning/uplift.hpp"
#include "state/journey/flow_counters.hpp"
#include "state/journey/identity.hpp"

namespace journeyd {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

struct HttpError {
    int status;
    std::string message;
};

template <class Json = json>
AdminResponse json_response(int status, const Json& body) {
    AdminResponse response;
    response.status = status;
    response.content_type = "application/json";
    // Ids and profile strings are whatever bytes an event source sent; dump() would throw on
    // bytes that are not UTF-8, so they are shown as U+FFFD instead.
    response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    return response;
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

// The decoded parameters of a request target's query: "/x?a=1&b=%2F" -> {a: "1", b: "/"}.
std::map<std::string, std::string> query_params(std::string_view target) {
    std::map<std::string, std::string> params;
    const size_t question = target.find('?');
    if (question == std::string_view::npos) return params;
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        const std::string_view pair = query.substr(0, query.find('&'));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
        const size_t equals = pair.find('=');
        if (pair.empty()) continue;
        params[url_decode(pair.substr(0, equals))] =
            equals == std::string_view::npos ? "" : url_decode(pair.substr(equals + 1));
    }
    return params;
}

// The decoded segments of a request target's path: "/customers/a%2Fb" -> {"customers", "a/b"}.
std::vector<std::string> path_segments(std::string_view target) {
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

void require_method(const AdminRequest& request, const char* allowed) {
    if (request.method != allowed) throw HttpError{405, "use " + std::string(allowed) + " here"};
}

int64_t count_of(const std::map<std::string, int64_t>& counts, const std::string& name) {
    auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
}

// The customers in a stage: those the store counts there, and those whose records still name a
// stage [journey.migrate] moves into it (each moves in the counts when it is next read).
int64_t customers_in_stage(const std::map<std::string, int64_t>& counts, const JourneyModel& model,
                           StageId stage) {
    int64_t customers = count_of(counts, model.stages[stage]);
    for (const auto& [removed, to] : model.migrations)
        if (to == stage) customers += count_of(counts, removed);
    return customers;
}

// A list of counts summed over the cluster (`partial`: the members missing from the sums).
// When some are missing, every entry names them, and so does the header X-Journeyd-Partial,
// so that neither a client reading one entry nor one reading only the status takes a part for
// the whole.
// An object (GET /journey) names them once, beside its lists.
AdminResponse cluster_list(ordered_json list, const std::vector<std::string>& partial) {
    if (partial.empty()) return json_response(200, list);
    if (list.is_object())
        list["partial"] = partial;
    else
        for (ordered_json& entry : list) entry["partial"] = partial;
    AdminResponse response = json_response(200, list);
    std::string names;
    for (const std::string& name : partial) names += (names.empty() ? "" : ",") + name;
    response.headers.emplace_back("X-Journeyd-Partial", names);
    return response;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char difference = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return difference == 0;
}

// When in their own day the customer engages, as of `now`: the 24 local hours in events (decayed
// by [rhythm] half_life) and the heaviest; best_hour is null below kOwnRhythmMinEvents, where
// their own history is too thin to go by.
json rhythm_json(const EngagementHours& hours, const Rhythm& rhythm, TimeMs now) {
    const HourWeights weights = hours.weights(now, rhythm.half_life);
    json by_hour = json::array();
    double events = 0;
    for (double w : weights) {
        by_hour.push_back(std::round(w * 100) / 100);
        events += w;
    }
    return {{"best_hour", events >= kOwnRhythmMinEvents ? json(best_local_hour(weights)) : json()},
            {"events", std::round(events * 100) / 100},
            {"hours", std::move(by_hour)}};
}

json customer_json(const CustomerState& c, const std::vector<Contact>& contacts,
                   const JourneyEngine& engine, TimeMs now) {
    const JourneyModel& model = engine.model();
    json timers = json::array();
    for (const PendingTimer& t : c.journey.timers)
        timers.push_back({{"name", engine.timer_name(t)}, {"due", t.due}});
    json segments = json::array();
    for (uint16_t segment : c.journey.segments)
        segments.push_back(model.conditions.segments[segment].name);
    json sent = json::array();
    for (const Contact& contact : contacts) {
        sent.push_back({{"program", model.programs[contact.program].name},
                        {"channel", model.channel_of(contact.program, contact.action)},
                        {"at", contact.at}});
        if (contact.action != kNoAction) sent.back()["action"] = model.action_name(contact.action);
    }
    json goals = json::array();
    for (const GoalWindow& w : c.journey.goal_windows) {
        const bool action = of_action(w.of);
        json window = {
            {action ? "action" : "program",
             action ? model.actions[w.id].name : model.programs[w.id].name},
            {"goal", action ? model.actions[w.id].goal.event : model.programs[w.id].goal.event},
            {"sent_at", w.sent_at},
            {"closes_at", w.closes_at},
            {"arm",
             w.of == GoalOf::action || w.of == GoalOf::program_treated ? "treated" : "control"}};
        goals.push_back(std::move(window));
    }
    json held_out_of = json::array();
    for (size_t p = 0; p < model.programs.size(); ++p)
        if (in_program_holdout(model, static_cast<ProgramId>(p), c.id))
            held_out_of.push_back(model.programs[p].name);
    json held_out_of_actions = json::array();
    for (size_t a = 0; a < model.actions.size(); ++a)
        if (in_action_holdout(model, static_cast<ActionId>(a), c.id))
            held_out_of_actions.push_back(model.actions[a].name);
    json out = {{"id", c.id},
                {"stage", model.stages[c.journey.stage]},
                {"stage_since", c.journey.stage_since},
                {"profile", c.profile.attrs()},
                {"events_seen", c.journey.events_seen},
                {"segments", std::move(segments)},
                {"timers", std::move(timers)},
                {"goal_windows", std::move(goals)},
                {"holdout",
                 {{"global", in_global_holdout(model, c.id)},
                  {"programs", std::move(held_out_of)},
                  {"actions", std::move(held_out_of_actions)}}},
                {"contacts", std::move(sent)}};
    if (!model.rhythm.engagement.empty())
        out["rhythm"] = rhythm_json(c.journey.hours, model.rhythm, now);
    return out;
}

// An arm of a control group: its closed goal windows (`n`), those converted, those still open.
ordered_json arm_json(const ActionCounts& arm) {
    return {
        {"n", arm.successes + arm.failures}, {"converted", arm.successes}, {"open", arm.open()}};
}

// The treated arm's conversion against the control arm's (state/decisioning/uplift.hpp); null
// while either has no closed window.
ordered_json uplift_json(const ActionCounts& treated, const ActionCounts& control) {
    const auto lift = uplift(treated.successes + treated.failures, treated.successes,
                             control.successes + control.failures, control.successes);
    if (!lift) return nullptr;
    return {{"absolute", lift->absolute},
            {"relative", lift->relative ? ordered_json(*lift->relative) : ordered_json()},
            {"ci95", {lift->ci95.first, lift->ci95.second}}};
}

json decision_json(const Decision& d, const JourneyModel& model, const PressurePolicy& policy) {
    json out = {{"decision_id", d.decision_id},
                {"program", model.programs[d.program].name},
                {"channel", model.channel_of(d.program, d.action)},
                {"priority", policy.hierarchy[model.priority_of(d.program, d.action)]},
                {"outcome", std::string(to_string(d.outcome))},
                {"reason", d.reason},
                {"detail", d.detail},
                {"at", d.at}};
    if (d.outcome == Outcome::defer) out["until"] = d.until;
    if (d.would_have) out["would_have"] = std::string(to_string(*d.would_have));
    if (d.action != kNoAction) out["action"] = model.action_name(d.action);
    if (!d.config_version.empty()) out["config_version"] = d.config_version;
    if (!d.candidates.empty()) {
        json candidates = json::array();
        for (const RankedAction& c : d.candidates) {
            const Action& action = model.actions[c.action];
            candidates.push_back({{"action", action.name},
                                  {"propensity", c.propensity},
                                  {"value", action.value},
                                  {"weight", action.weight},
                                  {"score", c.score}});
        }
        out["candidates"] = std::move(candidates);
        json skipped = json::array();
        for (const SkippedAction& k : d.skipped)
            skipped.push_back({{"action", model.actions[k.action].name}, {"reason", k.reason}});
        out["skipped"] = std::move(skipped);
    }
    return out;
}

// The answer of POST /config (docs/protocol.md).
ordered_json config_check_json(const ConfigCheck& check) {
    ordered_json errors = ordered_json::array();
    for (const ConfigError& e : check.errors)
        errors.push_back({{"line", e.line}, {"message", e.message}});
    const ConfigChanges& c = check.changes;
    return {{"applied", check.applied},
            {"version", check.version},
            {"errors", std::move(errors)},
            {"changes",
             {{"stages_added", c.stages_added},
              {"stages_removed", c.stages_removed},
              {"programs_added", c.programs_added},
              {"programs_removed", c.programs_removed},
              {"programs_changed", c.programs_changed},
              {"segments_changed", c.segments_changed},
              {"actions_changed", c.actions_changed}}},
            {"customers_affected", check.customers_affected}};
}

}  // namespace

AdminApi::AdminApi(AdminApiSetup setup, std::unique_ptr<AdminBackend> backend)
    : setup_(std::move(setup)), backend_(std::move(backend)) {}

AdminResponse AdminApi::handle(const AdminRequest& request) const {
    try {
        return route(request);
    } catch (const HttpError& e) {
        AdminResponse response = json_response(e.status, {{"error", e.message}});
        if (e.status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
        return response;
    } catch (const EventRefused& e) {
        return json_response(409, {{"error", e.what()}});
    } catch (const BackendUnavailable& e) {
        return json_response(503,
                             {{"error", std::string("no answer from the runtime: ") + e.what()}});
    }
}

AdminResponse AdminApi::route(const AdminRequest& request) const {
    const std::vector<std::string> path = path_segments(request.target);
    if (path.empty()) {
        require_method(request, "GET");
        AdminResponse page;
        page.content_type = "text/html; charset=utf-8";
        page.body = std::string(console_page());
        return page;
    }
    if (path.size() == 1 && path[0] == "health") {
        require_method(request, "GET");
        // Alive either way: reads are answered while the store refuses commits (events are
        // then answered with its error).
        const std::string refused = backend_->store_write_error();
        ordered_json body = {{"status", "ok"},
                             {"node", setup_.node_name},
                             {"version", setup_.configs->current()->running.version}};
        body["store"] = refused.empty() ? "ok" : "full";
        if (!refused.empty()) body["store_error"] = refused;
        return json_response(200, body);
    }
    if (!setup_.token.empty() &&
        !constant_time_equal(request.authorization, "Bearer " + setup_.token))
        throw HttpError{401, "missing or wrong bearer token"};
    if (path.size() == 1 && path[0] == "stats") {
        require_method(request, "GET");
        return stats();
    }
    if (path.size() == 1 && path[0] == "config") {
        if (request.method == "POST") return check_config(request);
        if (request.method != "GET") throw HttpError{405, "use GET or POST here"};
        return running_config();
    }
    if (path.size() == 2 && path[0] == "config") {
        require_method(request, "GET");
        return config_of_version(path[1]);
    }
    if (path.size() == 1 && path[0] == "metrics") {
        require_method(request, "GET");
        return metrics();
    }
    if (path.size() == 1 && path[0] == "cluster") {
        require_method(request, "GET");
        return cluster();
    }
    if (path.size() == 1 && path[0] == "segments") {
        require_method(request, "GET");
        return segments();
    }
    if (path.size() == 1 && path[0] == "actions") {
        require_method(request, "GET");
        return actions();
    }
    if (path.size() == 1 && path[0] == "programs") {
        require_method(request, "GET");
        return programs();
    }
    if (path.size() == 1 && path[0] == "journey") {
        require_method(request, "GET");
        return journey(query_params(request.target));
    }
    if (path.size() == 2 && path[0] == "journey" && path[1] == "drivers") {
        require_method(request, "GET");
        return drivers(query_params(request.target));
    }
    if (path.size() >= 2 && path.size() <= 3 && path[0] == "customers")
        return customer(path, request);
    if (path.size() >= 2 && path[0] == "deliveries" && path[1] == "dead")
        return dead_letters(path, request);
    throw HttpError{404, "no such endpoint"};
}

// GET /segments: every segment of the configuration with its stored members, in the order
// they are evaluated; exact across restarts as the counts per stage are. In a cluster, summed
// over the members.
AdminResponse AdminApi::segments() const {
    const auto config = setup_.configs->current();
    const ClusterCounters counters = backend_->cluster_counters();
    StoreStats summed;
    add_counts(counters.summed, summed);
    ordered_json list = ordered_json::array();
    for (const SegmentRule& segment : config->engine->model().conditions.segments)
        list.push_back({{"name", segment.name},
                        {"members", count_of(summed.customers_in_segment, segment.name)}});
    return cluster_list(std::move(list), counters.partial);
}

// GET /journey[?since=MS]: stages with their customers, entries, exits and median stay, and the
// transitions between them, from the flow counters (state/journey/flow_counters.hpp); in a
// cluster, summed over the members. `since` counts from the start of its UTC day, named in
// the answer. The declared drivers are listed for the console, which asks for each one's table.
AdminResponse AdminApi::journey(const std::map<std::string, std::string>& params) const {
    const auto config = setup_.configs->current();
    std::optional<TimeMs> since;
    if (auto it = params.find("since"); it != params.end()) {
        since = parse_decimal<TimeMs>(it->second);
        if (!since) throw HttpError{400, "since must be ms since the Unix epoch"};
    }
    const ClusterCounters counters = backend_->cluster_counters();
    const JourneyModel& model = config->engine->model();
    const JourneyFlow flow = journey_flow(model, counters.summed, since);
    ordered_json stages = ordered_json::array();
    for (const StageFlow& stage : flow.stages) {
        ordered_json median = nullptr;
        if (stage.median_time_in_stage_ms) median = std::llround(*stage.median_time_in_stage_ms);
        stages.push_back({{"name", stage.name},
                          {"customers", stage.customers},
                          {"entered", stage.entered},
                          {"left", stage.left},
                          {"median_time_in_stage_ms", median}});
    }
    ordered_json transitions = ordered_json::array();
    for (const FlowTransition& t : flow.transitions)
        transitions.push_back({{"from", t.from}, {"to", t.to}, {"count", t.count}});
    ordered_json drivers = ordered_json::array();
    for (const DriverRule& driver : model.drivers)
        drivers.push_back({{"from", model.stages[driver.from]},
                           {"to", model.stages[driver.to]},
                           {"window", format_duration(driver.window)}});
    ordered_json body = {{"stages", std::move(stages)}, {"transitions", std::move(transitions)}};
    body["since"] = flow.since ? ordered_json(*flow.since) : ordered_json(nullptr);
    body["drivers"] = std::move(drivers);
    return cluster_list(std::move(body), counters.partial);
}

// GET /journey/drivers?from=X&to=Y[&window=D]: the event types of the pair's closed episodes
// ranked by the lower bound of their odds ratio. `window` may be left out when one declared
// pair has that from and to.
AdminResponse AdminApi::drivers(const std::map<std::string, std::string>& params) const {
    const auto config = setup_.configs->current();
    const JourneyModel& model = config->engine->model();
    auto param = [&](const char* name) -> std::optional<std::string> {
        auto it = params.find(name);
        if (it == params.end()) return std::nullopt;
        return it->second;
    };
    const auto from = param("from"), to = param("to"), window_text = param("window");
    if (!from || !to) throw HttpError{400, "name the pair: ?from=STAGE&to=STAGE[&window=7d]"};
    for (const std::string* stage : {&*from, &*to})
        if (!model.stage_id(*stage)) throw HttpError{404, "no stage \"" + *stage + "\""};
    std::optional<DurationMs> window;
    if (window_text) {
        window = parse_duration(*window_text);
        if (!window) throw HttpError{400, "window must be a duration such as 7d, 12h or 30m"};
    }
    std::vector<size_t> matches;
    for (size_t d = 0; d < model.drivers.size(); ++d) {
        const DriverRule& rule = model.drivers[d];
        if (model.stages[rule.from] == *from && model.stages[rule.to] == *to &&
            (!window || rule.window == *window))
            matches.push_back(d);
    }
    if (matches.empty())
        throw HttpError{404, "no [[journey.driver]] declares from = \"" + *from + "\", to = \"" +
                                 *to + "\"" +
                                 (window ? ", window = \"" + *window_text + "\"" : "")};
    if (matches.size() > 1)
        throw HttpError{400, "several [[journey.driver]] pairs have this from and to: add window"};
    const ClusterCounters counters = backend_->cluster_counters();
    ordered_json list = ordered_json::array();
    for (const DriverRow& row : driver_rows(model, matches.front(), counters.summed))
        list.push_back(
            {{"event", row.event},
             {"exposed", {{"episodes", row.exposed.episodes}, {"advanced", row.exposed.advanced}}},
             {"unexposed",
              {{"episodes", row.unexposed.episodes}, {"advanced", row.unexposed.advanced}}},
             {"odds_ratio", row.odds.ratio},
             {"ci95", {row.odds.lo, row.odds.hi}}});
    return cluster_list(std::move(list), counters.partial);
}

// GET /actions: the catalogue with its outcome counts as the store keeps them (exact across
// restarts and crashes) and the propensity they give; in a cluster, summed over the members.
AdminResponse AdminApi::actions() const {
    const auto config = setup_.configs->current();
    const ClusterCounters counters = backend_->cluster_counters();
    StoreStats summed;
    add_counts(counters.summed, summed);
    ordered_json list = ordered_json::array();
    for (const Action& action : config->engine->model().actions) {
        auto found = summed.actions.find(action.name);
        const ActionCounts counts = found == summed.actions.end() ? ActionCounts{} : found->second;
        const auto [low, high] = propensity_interval(counts);
        list.push_back(
            {{"action", action.name},
             {"channel", action.channel},
             {"value", action.value},
             {"weight", action.weight},
             {"sent", counts.sent},
             {"successes", counts.successes},
             {"failures", counts.failures},
             {"open", counts.open()},
             {"propensity", {{"mean", propensity_mean(counts)}, {"ci95", {low, high}}}}});
        if (action.holdout <= 0) continue;
        auto control = summed.action_controls.find(action.name);
        const ActionCounts held =
            control == summed.action_controls.end() ? ActionCounts{} : control->second;
        list.back()["holdout"] = action.holdout;
        list.back()["control"] = arm_json(held);
        list.back()["uplift"] = uplift_json(counts, held);
    }
    return cluster_list(std::move(list), counters.partial);
}

// GET /programs: each program's decisions and, for a program with a goal, the conversion of its
// treated and control arms and the uplift between them; exact across restarts and crashes (store
// counters), in a cluster summed over the members.
AdminResponse AdminApi::programs() const {
    const auto config = setup_.configs->current();
    const ClusterCounters counters = backend_->cluster_counters();
    const std::map<std::string, ProgramCounts> counted = program_counts(counters.summed);
    const JourneyModel& model = config->engine->model();
    ordered_json list = ordered_json::array();
    for (size_t p = 0; p < model.programs.size(); ++p) {
        const Program& program = model.programs[p];
        auto found = counted.find(program.name);
        const ProgramCounts counts = found == counted.end() ? ProgramCounts{} : found->second;
        ordered_json suppressed = ordered_json::object();
        for (const auto& [reason, n] : counts.suppressed) suppressed[reason] = n;
        ordered_json entry = {{"program", program.name},
                              {"requests", counts.requests()},
                              {"sent", counts.sent},
                              {"deferred", counts.deferred},
                              {"suppressed", std::move(suppressed)},
                              {"holdout", held_out_share(model, config->running.config.pressure,
                                                         static_cast<ProgramId>(p))}};
        if (!program.goal.set()) {
            entry["goal"] = nullptr;
            entry["uplift"] = nullptr;
            list.push_back(std::move(entry));
            continue;
        }
        entry["goal"] = {{"event", program.goal.event},
                         {"within", program.goal.within},
                         {"treated", arm_json(counts.treated)},
                         {"control", arm_json(counts.control)}};
        entry["uplift"] = uplift_json(counts.treated, counts.control);
        list.push_back(std::move(entry));
    }
    return cluster_list(std::move(list), counters.partial);
}

// GET /customers/{id}/actions: the catalogue ranked for the customer now, by the propensities'
// means (a decision draws its own), with why each action that may not be sent now may not.
AdminResponse AdminApi::customer_actions(const CustomerState& customer,
                                         const JourneyModel& model) const {
    const auto config = setup_.configs->current();
    std::vector<std::pair<ActionId, TimeMs>> sent;
    for (const Contact& contact : backend_->contacts(customer.id))
        if (contact.action != kNoAction) sent.emplace_back(contact.action, contact.at);
    // Counted under the configuration in force, whose action ids extend the model's.
    std::vector<ActionCounts> totals =
        config->action_totals ? config->action_totals->snapshot() : std::vector<ActionCounts>();
    totals.resize(model.actions.size());
    ordered_json list = ordered_json::array();
    for (const ActionStanding& a : rank_catalogue(customer, model, totals, sent, setup_.now())) {
        const Action& action = model.actions[a.action];
        ordered_json entry = {{"action", action.name}, {"eligible", a.eligible}};
        if (!a.eligible) entry["reason"] = a.reason;
        entry["propensity"] = a.propensity;
        entry["value"] = action.value;
        entry["weight"] = action.weight;
        entry["score"] = a.score;
        list.push_back(std::move(entry));
    }
    return json_response(200, list);
}

// GET /deliveries/dead: newest first. POST /deliveries/dead/{decision_id}/retry: 202 once the
// send is back in the outbox (committed), 404 when there is no such dead letter.
AdminResponse AdminApi::dead_letters(const std::vector<std::string>& path,
                                     const AdminRequest& request) const {
    if (path.size() == 2) {
        require_method(request, "GET");
        std::vector<DeadLetter> all = backend_->dead_letters();
        std::sort(all.begin(), all.end(), [](const DeadLetter& a, const DeadLetter& b) {
            return std::tie(a.at, a.delivery.decision_id) > std::tie(b.at, b.delivery.decision_id);
        });
        ordered_json list = ordered_json::array();
        for (const DeadLetter& d : all)
            list.push_back(ordered_json{{"decision_id", d.delivery.decision_id},
                                        {"customer", d.delivery.customer},
                                        {"program", d.delivery.program},
                                        {"channel", d.delivery.channel},
                                        {"status", d.status},
                                        {"error", d.error},
                                        {"at", d.at}});
        return json_response(200, list);
    }
    if (path.size() == 4 && path[3] == "retry") {
        require_method(request, "POST");
        if (!backend_->redeliver(path[2]))
            throw HttpError{404, "no dead letter " + path[2] + " (or it is being re-queued)"};
        return json_response(202, {{"ok", true}, {"decision_id", path[2]}});
    }
    throw HttpError{404, "no such endpoint"};
}

AdminResponse AdminApi::stats() const {
    const auto config = setup_.configs->current();
    const CoordinatorStats decided = backend_->decision_stats();
    const StoreStats stored = backend_->store_stats();
    const Metrics& m = *setup_.metrics;
    // Keys in the order of the journey and of the outcomes, not sorted: the console draws
    // them in the order they come.
    ordered_json stages = ordered_json::object();
    const JourneyModel& model = config->engine->model();
    for (StageId stage = 0; stage < model.stages.size(); ++stage)
        stages[model.stages[stage]] = customers_in_stage(stored.customers_in_stage, model, stage);
    ordered_json limit_hits = ordered_json::object();
    for (size_t i = 0; i < kLimitNames.size(); ++i)
        limit_hits[std::string(kLimitNames[i])] = m.limit_hits.count(static_cast<Limit>(i));
    const ordered_json body = {
        {"node", setup_.node_name},
        {"customers_live", m.customers_live.load()},
        {"customers_stored", stored_customers(stored)},
        {"store",
         {{"customers", stored_customers(stored)},
          {"aliases", stored.aliases},
          {"pending_timers", stored.pending_timers},
          {"pending_requests", stored.pending_requests},
          {"outbox", stored.outbox},
          {"dead_letters", stored.dead_letters},
          {"bytes", stored.bytes},
          {"writable", backend_->store_write_error().empty()}}},
        {"events_total", m.events_accepted.load()},
        {"events_duplicate", m.events_duplicate.load()},
        {"events_rejected", m.events_rejected.load()},
        {"events_per_s", events_per_second_.load()},
        {"ingest_connections", m.connections_open.load()},
        {"decisions",
         {{"send", decided.send}, {"defer", decided.defer}, {"suppress", decided.suppress}}},
        {"outbox", decided.outbox},
        {"coordinator_customers", decided.customers},
        {"limit_hits", std::move(limit_hits)},
        {"stages", std::move(stages)}};
    return json_response(200, body);
}

// GET /config: the configuration in force, as it was loaded.
AdminResponse AdminApi::running_config() const {
    const auto config = setup_.configs->current();
    const RunningConfig& running = config->running;
    return json_response(200, ordered_json{{"version", running.version},
                                           {"loaded_at", running.loaded_at},
                                           {"source", running.source},
                                           {"text", running.text}});
}

// GET /config/{version}: the text of a configuration journeyd ran under, kept in its data
// directory (config_archive.hpp), to explain a decision made under it.
AdminResponse AdminApi::config_of_version(const std::string& version) const {
    const auto config = setup_.configs->current();
    const RunningConfig& running = config->running;
    std::optional<std::string> text;
    if (version == running.version)
        text = running.text;
    else if (setup_.config_archive)
        text = setup_.config_archive->text_of(version);
    if (!text) throw HttpError{404, "no configuration of version " + version + " is kept here"};
    return json_response(200, ordered_json{{"version", version}, {"text", *text}});
}

// POST /config[?dry_run=true] with TOML text as the body: the check of config_change.hpp
// against the customers the cluster counts per stage; without dry_run, applied (on every member)
// when it passes (200), else 422 with the errors. Where no change can be applied, 501 and
// nothing changes.
AdminResponse AdminApi::check_config(const AdminRequest& request) const {
    const std::map<std::string, std::string> params = query_params(request.target);
    bool dry_run = false;
    if (auto it = params.find("dry_run"); it != params.end()) {
        if (it->second != "true" && it->second != "false")
            throw HttpError{400, "dry_run must be true or false"};
        dry_run = it->second == "true";
    }
    if (request.body.empty())
        throw HttpError{400, "the body must be the configuration's TOML text"};
    const ClusterCounters counters = backend_->cluster_counters();
    StoreStats summed;
    add_counts(counters.summed, summed);
    const StageCounts counts{summed.customers_in_stage, counters.partial};
    if (!dry_run && setup_.apply_config) {
        const ConfigCheck applied = setup_.apply_config(request.body, counts);
        return json_response(applied.applied ? 200 : 422, config_check_json(applied));
    }
    ConfigCheck check = check_config_change(setup_.configs->current()->running.config, request.body,
                                            std::string(kPostedConfigSource), counts);
    if (dry_run) return json_response(200, config_check_json(check));
    const std::string refused =
        "this process cannot apply a change without a restart; " +
        (check.ok() ? std::string("the check passed: restart it with this file")
                    : "the check found " + std::to_string(check.errors.size()) + " error(s)");
    check.errors.push_back(ConfigError{std::string(kPostedConfigSource), 0, 0, refused});
    ordered_json body = config_check_json(check);
    body["error"] = refused;
    return json_response(501, body);
}

AdminResponse AdminApi::metrics() const {
    const auto config = setup_.configs->current();
    using Type = ExpositionWriter::Type;
    const CoordinatorStats decided = backend_->decision_stats();
    const StoreStats stored = backend_->store_stats();
    const SinkStats sink = backend_->sink_stats();
    const Metrics& m = *setup_.metrics;
    ExpositionWriter out;
    auto single = [&](const char* name, Type type, const char* help, auto value) {
        out.family(name, type, help);
        out.sample(value);
    };
    single("journeyd_events_total", Type::counter, "Events applied to their customer.",
           m.events_accepted.load());
    single("journeyd_events_duplicate_total", Type::counter,
           "Events not applied: their customer had applied an event of that id before.",
           m.events_duplicate.load());
    single("journeyd_events_rejected_total", Type::counter,
           "Events refused as invalid, by the ingest port's validation.", m.events_rejected.load());
    single("journeyd_frames_total", Type::counter,
           "Frames received on the ingest port; each gets one answer.", m.frames.load());
    single("journeyd_frame_errors_total", Type::counter,
           "Ingest frames answered with an error instead of per-event results.",
           m.frame_errors.load());
    single("journeyd_ingest_connections", Type::gauge, "Open ingest connections.",
           m.connections_open.load());
    single("journeyd_ingest_backpressure_pauses_total", Type::counter,
           "Times an ingest connection stopped reading until its client caught up.",
           m.backpressure_pauses.load());
    single("journeyd_admin_connections", Type::gauge,
           "Open admin connections, this request's included; each holds a thread.",
           m.admin_connections_open.load());
    single("journeyd_ingest_auth_failures_total", Type::counter,
           "Ingest connections ended because their first frame was not a hello with the "
           "[ingest] token.",
           m.ingest_auth_failures.load());
    single("journeyd_ingest_tls_failures_total", Type::counter,
           "Ingest connections whose TLS handshake failed.", m.ingest_tls_failures.load());
    out.family("journeyd_limit_hits_total", Type::counter,
               "Times a client ran into a configured limit, by the limit's configuration key.");
    for (size_t i = 0; i < kLimitNames.size(); ++i)
        out.sample(m.limit_hits.count(static_cast<Limit>(i)), {{"limit", kLimitNames[i]}});
    single("journeyd_admin_tls_failures_total", Type::counter,
           "Admin connections whose TLS handshake failed or did not finish within read_timeout.",
           m.admin_tls_handshake_failures.load());
    single("journeyd_customers_live", Type::gauge, "Customers with an actor in memory.",
           m.customers_live.load());
    single("journeyd_customers_passivated_total", Type::counter,
           "Customer actors ended after being idle; the customer stays in the store.",
           m.passivations.load());
    single("journeyd_customers_stored", Type::gauge, "Customers in the store.",
           stored_customers(stored));
    single("journeyd_store_aliases", Type::gauge,
           "Ids identify made aliases of other customers (alias records in the store).",
           stored.aliases);
    single("journeyd_store_pending_timers", Type::gauge,
           "Stored customers with a pending timer (the store's timer index).",
           stored.pending_timers);
    single("journeyd_store_bytes", Type::gauge, "Space the store uses.", stored.bytes);
    single("journeyd_store_full", Type::gauge,
           "1 while the store refuses commits (full, or its disk failed): events fail.",
           uint64_t{backend_->store_write_error().empty() ? 0u : 1u});
    single("journeyd_store_pending_requests", Type::gauge,
           "Stored contact requests not finally decided.", stored.pending_requests);
    single("journeyd_store_outbox", Type::gauge,
           "Stored sends the delivery sink has not confirmed.", stored.outbox);
    single("journeyd_store_dead_letters", Type::gauge,
           "Sends parked after the endpoint refused them for good.", stored.dead_letters);
    out.family("journeyd_decisions_total", Type::counter,
               "Contact decisions by outcome; a deferred request is counted again when decided.");
    out.sample(decided.send, {{"outcome", "send"}});
    out.sample(decided.defer, {{"outcome", "defer"}});
    out.sample(decided.suppress, {{"outcome", "suppress"}});
    out.family("journeyd_customers_in_stage", Type::gauge, "Stored customers by journey stage.");
    const JourneyModel& model = config->engine->model();
    for (StageId stage = 0; stage < model.stages.size(); ++stage)
        out.sample(customers_in_stage(stored.customers_in_stage, model, stage),
                   {{"stage", model.stages[stage]}});
    out.family("journeyd_segment_members", Type::gauge, "Stored customers by segment.");
    for (const SegmentRule& segment : config->engine->model().conditions.segments)
        out.sample(count_of(stored.customers_in_segment, segment.name),
                   {{"segment", segment.name}});
    single("journeyd_delivery_outbox", Type::gauge,
           "Sends waiting in the coordinator for the delivery sink to accept them.",
           decided.outbox);
    single("journeyd_coordinator_customers", Type::gauge,
           "Customers whose contacts and decisions the coordinator holds in memory.",
           decided.customers);
    single("journeyd_delivery_delivered_total", Type::counter,
           "Sends delivered: written to the file, or answered 2xx.", sink.delivered);
    single("journeyd_delivery_retries_total", Type::counter,
           "Failed delivery attempts that were retried.", sink.retries);
    single("journeyd_delivery_dead_letters_total", Type::counter,
           "Sends the endpoint refused for good, parked as dead letters.", sink.dead_letters);
    single("journeyd_delivery_queue_full_total", Type::counter,
           "Sends the delivery sink refused because its queue was full.", sink.queue_full);
    single("journeyd_delivery_queued", Type::gauge, "Sends waiting in the delivery sink's queue.",
           sink.queued);
    single("journeyd_delivery_already_delivered_total", Type::counter,
           "Sends offered again after a restart and found already delivered.",
           sink.already_delivered);
    m.event_to_decision.render(
        out, "journeyd_event_to_decision_seconds",
        "Time from a contact request to its first decision, the arbitration window included.");
    m.timer_lateness.render(out, "journeyd_timer_lateness_seconds",
                            "How long after their due time timers fired.");
    AdminResponse response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = out.text();
    return response;
}

AdminResponse AdminApi::cluster() const {
    const ClusterView view = backend_->cluster();
    ordered_json members = ordered_json::array();
    size_t up = 0;
    for (const MemberStatus& m : view.members) {
        if (m.state == MemberState::up || m.state == MemberState::self) ++up;
        ordered_json member = {{"name", m.name},
                               {"address", m.address},
                               {"state", std::string(to_string(m.state))},
                               {"since", m.since}};
        if (m.state != MemberState::self) {
            member["reason"] = m.reason;
            member["attempts"] = m.attempts;
            member["forwarded"] = m.forwarded;
            member["refused"] = m.refused;
            member["counters_at"] = m.counters_at;
        }
        members.push_back(std::move(member));
    }
    char fingerprint[17];
    std::snprintf(fingerprint, sizeof fingerprint, "%016llx",
                  static_cast<unsigned long long>(view.fingerprint));
    return json_response(200, ordered_json{{"node", setup_.node_name},
                                           {"clustered", view.clustered},
                                           {"fingerprint", fingerprint},
                                           {"members_up", up},
                                           {"members", std::move(members)},
                                           {"rate_budgets", view.rate_budgets},
                                           {"rate_lease_until", view.rate_lease_until}});
}

// /customers/{id}, /customers/{id}/decisions, /customers/{id}/record, /customers/{id}/events
AdminResponse AdminApi::customer(const std::vector<std::string>& path,
                                 const AdminRequest& request) const {
    const std::string& id = path[1];
    const std::string part = path.size() == 3 ? path[2] : "";
    if (part == "events") {
        require_method(request, "POST");
        return post_event(request, id);
    }
    if (part == "record") {
        require_method(request, "GET");
        return stored_customer(id);
    }
    if (!part.empty() && part != "decisions" && part != "actions")
        throw HttpError{404, "no such endpoint"};
    require_method(request, "GET");
    const std::optional<CustomerView> found = backend_->customer(id);
    if (!found) throw HttpError{404, "customer \"" + id + "\" not found"};
    const auto config = setup_.configs->current();
    const JourneyEngine& engine = found->under ? *found->under : *config->engine;
    // An alias answers its canonical customer, whose id the state carries.
    const std::string& canonical = found->state.id;
    if (part == "actions") return customer_actions(found->state, engine.model());
    if (part == "decisions") {
        json list = json::array();
        for (const Decision& d : backend_->decisions(canonical))
            list.push_back(
                decision_json(d, config->engine->model(), config->running.config.pressure));
        return json_response(200, list);
    }
    json body = customer_json(found->state, backend_->contacts(canonical), engine, setup_.now());
    body["aliases"] = found->aliases;
    if (canonical != id) body["requested_as"] = id;
    if (auto owner = backend_->owner(canonical)) body["owner"] = *owner;
    return json_response(200, body);
}

// What the store holds for the customer, decoded, without activating it: what a restart
// would bring back.
AdminResponse AdminApi::stored_customer(const std::string& id) const {
    const auto config = setup_.configs->current();
    const std::optional<std::string> record = backend_->stored_record(id);
    if (!record) throw HttpError{404, "customer \"" + id + "\" has no stored record"};
    std::string error;
    if (is_alias_record(*record)) {
        const auto alias = decode_alias_record(*record, error);
        if (!alias) throw HttpError{500, "stored record of " + id + " is unreadable: " + error};
        return json_response(200, {{"id", id},
                                   {"alias_of", alias->canonical},
                                   {"record_bytes", record->size()},
                                   {"record_format", static_cast<int>(kAliasRecordVersion)},
                                   {"recent_event_ids", alias->recent_ids.size()}});
    }
    const auto stored = decode_customer(*record, config->engine->model(), error);
    if (!stored) throw HttpError{500, "stored record of " + id + " is unreadable: " + error};
    json out = customer_json(*stored, {}, *config->engine, setup_.now());
    out.erase("contacts");  // the coordinator's, not part of the customer's record
    out["record_bytes"] = record->size();
    out["record_format"] = static_cast<int>(static_cast<uint8_t>((*record)[0]));
    out["recent_event_ids"] = stored->journey.recent_ids.ring().size();
    return json_response(200, out);
}

AdminResponse AdminApi::post_event(const AdminRequest& request, const std::string& customer) const {
    std::string error;
    // The msgpack decoder's depth limit, so that both ports accept the same events.
    std::optional<json> parsed = parse_json(request.body, kMaxDepth, error);
    if (!parsed) throw HttpError{400, "the body is not valid JSON: " + error};
    json& body = *parsed;
    if (!body.is_object()) throw HttpError{400, "the body must be one event object"};
    if (!body.contains("customer")) body["customer"] = customer;
    if (body["customer"] != customer)
        throw HttpError{400, "the event's customer differs from the one in the path"};
    msgpack::sbuffer packed;
    msgpack::packer<msgpack::sbuffer> packer(packed);
    pack_json(packer, body);
    DecodedRequest decoded = decode_request_body({packed.data(), packed.size()}, setup_.now());
    if (!decoded.frame_error.empty()) throw HttpError{400, decoded.frame_error};
    if (!decoded.errors.empty()) throw HttpError{400, decoded.errors[0].error};
    const EventOutcome outcome = backend_->apply(std::move(decoded.events[0]));
    return json_response(202, {{"ok", true}, {"duplicate", outcome == EventOutcome::duplicate}});
}

}  // namespace journeyd
