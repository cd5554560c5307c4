#include "state/journey/profile.hpp"

#include <catch2/catch.hpp>

using journeyd::Profile;
using nlohmann::json;

TEST_CASE("an empty profile is in UTC and consents to every channel") {
    Profile p;
    CHECK(p.time_zone() == "UTC");
    CHECK(p.consents_to("email"));
}

TEST_CASE("profile merge replaces values, merges nested maps and deletes on null") {
    Profile p;
    p.merge(
        {{"name", "Ann"}, {"consent", {{"email", true}, {"push", false}}}, {"tz", "Asia/Tokyo"}});
    p.merge({{"name", "Anna"}, {"consent", {{"email", false}}}, {"tz", nullptr}});
    CHECK(p.attrs()["name"] == "Anna");
    CHECK_FALSE(p.consents_to("email"));
    CHECK_FALSE(p.consents_to("push"));
    CHECK(p.consents_to("sms"));
    CHECK(p.time_zone() == "UTC");
    CHECK_FALSE(p.attrs().contains("tz"));
}

TEST_CASE("profile merge ignores what is not a map") {
    Profile p;
    p.merge({{"a", 1}});
    p.merge(json::array({1, 2}));
    p.merge(nullptr);
    CHECK(p.attrs() == json{{"a", 1}});
}
