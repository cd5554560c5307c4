#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "config/config.hpp"

namespace journeyd {

std::optional<Address> parse_address(std::string_view text) {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (!bracketed && host.find_first_of(":[] \t") != std::string_view::npos) return std::nullopt;
    if (port.empty() || port.size() > 5) return std::nullopt;
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    const int number = std::stoi(std::string(port));
    if (number > 65535) return std::nullopt;
    if (bracketed) host = host.substr(1, host.size() - 2);
    return Address{std::string(host), static_cast<uint16_t>(number)};
}

bool is_loopback_address(std::string_view host_port) {
    const std::optional<Address> address = parse_address(host_port);
    if (!address) return false;
    const std::string& host = address->host;
    if (host == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

}  // namespace journeyd
