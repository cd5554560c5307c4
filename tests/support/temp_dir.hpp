// A fresh directory under /tmp for one test, removed with everything in it at the end.
//
// Thread-safety: none needed; one test's object.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace journeyd::test {

class TempDir {
  public:
    // `prefix` names the test in /tmp, e.g. "lmdb": /tmp/journeyd-lmdb-XXXXXX.
    explicit TempDir(const std::string& prefix) {
        std::string pattern = "/tmp/journeyd-" + prefix + "-XXXXXX";
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string sub(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

}  // namespace journeyd::test
