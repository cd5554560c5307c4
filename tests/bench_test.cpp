// The parts of journey-bench whose arithmetic the figures rest on: histogram quantiles from
// journeyd's own exposition, the report's sanity checks, the Zipf draw and its restriction to
// some customers, and the generated configurations. The modes themselves run against journeyd in
// journey_bench_smoke.
#include <catch2/catch.hpp>
#include <random>

#include "actors/metrics.hpp"
#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/report.hpp"
#include "runtime/bench/workload.hpp"
#include "state/codec/event_codec.hpp"
#include "state/journey/journey_engine.hpp"
#include "tests/support/test_models.hpp"

using namespace journeyd;
using namespace journeyd::bench;

TEST_CASE("bench: quantiles interpolate inside the bucket holding the rank") {
    Histogram h;
    h.bounds = {0.001, 0.01, 0.1};
    h.cumulative = {10, 50, 100};
    h.count = 120;                              // 20 beyond the last bound
    CHECK(h.quantile(0.05) == Approx(0.0006));  // rank 6 of the first 10, from 0
    CHECK(h.quantile(50.0 / 120) == Approx(0.01));
    CHECK(h.quantile(0.99) == Approx(0.1));  // beyond: the last bound
    CHECK(h.beyond_last_bound() == 20);

    Histogram earlier = h;
    earlier.cumulative = {10, 10, 10};
    earlier.count = 10;
    const Histogram run = h.since(earlier);
    CHECK(run.count == 110);
    CHECK(run.cumulative == std::vector<double>{0, 40, 90});
    CHECK(run.quantile(0.5) > 0.01);
    CHECK_FALSE(Histogram{h.bounds, {0, 0, 0}, 0, 0}.quantile(0.5));
}

TEST_CASE("bench: journeyd's histogram exposition reads back as observed") {
    LatencyHistogram observed;
    for (DurationMs ms : {0, 1, 3, 3, 40, 20'000}) observed.observe(std::chrono::milliseconds(ms));
    ExpositionWriter exposition;
    exposition.family("journeyd_events_total", ExpositionWriter::Type::counter, "Events.");
    exposition.sample(uint64_t{7});
    observed.render(exposition, "x_seconds", "Durations.");
    const MetricsScrape scrape(exposition.text());
    CHECK(scrape.value("journeyd_events_total") == 7);
    const Histogram h = scrape.histogram("x_seconds");
    REQUIRE(h.bounds.size() == LatencyHistogram::kBoundsUs.size());
    CHECK(h.bounds.front() == Approx(0.0001));
    CHECK(h.count == 6);
    CHECK(h.sum == Approx(20.047));
    CHECK(h.beyond_last_bound() == 1);  // 20 s is beyond 10 s
    CHECK(*h.quantile(0.5) > 0.0025);
    CHECK(*h.quantile(0.5) <= 0.005);  // the 3 ms observations
    CHECK_THROWS_WITH(scrape.histogram("missing_seconds"), Catch::Contains("missing_seconds"));
}

TEST_CASE("bench: --check failures name the figure; missing percentiles are not disorder") {
    Report report("test");
    report.set("run", "events_per_s", "events/s", 0);
    report.set("run", "p50", "p50", 5.0);
    report.set("run", "p99", "p99", 4.0);
    report.set("run", "p999", "p999", std::nullopt);
    report.set("run", "q50", "q50", std::nullopt);
    report.set("run", "q99", "q99", std::nullopt);
    report.require_positive("run", "events_per_s");
    report.require_positive("run", "never_set");
    report.require_ordered("run", {"p50", "p99", "p999"});
    report.require_ordered("run", {"q50", "q99"});
    report.set("run", "sent", "sent", 7);
    report.set("run", "counted", "counted", 7);
    report.set("run", "seen", "seen", 6);
    report.require_equal("run", "sent", "counted");
    report.require_equal("run", "sent", "seen");
    report.require_equal("run", "sent", "never_set");
    REQUIRE(report.failures().size() == 5);
    CHECK_THAT(report.failures()[0], Catch::Contains("events_per_s = 0"));
    CHECK_THAT(report.failures()[1], Catch::Contains("never_set was not measured"));
    CHECK_THAT(report.failures()[2], Catch::Contains("p50 = 5.000 exceeds p99 = 4.000"));
    CHECK_THAT(report.failures()[3], Catch::Contains("sent = 7.000 but seen = 6.000"));
    CHECK_THAT(report.failures()[4], Catch::Contains("run.never_set was not measured"));
    const nlohmann::json json = report.to_json();
    CHECK(json["results"]["run"]["p999"].is_null());
    CHECK(json["check"]["ok"] == false);
    std::ostringstream table;
    report.print_table(table);
    CHECK_THAT(table.str(), Catch::Contains("CHECK FAILED"));
}

TEST_CASE("bench: Zipf draws favour low ranks as 1/k") {
    const ZipfDistribution zipf(1000, 1.0);
    std::mt19937_64 random(7);
    std::vector<int> hits(1000);
    constexpr int kDraws = 200'000;
    for (int i = 0; i < kDraws; ++i) ++hits.at(zipf(random));
    double harmonic = 0;
    for (int k = 1; k <= 1000; ++k) harmonic += 1.0 / k;
    CHECK(hits[0] / double(kDraws) == Approx(1 / harmonic).epsilon(0.05));
    CHECK(hits[1] / double(kDraws) == Approx(0.5 / harmonic).epsilon(0.05));
}

TEST_CASE("bench: a marketplace mix with `accept` sends only the customers it accepts") {
    const auto zipf = std::make_shared<const ZipfDistribution>(100, 1.0);
    size_t refused = 0;
    MarketplaceMix odd_only(zipf, 3, "t-", 50, [&](size_t rank) {
        refused += rank % 2 == 0;
        return rank % 2 == 1;
    });
    Frame frame;
    REQUIRE(odd_only.next(frame));
    const DecodedRequest decoded = decode_request_body(frame.body, 0);
    REQUIRE(decoded.frame_error.empty());
    REQUIRE(decoded.events.size() == 50);
    for (const Event& event : decoded.events) CHECK(std::stoul(event.customer.substr(1)) % 2 == 1);
    CHECK(refused > 0);  // rank 0, the likeliest, was drawn and drawn again
}

TEST_CASE("bench: a marketplace mix with max_events sends exactly that many, the same each time") {
    const auto zipf = std::make_shared<const ZipfDistribution>(100, 1.0);
    // All of one source's decoded events, frame by frame, as (customer, type) pairs.
    const auto drain = [&](uint64_t seed) {
        MarketplaceMix mix(zipf, seed, "t-", 40, nullptr, 100);
        std::vector<size_t> frame_sizes;
        std::vector<std::pair<std::string, std::string>> events;
        for (Frame frame; mix.next(frame);) {
            const DecodedRequest decoded = decode_request_body(frame.body, 0);
            REQUIRE(decoded.frame_error.empty());
            REQUIRE(decoded.events.size() == frame.events);
            frame_sizes.push_back(frame.events);
            for (const Event& e : decoded.events) events.emplace_back(e.customer, e.type);
        }
        return std::make_pair(frame_sizes, events);
    };
    const auto [sizes, events] = drain(5);
    CHECK(sizes == std::vector<size_t>{40, 40, 20});  // the last frame holds the rest
    CHECK(drain(5).second == events);
    CHECK(drain(6).second != events);
    MarketplaceMix none(zipf, 5, "t-", 40, nullptr, 0);  // a connection with no share
    Frame frame;
    CHECK_FALSE(none.next(frame));
}

TEST_CASE("bench: each cluster member's configuration names it and lists every member") {
    const std::vector<uint16_t> ports = {17410, 17420, 17430};
    const Config second = test::config_from(marketplace_config("0s", ports, 1));
    CHECK(second.node.name == cluster_member_name(1));
    REQUIRE(second.cluster.members.size() == 3);
    for (size_t i = 0; i < ports.size(); ++i) {
        CHECK(second.cluster.members[i].name == cluster_member_name(i));
        CHECK(second.cluster.members[i].host == "127.0.0.1");
        CHECK(second.cluster.members[i].port == ports[i]);
    }
    CHECK(second.store.sync);
    // The budgets stay the whole cluster's: each node takes its share of them itself.
    CHECK(second.pressure.rate == test::config_from(marketplace_config("0s")).pressure.rate);

    // One member is a plain single node.
    CHECK(test::config_from(marketplace_config("0s", {17410}, 0)).cluster.members.empty());
}

TEST_CASE("bench: the generated configurations are what the modes assume") {
    const Config marketplace = test::config_from(marketplace_config("0s"));
    CHECK(marketplace.pressure.arbitration_window == 0);
    CHECK(marketplace.store.sync);
    CHECK(marketplace.journey.programs.size() == 9);  // the default journey, untouched
    CHECK(marketplace.journey.actions.size() == 5);
    // Generated segments join the default's own, which its actions name.
    const Config segmented = test::config_from(marketplace_config("0s", {}, 0, 4));
    CHECK(segmented.journey.conditions.segments.size() == 3 + 4);
    // decisioning: none of the default's segments and actions, then only generated ones.
    const Config plain = test::config_from(decisioning_config(0, 0));
    CHECK(plain.journey.conditions.segments.empty());
    CHECK(plain.journey.actions.empty());
    CHECK(plain.journey.programs.size() == 7);
    const Config deciding = test::config_from(decisioning_config(20, 20));
    CHECK(deciding.journey.conditions.segments.size() == 20);
    CHECK(deciding.journey.actions.size() == 20);
    REQUIRE(deciding.journey.program_id("nba_on_view"));
    CHECK(
        deciding.journey.programs[*deciding.journey.program_id("nba_on_view")].candidates.size() ==
        20);
    CHECK_THROWS_WITH(marketplace_config("soon"), Catch::Contains("not a duration"));

    const Config timers = test::config_from(timer_journey_config({5'000, 9'000}, 1'000));
    CHECK(timers.runtime.idle_after == 1'000);
    CHECK(timers.journey.programs.empty());
    const JourneyEngine engine(timers.journey);
    Effects effects;
    CustomerState touched, waiting;
    engine.apply(touched, {"e1", "a", kTouchEventType, 0, nullptr}, 100, effects);
    CHECK_FALSE(engine.next_due(touched));  // "new" holds no timer
    engine.apply(waiting, {"e2", "b", wait_event_type(1), 0, nullptr}, 100, effects);
    CHECK(engine.next_due(waiting) == 9'100);  // exactly one, after timer_afters[1]
    CHECK(waiting.journey.timers.size() == 1);
    engine.fire_due(waiting, 9'100, effects);
    CHECK(timers.journey.stages[waiting.journey.stage] == "done");
    CHECK_FALSE(engine.next_due(waiting));
}
