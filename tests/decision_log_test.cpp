#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "state/pressure/decision_log.hpp"

namespace journeyd {
namespace {

Decision decision(const std::string& customer, const std::string& id) {
    Decision d;
    d.customer = customer;
    d.decision_id = id;
    return d;
}

std::vector<std::string> ids(const std::vector<Decision>& decisions) {
    std::vector<std::string> out;
    for (const Decision& d : decisions) out.push_back(d.decision_id);
    return out;
}

}  // namespace

TEST_CASE("the decision log keeps each customer's newest decisions, newest first") {
    DecisionLog log(3);
    for (const char* id : {"1", "2", "3", "4"}) log.record(decision("ann", id));
    log.record(decision("bob", "b1"));
    CHECK(ids(log.newest_first("ann")) == std::vector<std::string>{"4", "3", "2"});
    CHECK(ids(log.entries_of("bob")) == std::vector<std::string>{"b1"});
    CHECK(log.newest_first("nobody").empty());

    // Restored from the store: cut to the bound, then added to as before.
    log.restore("cy", {decision("cy", "c4"), decision("cy", "c3"), decision("cy", "c2"),
                       decision("cy", "c1")});
    CHECK(ids(log.newest_first("cy")) == std::vector<std::string>{"c4", "c3", "c2"});
    log.record(decision("cy", "c5"));
    CHECK(ids(log.newest_first("cy")) == std::vector<std::string>{"c5", "c4", "c3"});
}

}  // namespace journeyd
