// A string-keyed hash map that never rehashes all of its entries at once: the keys are split
// by hash over kShards independent std::unordered_maps, and growing rehashes only the shard
// that grew, 1/kShards of the entries.
//
// Why: the coordinator keeps an entry per customer it decided for. A std::unordered_map of a
// million customers rehashes every node when it doubles, and that stalled the coordinator's
// thread for up to 52 ms in one insertion, with every contact request behind it waiting
// (docs/performance.md). Here one insertion costs at most a rehash of ~1/1024 of the map.
//
// References to values stay valid until their key is erased, as in std::unordered_map.
// Not thread-safe, like the standard containers.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <unordered_map>

namespace journeyd {

template <class Value>
class ShardedHashMap {
  public:
    static constexpr size_t kShards = 1024;

    Value& operator[](const std::string& key) { return shard_of(key)[key]; }

    Value* find(const std::string& key) {
        auto& shard = shard_of(key);
        auto it = shard.find(key);
        return it == shard.end() ? nullptr : &it->second;
    }
    const Value* find(const std::string& key) const {
        const auto& shard = shard_of(key);
        auto it = shard.find(key);
        return it == shard.end() ? nullptr : &it->second;
    }
    bool contains(const std::string& key) const { return find(key) != nullptr; }

    size_t erase(const std::string& key) { return shard_of(key).erase(key); }

    size_t size() const {
        size_t entries = 0;
        for (const auto& shard : shards_) entries += shard.size();
        return entries;
    }

  private:
    using Shard = std::unordered_map<std::string, Value>;

    // The shard comes from the hash's top bits; each shard's buckets use it modulo a prime, so
    // the keys of one shard still spread over all of its buckets.
    static size_t shard_index(const std::string& key) {
        return (std::hash<std::string>{}(key) >> 32) % kShards;
    }
    Shard& shard_of(const std::string& key) { return shards_[shard_index(key)]; }
    const Shard& shard_of(const std::string& key) const { return shards_[shard_index(key)]; }

    std::array<Shard, kShards> shards_;
};

}  // namespace journeyd
