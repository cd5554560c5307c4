// A customer's profile: the attribute map that `profile` events build up.
//
// merge() applies an event's attrs as a JSON merge patch (RFC 7386): a key replaces the
// stored value, a null deletes it, and nested maps merge key by key. That is what an
// integrator expects of the reserved `consent` map: `{"consent": {"sms": false}}` revokes
// SMS without forgetting the e-mail consent given earlier.
//
// Reserved attributes: `tz` (IANA zone name; UTC when absent) and `consent` (channel →
// bool; a channel not in the map is consented).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace journeyd {

class Profile {
  public:
    void merge(const nlohmann::json& attrs);

    // Always an object (an empty one before the first attribute).
    const nlohmann::json& attrs() const;
    std::string time_zone() const;
    bool consents_to(std::string_view channel) const;
    std::vector<std::string> refused_channels() const;  // consent[channel] == false

    bool operator==(const Profile& other) const { return attrs() == other.attrs(); }

  private:
    // null until the first attribute: most customers never get one, and an empty object
    // allocates its map (48 bytes a customer).
    nlohmann::json attrs_;
};

}  // namespace journeyd
