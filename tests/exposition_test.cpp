// The Prometheus text GET /metrics is written with, and its escaping.
#include "actors/exposition.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>

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
