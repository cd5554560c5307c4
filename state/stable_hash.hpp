// A hash that is the same in every build and on every machine: its values are persisted
// (event-id fingerprints, decision ids) and used to route customers, so std::hash, whose
// result is unspecified, will not do. FNV-1a 64: simple, fast enough for ids of ≤128 bytes.
#pragma once

#include <cstdint>
#include <string_view>

namespace journeyd {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;

constexpr uint64_t stable_hash(std::string_view bytes, uint64_t seed = kFnvOffset) {
    uint64_t h = seed;
    for (char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace journeyd
