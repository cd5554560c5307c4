#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "state/pressure/decision_log.hpp"
#include "tests/support/decisions.hpp"

namespace journeyd {
using test::decision_ids;
using test::decision_of;

TEST_CASE("the decision log keeps each customer's newest decisions, newest first") {
    DecisionLog log(3);
    for (const char* id : {"1", "2", "3", "4"}) log.record(decision_of("ann", id));
    log.record(decision_of("bob", "b1"));
    CHECK(decision_ids(log.newest_first("ann")) == std::vector<std::string>{"4", "3", "2"});
    CHECK(decision_ids(log.entries_of("bob")) == std::vector<std::string>{"b1"});
    CHECK(log.newest_first("nobody").empty());

    // Restored from the store: cut to the bound, then added to as before.
    log.restore("cy", {decision_of("cy", "c4"), decision_of("cy", "c3"), decision_of("cy", "c2"),
                       decision_of("cy", "c1")});
    CHECK(decision_ids(log.newest_first("cy")) == std::vector<std::string>{"c4", "c3", "c2"});
    log.record(decision_of("cy", "c5"));
    CHECK(decision_ids(log.newest_first("cy")) == std::vector<std::string>{"c5", "c4", "c3"});
}

TEST_CASE("a merge joins two customers' decisions, newest first, bounded") {
    DecisionLog log(4);
    auto at = [](const std::string& customer, const std::string& id, TimeMs when) {
        Decision d = decision_of(customer, id);
        d.at = when;
        return d;
    };
    log.record(at("device", "d1", 10));
    log.record(at("ann", "a1", 20));
    log.record(at("device", "d2", 30));
    log.record(at("ann", "a2", 40));
    log.record(at("device", "d3", 50));
    log.merge("device", "ann");
    CHECK(decision_ids(log.newest_first("ann")) ==
          std::vector<std::string>{"d3", "a2", "d2", "a1"});
    CHECK(log.newest_first("device").empty());
    log.merge("nobody", "ann");  // an alias with no decisions changes nothing
    CHECK(log.newest_first("ann").size() == 4);
}

}  // namespace journeyd
