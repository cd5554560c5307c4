#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>

#include "state/sharded_hash_map.hpp"

namespace journeyd {

TEST_CASE("ShardedHashMap behaves like a map of its keys") {
    ShardedHashMap<int> map;
    std::map<std::string, int> model;
    std::mt19937 rng(7);
    for (int step = 0; step < 20000; ++step) {
        const std::string key = "c" + std::to_string(rng() % 3000);
        switch (rng() % 3) {
            case 0:
                map[key] += step;
                model[key] += step;
                break;
            case 1:
                CHECK(map.erase(key) == model.erase(key));
                break;
            default: {
                const int* found = map.find(key);
                auto expected = model.find(key);
                REQUIRE((found != nullptr) == (expected != model.end()));
                if (found) CHECK(*found == expected->second);
                CHECK(map.contains(key) == (found != nullptr));
            }
        }
    }
    CHECK(map.size() == model.size());
}

TEST_CASE("ShardedHashMap keeps references to values while it grows") {
    ShardedHashMap<std::string> map;
    std::string& first = map["first"];
    first = "kept";
    for (int i = 0; i < 100000; ++i) map["c" + std::to_string(i)] = "x";
    CHECK(&map["first"] == &first);
    CHECK(first == "kept");
    CHECK(map.size() == 100001);
}

}  // namespace journeyd
