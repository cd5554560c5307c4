// The Prometheus text GET /metrics is written with: escaping, and the latency histograms'
// buckets. tests/metrics_promtool_test.cpp has promtool read the daemon's whole exposition.
#include "actors/exposition.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>

#include "actors/metrics.hpp"

using namespace journeyd;
using Type = ExpositionWriter::Type;

TEST_CASE("exposition: HELP text and label values are escaped, each family announced once") {
    ExpositionWriter out;
    out.family("journeyd_x", Type::gauge, R"(a \ b
"c")");
    out.sample(int64_t{-2}, {{"stage", R"(say "hi" \ and
go)"},
                             {"k", "plain"}});
    out.sample(uint64_t{3}, {{"stage", ""}});
    CHECK(out.text() == R"(# HELP journeyd_x a \\ b\n"c"
# TYPE journeyd_x gauge
journeyd_x{stage="say \"hi\" \\ and\ngo",k="plain"} -2
journeyd_x{stage=""} 3
)");
    CHECK_THROWS_AS(out.family("journeyd_x", Type::counter, "again"), std::logic_error);
    CHECK_THROWS_AS(ExpositionWriter().sample(uint64_t{1}), std::logic_error);
}

TEST_CASE("exposition: floats with the fewest digits, and without an exponent where short") {
    CHECK(ExpositionWriter::number(0.0001) == "0.0001");
    CHECK(ExpositionWriter::number(0.00025) == "0.00025");
    CHECK(ExpositionWriter::number(2.5) == "2.5");
    CHECK(ExpositionWriter::number(10) == "10");
    CHECK(ExpositionWriter::number(12.0008) == "12.0008");
    CHECK(ExpositionWriter::number(1e-300) == "1e-300");
    constexpr double kInfinity = std::numeric_limits<double>::infinity();
    CHECK(ExpositionWriter::number(kInfinity) == "+Inf");
    CHECK(ExpositionWriter::number(-kInfinity) == "-Inf");
    CHECK(ExpositionWriter::number(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("latency histogram: microsecond observations, buckets and sum in seconds") {
    using std::chrono::microseconds;
    LatencyHistogram h;
    h.observe(microseconds(300));  // 0.3 ms: le="0.0005", where whole ms made it 0 or 1 ms
    h.observe(microseconds(500));  // right at a bound: in that bound's bucket
    h.observe(std::chrono::seconds(12));
    h.observe(microseconds(-40));  // a wall clock stepped back: 0
    CHECK(h.count() == 4);
    ExpositionWriter out;
    h.render(out, "x_seconds", "Durations.");
    CHECK(out.text() == R"(# HELP x_seconds Durations.
# TYPE x_seconds histogram
x_seconds_bucket{le="0.0001"} 1
x_seconds_bucket{le="0.00025"} 1
x_seconds_bucket{le="0.0005"} 3
x_seconds_bucket{le="0.001"} 3
x_seconds_bucket{le="0.0025"} 3
x_seconds_bucket{le="0.005"} 3
x_seconds_bucket{le="0.01"} 3
x_seconds_bucket{le="0.025"} 3
x_seconds_bucket{le="0.05"} 3
x_seconds_bucket{le="0.1"} 3
x_seconds_bucket{le="0.25"} 3
x_seconds_bucket{le="0.5"} 3
x_seconds_bucket{le="1"} 3
x_seconds_bucket{le="2.5"} 3
x_seconds_bucket{le="5"} 3
x_seconds_bucket{le="10"} 3
x_seconds_bucket{le="+Inf"} 4
x_seconds_sum 12.0008
x_seconds_count 4
)");
}
