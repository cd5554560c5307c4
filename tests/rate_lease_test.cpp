#include "state/pressure/rate_lease.hpp"

#include <catch2/catch.hpp>
#include <random>

using namespace journeyd;

TEST_CASE("rate lease: floors are half of each budget, split evenly", "[cluster][rates]") {
    const ChannelRates floors = floor_rates({{"email", 900}, {"push", 30}}, 3);
    CHECK(floors.at("email") == Approx(150));
    CHECK(floors.at("push") == Approx(5));
}

TEST_CASE("rate lease: the pool goes where the demand is", "[cluster][rates]") {
    RateLender lender({{"email", 1200}}, 3, 3000);
    // Nobody asks for anything: an even split of the pool (600).
    CHECK(lender.lend(0, {}, 1000).at("email") == Approx(200));
    CHECK(lender.lend(1, {}, 1000).at("email") == Approx(200));
    CHECK(lender.lend(2, {}, 1000).at("email") == Approx(200));
    // Member 1 has all the demand: it gets what the others' unexpired leases leave, then,
    // as they renew with no demand, the whole pool.
    CHECK(lender.lend(1, {{"email", 500}}, 2000).at("email") == Approx(200));
    CHECK(lender.lend(0, {}, 2000).at("email") == Approx(0));
    CHECK(lender.lend(2, {}, 2000).at("email") == Approx(0));
    CHECK(lender.lend(1, {{"email", 500}}, 3000).at("email") == Approx(600));
    // Demand 3:1 between members 1 and 2.
    lender.lend(2, {{"email", 100}}, 4000);
    lender.lend(1, {{"email", 300}}, 4000);
    CHECK(lender.lend(2, {{"email", 100}}, 5000).at("email") == Approx(150));
    CHECK(lender.lend(1, {{"email", 300}}, 5000).at("email") == Approx(450));
}

TEST_CASE("rate lease: an expired lease frees its part of the pool", "[cluster][rates]") {
    RateLender lender({{"push", 100}}, 2, 3000);
    CHECK(lender.lend(0, {{"push", 10}}, 0).at("push") == Approx(50));
    CHECK(lender.lend(0, {{"push", 10}}, 1000).at("push") == Approx(50));
    // Member 1 asks while member 0's lease runs: it gets what is left, nothing.
    CHECK(lender.lend(1, {{"push", 1000}}, 1500).at("push") == Approx(0));
    // Member 0 stopped asking; its lease ran out at 4000.
    CHECK(lender.lend(1, {{"push", 1000}}, 4000).at("push") == Approx(50));
}

TEST_CASE("rate lease: unexpired leases never sum to more than the pool", "[cluster][rates]") {
    const size_t members = 5;
    RateLender lender({{"sms", 250}}, members, 3000);
    std::mt19937 random(7);
    std::vector<double> lease(members, 0);
    std::vector<TimeMs> until(members, 0);
    TimeMs now = 0;
    for (int step = 0; step < 5000; ++step) {
        now += random() % 700;
        const size_t member = random() % members;
        const double demand = random() % 3 == 0 ? 0 : random() % 1000;
        lease[member] = lender.lend(member, {{"sms", demand}}, now).at("sms");
        until[member] = now + 3000;
        double outstanding = 0;
        for (size_t m = 0; m < members; ++m)
            if (until[m] > now) outstanding += lease[m];
        REQUIRE(outstanding <= 125 + 1e-6);
        REQUIRE(lease[member] >= 0);
    }
}

TEST_CASE("rate lease: rates cross the wire and back; garbage is an error", "[cluster][rates]") {
    const ChannelRates rates = {{"email", 333.25}, {"push", 0}};
    std::string error;
    CHECK(decode_rates(encode_rates(rates), error) == rates);
    CHECK_FALSE(decode_rates("\x92\x01", error));
    CHECK_THAT(error, Catch::Contains("unreadable"));
}
