#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/config.hpp"

namespace journeyd {

bool is_loopback_address(std::string_view host_port) {
    std::string host(host_port.substr(0, host_port.rfind(':')));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

std::string admin_exposure_error(std::string_view admin_host_port, std::string_view token) {
    if (!token.empty() || is_loopback_address(admin_host_port)) return {};
    return "admin address \"" + std::string(admin_host_port) +
           "\" is reachable from other machines but [admin] token is empty: anyone could read "
           "every customer and post events; set [admin] token, or bind the admin port to a "
           "loopback address such as 127.0.0.1";
}

}  // namespace journeyd
