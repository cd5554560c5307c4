#include "config/config_version.hpp"

#include <openssl/sha.h>

namespace journeyd {

std::string config_version(std::string_view toml_text) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(toml_text.data()), toml_text.size(), digest);
    constexpr char kHexDigits[] = "0123456789abcdef";
    std::string version;
    for (size_t i = 0; version.size() < kConfigVersionLength; ++i) {
        version += kHexDigits[digest[i] >> 4];
        version += kHexDigits[digest[i] & 0xF];
    }
    return version;
}

std::optional<std::string> read_config_source(const std::string& source, ConfigError& error) {
    if (source == kEmbeddedConfigSource) return std::string(default_config_text());
    return read_config_file(source, error);
}

}  // namespace journeyd
