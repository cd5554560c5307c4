#include "config/config_archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/config_version.hpp"

namespace journeyd {
namespace {

std::string failed(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

// Writes `text` to `path` and fsyncs it; "" or why not.
std::string write_synced(const std::string& path, std::string_view text) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return failed("cannot create", path);
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const std::string error = failed("cannot write", path);
            ::close(fd);
            return error;
        }
        written += static_cast<size_t>(n);
    }
    const std::string error = ::fsync(fd) == 0 ? "" : failed("cannot fsync", path);
    ::close(fd);
    return error;
}

// A renamed file's directory entry is durable only once its directory is synced.
std::string sync_directory(const std::string& directory) {
    const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return failed("cannot open", directory);
    const std::string error = ::fsync(fd) == 0 ? "" : failed("cannot fsync", directory);
    ::close(fd);
    return error;
}

}  // namespace

ConfigArchive::ConfigArchive(std::string data_dir) : directory_(std::move(data_dir) + "/configs") {}

bool ConfigArchive::is_version(std::string_view text) {
    if (text.size() != kConfigVersionLength) return false;
    for (char c : text)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string ConfigArchive::path_of(std::string_view version) const {
    return directory_ + "/" + std::string(version) + ".toml";
}

std::string ConfigArchive::keep(const std::string& version, std::string_view text) const {
    if (!is_version(version)) return "not a configuration version: " + version;
    const std::string path = path_of(version);
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return "";
    return replace_durably(path, text);
}

std::string ConfigArchive::replace_durably(const std::string& path, std::string_view text) const {
    std::error_code ec;
    std::filesystem::create_directories(directory_, ec);
    if (ec) return "cannot create " + directory_ + ": " + ec.message();
    const std::string temporary = path + ".tmp";
    if (std::string error = write_synced(temporary, text); !error.empty()) return error;
    if (::rename(temporary.c_str(), path.c_str()) != 0) return failed("cannot rename", temporary);
    return sync_directory(directory_);
}

std::string ConfigArchive::set_in_force(const ConfigInForce& in_force) const {
    if (!is_version(in_force.version) || !is_version(in_force.over))
        return "not configuration versions: " + in_force.version + " over " + in_force.over;
    return replace_durably(directory_ + "/in_force", in_force.version + " " + in_force.over + "\n");
}

std::optional<ConfigInForce> ConfigArchive::in_force() const {
    std::ifstream in(directory_ + "/in_force");
    ConfigInForce read;
    if (!(in >> read.version >> read.over)) return std::nullopt;
    if (!is_version(read.version) || !is_version(read.over)) return std::nullopt;
    return read;
}

std::optional<std::string> ConfigArchive::text_of(std::string_view version) const {
    if (!is_version(version)) return std::nullopt;
    std::ifstream in(path_of(version), std::ios::binary);
    if (!in) return std::nullopt;
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace journeyd
