#include "config/config.hpp"

namespace journeyd {

std::string admin_exposure_error(std::string_view admin_host_port, std::string_view token) {
    if (!token.empty() || is_loopback_address(admin_host_port)) return {};
    return "admin address \"" + std::string(admin_host_port) +
           "\" is reachable from other machines but [admin] token is empty: anyone could read "
           "every customer and post events; set [admin] token, or bind the admin port to a "
           "loopback address such as 127.0.0.1";
}

}  // namespace journeyd
