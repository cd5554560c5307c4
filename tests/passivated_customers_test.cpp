#include "state/pressure/passivated_customers.hpp"

#include <catch2/catch.hpp>

using namespace journeyd;
using Names = std::vector<std::string>;

TEST_CASE("passivated customers: settled with no commit in flight, forgotten at once") {
    PassivatedCustomers p;
    CHECK(p.passivated("a", true));
    CHECK_FALSE(p.passivated("b", false));
    CHECK(p.waiting("b"));
    p.forgot("a");
    CHECK_FALSE(p.waiting("a"));
}

TEST_CASE("passivated customers: forgotten only once the commits that may hold them are answered") {
    PassivatedCustomers p;
    p.sent_commit();                       // commit 1, in flight
    CHECK_FALSE(p.passivated("a", true));  // may be in commit 1
    p.passivated("b", false);              // held: waits for a commit of its own
    p.committing("b", true);               // commit 2 holds b's last decisions
    p.sent_commit();
    CHECK(p.answered(true) == Names{"a"});
    p.forgot("a");
    CHECK(p.answered(true) == Names{"b"});
    CHECK(p.answered(true).empty());
}

TEST_CASE("passivated customers: a request brings the customer back; a failed commit keeps them") {
    PassivatedCustomers p;
    p.sent_commit();
    p.passivated("a", true);
    p.active("a");
    CHECK_FALSE(p.waiting("a"));
    CHECK(p.answered(true).empty());

    p.passivated("b", false);
    p.committing("b", true);
    p.sent_commit();
    CHECK(p.answered(false).empty());
    CHECK(p.waiting("b"));  // stays until a later commit of theirs is answered
    p.committing("b", true);
    p.sent_commit();
    CHECK(p.answered(true) == Names{"b"});
}
