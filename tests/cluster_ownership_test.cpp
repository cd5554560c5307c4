#include "state/cluster/cluster_ownership.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

using namespace journeyd;

namespace {

std::string customer(int i) {
    return "customer-" + std::to_string(i);
}

}  // namespace

TEST_CASE("ownership: every node computes the same owner, whatever the order of its list",
          "[cluster]") {
    const ClusterOwnership a({"node-a", "node-b", "node-c"}, "node-a");
    const ClusterOwnership c({"node-c", "node-a", "node-b"}, "node-c");
    for (int i = 0; i < 2000; ++i) {
        const std::string id = customer(i);
        CHECK(a.members()[a.owner_of(id)] == c.members()[c.owner_of(id)]);
        CHECK(a.owns(id) == (a.members()[a.owner_of(id)] == "node-a"));
    }
    CHECK(a.members()[a.self()] == "node-a");
    CHECK(c.members()[c.self()] == "node-c");
}

TEST_CASE("ownership: customers spread evenly over the members", "[cluster]") {
    const ClusterOwnership ownership({"node-a", "node-b", "node-c"}, "node-a");
    std::map<size_t, int> owned;
    const int customers = 30'000;
    for (int i = 0; i < customers; ++i) ++owned[ownership.owner_of(customer(i))];
    REQUIRE(owned.size() == 3);
    for (const auto& [member, count] : owned) {
        INFO("member " << member << " owns " << count);
        CHECK(count > customers / 3 * 0.9);
        CHECK(count < customers / 3 * 1.1);
    }
}

TEST_CASE("ownership: a hundred members share customers evenly too", "[cluster]") {
    std::vector<std::string> names;
    for (int i = 0; i < 100; ++i) names.push_back("node-" + std::to_string(i));
    const ClusterOwnership ownership(names, "node-0");
    std::vector<int> owned(names.size());
    const int customers = 200'000;
    for (int i = 0; i < customers; ++i) ++owned[ownership.owner_of(customer(i))];
    const auto [fewest, most] = std::minmax_element(owned.begin(), owned.end());
    INFO("fewest " << *fewest << ", most " << *most);
    CHECK(*fewest > customers / 100 * 0.85);  // ±300: over 6 standard deviations (44)
    CHECK(*most < customers / 100 * 1.15);
}

TEST_CASE("ownership: removing a member moves only the customers it owned", "[cluster]") {
    const ClusterOwnership three({"node-a", "node-b", "node-c"}, "node-a");
    const ClusterOwnership two({"node-a", "node-b"}, "node-a");
    int moved = 0;
    for (int i = 0; i < 5000; ++i) {
        const std::string id = customer(i);
        const std::string before = three.members()[three.owner_of(id)];
        const std::string after = two.members()[two.owner_of(id)];
        if (before != "node-c") CHECK(after == before);
        moved += before == "node-c";
    }
    CHECK(moved > 0);
}

TEST_CASE("ownership: the fingerprint tells member lists apart", "[cluster]") {
    const uint64_t three = ClusterOwnership({"node-a", "node-b", "node-c"}, "node-a").fingerprint();
    CHECK(ClusterOwnership({"node-a", "node-b"}, "node-a").fingerprint() != three);
    CHECK(ClusterOwnership({"node-a", "node-b", "node-d"}, "node-a").fingerprint() != three);
    // Names are separated, not concatenated: ["ab", "c"] is not ["a", "bc"].
    CHECK(ClusterOwnership({"ab", "c"}, "c").fingerprint() !=
          ClusterOwnership({"a", "bc"}, "a").fingerprint());
}

// The rate lender is the first member, and it keeps each member's lease under that member's
// place in the list: two nodes whose lists differ only in order would each lend, or two
// borrowers would share one lease slot and together exceed the budget. So the order counts.
TEST_CASE("ownership: the fingerprint tells lists in another order apart", "[cluster]") {
    const uint64_t abc = ClusterOwnership({"node-a", "node-b", "node-c"}, "node-a").fingerprint();
    CHECK(ClusterOwnership({"node-a", "node-b", "node-c"}, "node-c").fingerprint() == abc);
    CHECK(ClusterOwnership({"node-a", "node-c", "node-b"}, "node-a").fingerprint() != abc);
    CHECK(ClusterOwnership({"node-c", "node-a", "node-b"}, "node-c").fingerprint() != abc);
}

TEST_CASE("ownership: a single node owns everyone", "[cluster]") {
    const ClusterOwnership alone({"node-a"}, "node-a");
    for (int i = 0; i < 100; ++i) CHECK(alone.owns(customer(i)));
}
