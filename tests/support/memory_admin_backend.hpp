// An AdminBackend without actors or disk, for the admin API's unit tests and its fuzzer.
// Customers live in a map and go through the real JourneyEngine; every program request the
// engine makes is logged as a send (no pressure rules here) and counted as a contact; the
// stored record is the customer encoded as the store would hold it. `unavailable` makes
// every call throw as a runtime that does not answer.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/admin/admin_api.hpp"
#include "state/codec/customer_codec.hpp"
#include "state/journey/journey_engine.hpp"

namespace journeyd::test {

class MemoryAdminBackend : public AdminBackend {
  public:
    MemoryAdminBackend(std::shared_ptr<const JourneyEngine> engine, TimeMs now)
        : engine_(std::move(engine)), now_(now) {}

    bool unavailable = false;

    std::optional<CustomerView> customer(const std::string& id) override {
        answer();
        auto it = customers_.find(id);
        if (it == customers_.end()) return std::nullopt;
        return CustomerView{it->second, {}, nullptr};
    }

    std::vector<Contact> contacts(const std::string& id) override {
        answer();
        return contacts_[id];
    }

    std::vector<Decision> decisions(const std::string& id) override {
        answer();
        return {decisions_[id].rbegin(), decisions_[id].rend()};
    }

    std::optional<std::string> stored_record(const std::string& id) override {
        answer();
        auto it = customers_.find(id);
        if (it == customers_.end()) return std::nullopt;
        return encode_customer(it->second, engine_->model());
    }

    EventOutcome apply(Event event) override {
        answer();
        CustomerState& customer = customers_[event.customer];
        customer.id = event.customer;
        Effects effects;
        engine_->apply(customer, event, now_, effects);
        if (!effects.changed_state()) return EventOutcome::duplicate;
        for (const ProgramRequest& request : effects.requests) {
            Decision decision;
            decision.decision_id = request.cause;
            decision.customer = customer.id;
            decision.program = request.program;
            decision.reason = "ok";
            decision.at = now_;
            decisions_[customer.id].push_back(decision);
            contacts_[customer.id].push_back(Contact{request.program, now_, true});
            ++sends_;
        }
        return EventOutcome::accepted;
    }

    CoordinatorStats decision_stats() override {
        answer();
        CoordinatorStats stats;
        stats.send = sends_;
        stats.customers = contacts_.size();
        return stats;
    }

    std::vector<DeadLetter> dead_letters() override {
        answer();
        return dead_;
    }

    bool redeliver(const std::string& decision_id) override {
        answer();
        auto found = std::find_if(dead_.begin(), dead_.end(), [&](const DeadLetter& d) {
            return d.delivery.decision_id == decision_id;
        });
        if (found == dead_.end()) return false;
        dead_.erase(found);
        return true;
    }

    // A send the endpoint refused for good, as the sink would park it.
    void park(DeadLetter dead) { dead_.push_back(std::move(dead)); }

    std::string store_write_error() override { return write_error; }
    std::string write_error;  // what the test makes the store say

    StoreStats store_stats() override {
        answer();
        StoreStats stats;
        stats.customers = customers_.size();
        for (const auto& [id, customer] : customers_)
            ++stats.customers_in_stage[engine_->model().stages[customer.journey.stage]];
        return stats;
    }

    SinkStats sink_stats() override {
        answer();
        return SinkStats{};
    }

    std::optional<std::string> owner(const std::string&) override { return std::nullopt; }

    ClusterView cluster() override {
        ClusterView view;
        MemberStatus self;
        self.name = "memory";
        self.state = MemberState::self;
        view.members.push_back(self);
        return view;
    }

    ClusterCounters cluster_counters() override {
        answer();
        return counters;
    }
    ClusterCounters counters;  // what the test makes the cluster count

  private:
    void answer() const {
        if (unavailable) throw BackendUnavailable("the memory backend is set to fail");
    }

    std::shared_ptr<const JourneyEngine> engine_;
    TimeMs now_;
    std::map<std::string, CustomerState> customers_;
    std::map<std::string, std::vector<Decision>> decisions_;  // oldest first
    std::map<std::string, std::vector<Contact>> contacts_;
    uint64_t sends_ = 0;
    std::vector<DeadLetter> dead_;
};

}  // namespace journeyd::test
