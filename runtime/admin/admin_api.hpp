// The admin API of docs/protocol.md "Admin port" without a socket: routing, the bearer token,
// methods, status codes and JSON bodies. AdminServer hands it what cpp-httplib parsed; the
// fuzzer and the unit tests hand it requests directly, with an in-memory backend.
//
// handle() never throws: every request gets a status and a body. JSON bodies are valid
// JSON even when a customer id, a profile or a message holds bytes that are not UTF-8 (the
// ingest port accepts any bytes in strings); such bytes are shown as U+FFFD. Errors are
// {"error": "..."}: 400 bad JSON or invalid event (the ingest port's validation), 401 token
// missing or wrong (compared in constant time; `/health` and the console page `/` stay
// open, the page holds no data), 404 unknown path or customer, 405 known path and wrong
// method, 500 a stored record that cannot be read, 501 POST /config without dry_run (applying
// a change live is not built: the answer is the check's, with "error" beside it), 503 the
// runtime did not answer in time.
// Customer ids are taken from the raw request target and URL-decoded segment by segment,
// so an id holding "/" works when written as %2F.
//
// The backend is the runtime behind the API: ActorAdminBackend (the actors and the store)
// in the daemon.
//
// Thread-safety: handle() runs on many cpp-httplib threads at once, set_events_per_second() on
// AdminServer's sampling thread: the setup is only read, the rate is atomic, and the backend
// must allow calls from many threads at once too.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/cluster_status.hpp"
#include "actors/coordinator.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "config/config_archive.hpp"
#include "config/config_change.hpp"
#include "config/config_version.hpp"
#include "config/live_config.hpp"
#include "runtime/delivery/delivery_sink.hpp"
#include "state/journey/journey_engine.hpp"
#include "state/pressure/pressure_policy.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct AdminRequest {
    std::string method;         // "GET", "POST", ...
    std::string target;         // as sent, still URL-encoded: "/customers/a%2Fb?x=1"
    std::string authorization;  // the Authorization header, empty when absent
    std::string body;
};

struct AdminResponse {
    int status = 200;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

// Thrown by a backend when the runtime does not answer in time; answered 503.
struct BackendUnavailable : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Thrown by a backend when the runtime refused an event it cannot apply (an identify whose
// merge would make a cycle or exceed max_aliases); answered 409.
struct EventRefused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Whether an event's error is the runtime refusing it rather than failing to answer.
inline bool refused_event(std::string_view error) {
    return error.substr(0, 10) == "identify: ";
}

// What /cluster shows: this node's view of every member (actors/cluster_status.hpp).
struct ClusterView {
    bool clustered = false;  // false: a single node, `members` holds only this one
    uint64_t fingerprint = 0;
    std::vector<MemberStatus> members;
    ChannelRates rate_budgets;    // this node's, now: floor + lease
    TimeMs rate_lease_until = 0;  // 0: no lease, the floor alone
};

// The store counters of the whole cluster (StoreStats::counters; add_counts reads them):
// this node's plus those of every member that answered. On a single node, its own.
struct ClusterCounters {
    std::map<std::string, int64_t> summed;
    std::vector<std::string> partial;  // the members that did not answer, in list order
};

// A customer as GET /customers/{id} shows it.
struct CustomerView {
    CustomerState state;
    std::vector<std::string> aliases;  // the ids identify made aliases of it, in joining order
    // The engine `state` is held under (its ids index that model); null: the one in force.
    std::shared_ptr<const JourneyEngine> under;
};

// Thread-safety: implementations must allow calls from many threads at once (AdminApi).
class AdminBackend {
  public:
    virtual ~AdminBackend() = default;

    // The customer's live state (activated from the store if need be), and its aliases; for an
    // alias, its canonical customer's. nullopt when the customer was never seen.
    virtual std::optional<CustomerView> customer(const std::string& id) = 0;
    virtual std::vector<Contact> contacts(const std::string& id) = 0;
    virtual std::vector<Decision> decisions(const std::string& id) = 0;  // newest first
    // The customer's record as stored, without activating it; nullopt when there is none.
    virtual std::optional<std::string> stored_record(const std::string& id) = 0;
    // Applies one validated event and returns once it is committed.
    virtual EventOutcome apply(Event event) = 0;
    virtual CoordinatorStats decision_stats() = 0;
    virtual StoreStats store_stats() = 0;
    // Why the store refuses commits ("" while it takes them): RecordStore::write_error().
    virtual std::string store_write_error() = 0;
    virtual SinkStats sink_stats() = 0;
    // Sends the endpoint refused for good, as the store keeps them (any order).
    virtual std::vector<DeadLetter> dead_letters() = 0;
    // Queues a dead letter to be sent again; false when there is no dead letter of that id.
    virtual bool redeliver(const std::string& decision_id) = 0;
    virtual ClusterView cluster() = 0;
    // Asks every other member at once; one that is down, or does not answer within
    // [cluster] forward_timeout, is named in `partial`.
    virtual ClusterCounters cluster_counters() = 0;
    // The member that owns the customer, in a cluster; nullopt on a single node.
    virtual std::optional<std::string> owner(const std::string& id) = 0;
};

struct AdminApiSetup {
    std::string node_name;
    std::string token;  // empty: no authorization required
    std::shared_ptr<Metrics> metrics;
    // The configuration in force (its journey, pressure policy, and the propensities
    // /customers/{id}/actions ranks by): what GET /config shows and POST /config compares a new
    // text with. Read once per request, so one answer is made under one version.
    std::shared_ptr<const LiveConfigs> configs;
    std::function<TimeMs()> now;  // receive time of events posted without "ts"
    // Checks a posted text against the customers counted per stage (summed over the cluster)
    // and applies it (POST /config without dry_run); null where no change can be applied:
    // answered 501.
    std::function<ConfigCheck(const std::string& text, const StageCounts& counts)> apply_config;
    // The texts of earlier versions, for GET /config/{version} (null: only the running one).
    std::shared_ptr<const ConfigArchive> config_archive;
};

class AdminApi {
  public:
    AdminApi(AdminApiSetup setup, std::unique_ptr<AdminBackend> backend);

    AdminResponse handle(const AdminRequest& request) const;

    // The ingest rate /stats reports, measured by whoever owns a clock (AdminServer).
    void set_events_per_second(double rate) { events_per_second_ = rate; }

  private:
    AdminResponse route(const AdminRequest& request) const;
    AdminResponse stats() const;
    AdminResponse running_config() const;
    AdminResponse config_of_version(const std::string& version) const;
    AdminResponse check_config(const AdminRequest& request) const;
    AdminResponse metrics() const;
    AdminResponse cluster() const;
    AdminResponse segments() const;
    AdminResponse actions() const;
    AdminResponse programs() const;
    AdminResponse journey(const std::map<std::string, std::string>& params) const;
    AdminResponse drivers(const std::map<std::string, std::string>& params) const;
    AdminResponse customer_actions(const CustomerState& customer, const JourneyModel& model) const;
    AdminResponse dead_letters(const std::vector<std::string>& path,
                               const AdminRequest& request) const;
    AdminResponse customer(const std::vector<std::string>& path, const AdminRequest& request) const;
    AdminResponse stored_customer(const std::string& id) const;
    AdminResponse post_event(const AdminRequest& request, const std::string& customer) const;

    AdminApiSetup setup_;
    std::unique_ptr<AdminBackend> backend_;
    std::atomic<double> events_per_second_{0};
};

}  // namespace journeyd
