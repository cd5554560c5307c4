// The admin API's backend in the daemon: asks the actors (customer state from the
// customer's actor through its shard, decisions and contacts from the coordinator; in a
// cluster those of the customer's owner, through CustomerRouter) and reads the store and
// the sink's counters directly.
//
// Every question to an actor waits at most `timeout`; then BackendUnavailable (a 503), so
// a stuck actor never hangs an operator. The cluster's counters are asked of every peer at
// once and wait for the slowest member, `forward_timeout` at most; a member that did not answer
// is named, not an error.
//
// Thread-safety: any method from many threads at once: each question to an actor goes
// through a scoped actor of its own, the rest reads the store, the sink's stats and the
// cluster status, which allow that.
#pragma once

#include <caf/all.hpp>
#include <chrono>
#include <memory>

#include "actors/cluster_status.hpp"
#include "actors/customer_router.hpp"
#include "runtime/admin/admin_api.hpp"
#include "runtime/delivery/delivery_sink.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

struct ActorAdminBackendSetup {
    caf::actor_system* system = nullptr;
    CustomerRouter router;
    caf::actor coordinator;  // this node's: decision counts
    std::function<ClusterView()> cluster;
    std::shared_ptr<RecordStore> store;
    std::shared_ptr<DeliverySink> sink;
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds forward_timeout{10'000};  // [cluster]: the peers' deadline
};

class ActorAdminBackend : public AdminBackend {
  public:
    explicit ActorAdminBackend(ActorAdminBackendSetup setup) : setup_(std::move(setup)) {}

    std::optional<CustomerView> customer(const std::string& id) override;
    std::vector<Contact> contacts(const std::string& id) override;
    std::vector<Decision> decisions(const std::string& id) override;
    std::optional<std::string> stored_record(const std::string& id) override;
    EventOutcome apply(Event event) override;
    CoordinatorStats decision_stats() override;
    StoreStats store_stats() override;
    std::string store_write_error() override;
    SinkStats sink_stats() override;
    std::vector<DeadLetter> dead_letters() override;
    bool redeliver(const std::string& decision_id) override;
    ClusterView cluster() override;
    ClusterCounters cluster_counters() override;
    std::optional<std::string> owner(const std::string& id) override {
        return setup_.router.owner_name(id);
    }

  private:
    template <class Answer, class... Message>
    Answer ask(const caf::actor& whom, Message&&... message);

    ActorAdminBackendSetup setup_;
};

}  // namespace journeyd
