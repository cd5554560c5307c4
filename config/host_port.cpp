#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/config.hpp"

namespace journeyd {

std::pair<std::string, uint16_t> split_host_port(std::string_view host_port) {
    const size_t colon = host_port.rfind(':');
    std::string host(host_port.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    uint16_t port = 0;
    for (char c : host_port.substr(colon == std::string_view::npos ? host_port.size() : colon + 1))
        port = static_cast<uint16_t>(port * 10 + (c - '0'));
    return {host, port};
}

bool is_loopback_address(std::string_view host_port) {
    const std::string host = split_host_port(host_port).first;
    if (host == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

}  // namespace journeyd
