// journeyd's start line: the text it logs, which operators and log searches know, and the
// ports the programs that start journeyd on port 0 read back from a log of either format.
#include <catch2/catch.hpp>
#include <string>

#include "runtime/daemon/start_line.hpp"

using namespace journeyd;

namespace {

StartLine example(const std::string& ingest_host, const std::string& admin_host) {
    StartLine line;
    line.node = "n1";
    line.ingest_host = ingest_host;
    line.ingest_port = 40123;
    line.admin_host = admin_host;
    line.admin_port = 40124;
    line.data_dir = "/var/lib/journeyd";
    line.stored_customers = 7;
    line.sink = "file:deliveries.ndjson";
    line.stages = 3;
    line.programs = 2;
    line.shards = 8;
    line.config_version = "0123456789ab";
    return line;
}

}  // namespace

TEST_CASE("start line: the text journeyd logs") {
    CHECK(format_start_line(example("127.0.0.1", "localhost")) ==
          "journeyd started node=n1 ingest=127.0.0.1:40123 admin=localhost:40124 "
          "data_dir=/var/lib/journeyd stored_customers=7 sink=file:deliveries.ndjson stages=3 "
          "programs=2 shards=8 config_version=0123456789ab");
    // Bare, "::1:40123" could be host ::1 port 40123 or host ::1:4 and no port.
    CHECK(format_start_line(example("::1", "fe80::1"))
              .find(" ingest=[::1]:40123 admin=[fe80::1]:40124 ") != std::string::npos);
}

TEST_CASE("start line: the ports read back from a text or a json log") {
    const std::string text =
        "[2026-11-30 08:09:43.816] [info] " + format_start_line(example("::1", "127.0.0.1")) + "\n";
    const std::string json = R"({"ts":"2026-11-30T08:09:43.816Z","level":"info","msg":")" +
                             format_start_line(example("127.0.0.1", "::1")) + "\"}\n";
    for (const std::string& log : {text, json}) {
        INFO(log);
        const auto ports = bound_ports_in_log(log);
        REQUIRE(ports);
        CHECK(ports->ingest == 40123);
        CHECK(ports->admin == 40124);
    }
}

TEST_CASE("start line: only a whole line counts, and the last one") {
    StartLine first = example("127.0.0.1", "127.0.0.1");
    StartLine second = first;
    second.ingest_port = 50001;
    second.admin_port = 50002;
    const std::string earlier = "[info] configuration source=journeyd.toml\n[info] " +
                                format_start_line(first) + "\n[info] journeyd stopped\n";

    CHECK_FALSE(bound_ports_in_log(""));
    CHECK_FALSE(bound_ports_in_log("[info] configuration source=journeyd.toml\n"));
    const std::string whole = format_start_line(second);
    // Being written: a port number cut short would be a wrong port.
    CHECK_FALSE(bound_ports_in_log(whole));
    CHECK(bound_ports_in_log(earlier + whole)->ingest == 40123);
    const auto last = bound_ports_in_log(earlier + whole + "\n");
    REQUIRE(last);
    CHECK(last->ingest == 50001);
    CHECK(last->admin == 50002);
}

TEST_CASE("start line: hosts without brackets, and a node name that looks like a field") {
    // As journeyd printed IPv6 hosts before it bracketed them.
    const auto unbracketed = bound_ports_in_log(
        "journeyd started node=n1 ingest=::1:40123 admin=::1:40124 data_dir=d "
        "stored_customers=0 sink=s stages=1 programs=0 shards=4\n");
    REQUIRE(unbracketed);
    CHECK(unbracketed->ingest == 40123);
    CHECK(unbracketed->admin == 40124);

    StartLine odd = example("127.0.0.1", "127.0.0.1");
    odd.node = "a ingest=1:2 b";
    const auto ports = bound_ports_in_log(format_start_line(odd) + "\n");
    REQUIRE(ports);
    CHECK(ports->ingest == 40123);
    CHECK(ports->admin == 40124);
}
