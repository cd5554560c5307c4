#include "state/cluster/remote_counters.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "state/store/record_store.hpp"

using namespace journeyd;

TEST_CASE("remote counters: the sum of every member's last report", "[cluster][counters]") {
    RemoteCounters remote(3);
    CHECK(remote.sum()->empty());  // nobody reported yet

    const std::string engaged = kSegmentCount + "engaged";
    remote.report(1, {{"new", 4}, {engaged, 2}});
    remote.report(2, {{"new", 1}, {"loyal", 7}});
    CHECK(*remote.sum() == StoreCounters{{"new", 5}, {"loyal", 7}, {engaged, 2}});

    // A later report replaces the member's earlier one, it does not add to it.
    const auto before = remote.sum();
    remote.report(1, {{"new", 3}, {engaged, 5}});
    CHECK(*remote.sum() == StoreCounters{{"new", 4}, {"loyal", 7}, {engaged, 5}});
    // A reader's snapshot stays as it was.
    CHECK(*before == StoreCounters{{"new", 5}, {"loyal", 7}, {engaged, 2}});

    // A key a member no longer reports stops counting for it.
    remote.report(2, {{"new", 1}});
    CHECK(remote.sum()->at("loyal") == 0);
    CHECK(remote.sum()->at("new") == 4);

    // A member outside the list is ignored.
    remote.report(3, {{"new", 100}});
    CHECK(remote.sum()->at("new") == 4);
}

TEST_CASE("remote counters: reports from many threads while others read", "[cluster][counters]") {
    constexpr int kMembers = 4, kReports = 2000;
    RemoteCounters remote(kMembers);
    std::vector<std::thread> threads;
    for (int member = 0; member < kMembers; ++member)
        threads.emplace_back([&remote, member] {
            for (int i = 1; i <= kReports; ++i) remote.report(member, {{"new", i}});
        });
    threads.emplace_back([&remote] {
        // Every snapshot is whole: never more than all members' last reports together.
        for (int i = 0; i < kReports; ++i) {
            const auto sum = remote.sum();
            const auto found = sum->find("new");
            if (found != sum->end()) REQUIRE(found->second <= int64_t{kMembers} * kReports);
        }
    });
    for (std::thread& thread : threads) thread.join();
    CHECK(remote.sum()->at("new") == int64_t{kMembers} * kReports);
}

TEST_CASE("remote counters: the wire codec keeps keys with NUL bytes", "[cluster][counters]") {
    const StoreCounters counters = {{"new", 3},
                                    {kSegmentCount + "engaged", 2},
                                    {action_counter_key("welcome", ActionOutcome::sent), -1}};
    std::string error;
    CHECK(decode_counters(encode_counters(counters), error) == counters);
    CHECK(decode_counters(encode_counters({}), error) == StoreCounters{});
    CHECK_FALSE(decode_counters("\x81\xa3new", error));
    CHECK_THAT(error, Catch::Contains("counters unreadable"));
}
