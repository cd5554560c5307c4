// Opens an LmdbStore with default options for a test, or fails the test naming why.
//
// Thread-safety: the test's thread.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "state/store/lmdb_store.hpp"

namespace journeyd::test {

inline std::unique_ptr<LmdbStore> open_lmdb_store(const std::string& directory) {
    std::string error;
    auto store = LmdbStore::open(directory, LmdbOptions{}, error);
    INFO(error);
    REQUIRE(store != nullptr);
    return store;
}

}  // namespace journeyd::test
