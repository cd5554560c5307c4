#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "state/pressure/pending_decisions.hpp"
#include "tests/support/decisions.hpp"

namespace journeyd {
using test::decision_ids;
using test::decision_of;

TEST_CASE("pending decisions leave in slices of whole customers") {
    PendingDecisions pending;
    std::vector<Decision> decided = {decision_of("a", "a1"), decision_of("b", "b1"),
                                     decision_of("a", "a2"), decision_of("c", "c1")};
    pending.add(decided);
    CHECK(decided.empty());
    CHECK(pending.size() == 4);

    // "a" comes first and whole, though the slice asked for one decision.
    CHECK(decision_ids(pending.take(1)) == std::vector<std::string>{"a1", "a2"});
    // A customer taken comes again at the back with what it decides later.
    std::vector<Decision> later = {decision_of("a", "a3"), decision_of("c", "c2")};
    pending.add(later);
    CHECK(decision_ids(pending.take(2)) == std::vector<std::string>{"b1", "c1", "c2"});
    CHECK(decision_ids(pending.take_all()) == std::vector<std::string>{"a3"});
    CHECK(pending.empty());
    CHECK(pending.take(10).empty());
}

}  // namespace journeyd
