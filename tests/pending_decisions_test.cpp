#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "state/pressure/pending_decisions.hpp"

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

TEST_CASE("pending decisions leave in slices of whole customers") {
    PendingDecisions pending;
    std::vector<Decision> decided = {decision("a", "a1"), decision("b", "b1"), decision("a", "a2"),
                                     decision("c", "c1")};
    pending.add(decided);
    CHECK(decided.empty());
    CHECK(pending.size() == 4);

    // "a" comes first and whole, though the slice asked for one decision.
    CHECK(ids(pending.take(1)) == std::vector<std::string>{"a1", "a2"});
    // A customer taken comes again at the back with what it decides later.
    std::vector<Decision> later = {decision("a", "a3"), decision("c", "c2")};
    pending.add(later);
    CHECK(ids(pending.take(2)) == std::vector<std::string>{"b1", "c1", "c2"});
    CHECK(ids(pending.take_all()) == std::vector<std::string>{"a3"});
    CHECK(pending.empty());
    CHECK(pending.take(10).empty());
}

}  // namespace journeyd
