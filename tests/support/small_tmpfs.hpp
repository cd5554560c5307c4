// A tmpfs of a few hundred KiB or MiB mounted on a fresh directory for one test, so that the
// test meets a really full filesystem (write(2) failing with ENOSPC, part of a write taken),
// unmounted when it goes out of scope, also when a check failed. Declare it after the TempDir
// that holds it and before whatever keeps files open in it.
//
// Mounting needs root (CAP_SYS_ADMIN), and a container may refuse it even then: mounted() is
// false and why_not() says why; the test then WARNs that and returns (skip_message()).
//
// Thread-safety: none needed; one test's object.
#pragma once

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace journeyd::test {

class SmallTmpfs {
  public:
    SmallTmpfs(std::string directory, uint64_t bytes) : directory_(std::move(directory)) {
        REQUIRE(::mkdir(directory_.c_str(), 0700) == 0);
        if (::geteuid() != 0) {
            why_not_ = "not running as root, so no tmpfs can be mounted";
            return;
        }
        const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
        if (::mount("tmpfs", directory_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) !=
            0) {
            why_not_ = "mount -t tmpfs -o " + options + " on " + directory_ +
                       " failed: " + std::strerror(errno);
            return;
        }
        mounted_ = true;
    }
    ~SmallTmpfs() {
        // Lazily if something still holds a file open there (a check failed before the store
        // that holds it was closed): the mount is gone from the tree either way.
        if (mounted_ && ::umount2(directory_.c_str(), 0) != 0)
            ::umount2(directory_.c_str(), MNT_DETACH);
    }
    SmallTmpfs(const SmallTmpfs&) = delete;
    SmallTmpfs& operator=(const SmallTmpfs&) = delete;

    bool mounted() const { return mounted_; }
    std::string skip_message() const {
        return "skipped, needs a real full filesystem: " + why_not_;
    }
    const std::string& path() const { return directory_; }
    std::string sub(const std::string& name) const { return directory_ + "/" + name; }

    // A file of `bytes` zeros: written before the test fills the rest, deleted to give space
    // back.
    void write_filler(const std::string& name, uint64_t bytes) const {
        std::ofstream out(sub(name), std::ios::binary);
        const std::string zeros(bytes, '\0');
        out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
        out.close();
        REQUIRE(out.good());
    }

  private:
    std::string directory_;
    std::string why_not_;
    bool mounted_ = false;
};

}  // namespace journeyd::test
