// journeyd's start line: the log line saying that journeyd serves, and on which ports.
//
// Contract: journeyd logs format_start_line(...) once, at info level, after both ports are
// bound. A program that starts journeyd with port 0 (tests/support/daemon_process.hpp,
// journey-bench) learns from bound_ports_in_log which ports it got; the writer and the reader
// live here together so that they cannot drift apart. The line reads
//   journeyd started node=NAME ingest=HOST:PORT admin=HOST:PORT data_dir=DIR
//   stored_customers=N sink=SPEC stages=N programs=N shards=N config_version=VERSION
// (one line), with an IPv6 host bracketed: "ingest=[::1]:40123". Its fields read the same in a
// text and in a --log-format json log. New fields go at the end, after those the readers look
// for (the ports, up to data_dir=).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace journeyd {

struct StartLine {
    std::string node;
    std::string ingest_host;   // as configured; an IPv6 host without brackets
    uint16_t ingest_port = 0;  // as bound: the port picked when the configuration said 0
    std::string admin_host;
    uint16_t admin_port = 0;
    std::string data_dir;
    uint64_t stored_customers = 0;
    std::string sink;
    size_t stages = 0;
    size_t programs = 0;
    size_t shards = 0;
    std::string config_version;  // config/config_version.hpp
};

std::string format_start_line(const StartLine& line);

struct BoundPorts {
    uint16_t ingest = 0;
    uint16_t admin = 0;
};

// The ports of the last complete (newline-ended) start line in `log`, text or json as journeyd
// wrote it; nullopt while there is none. Also reads the unbracketed IPv6 hosts that journeyd
// printed before it bracketed them ("ingest=::1:40123").
std::optional<BoundPorts> bound_ports_in_log(std::string_view log);

}  // namespace journeyd
