#include "state/journey/profile.hpp"

namespace journeyd {

void Profile::merge(const nlohmann::json& attrs) {
    if (!attrs.is_object() || attrs.empty()) return;
    attrs_.merge_patch(attrs);
}

const nlohmann::json& Profile::attrs() const {
    static const nlohmann::json kNone = nlohmann::json::object();
    return attrs_.is_null() ? kNone : attrs_;
}

std::string Profile::time_zone() const {
    auto it = attrs_.find("tz");
    if (it == attrs_.end() || !it->is_string()) return "UTC";
    return it->get<std::string>();
}

bool Profile::consents_to(std::string_view channel) const {
    auto consent = attrs_.find("consent");
    if (consent == attrs_.end() || !consent->is_object()) return true;
    auto given = consent->find(std::string(channel));
    return given == consent->end() || !given->is_boolean() || given->get<bool>();
}

}  // namespace journeyd

namespace journeyd {

std::vector<std::string> Profile::refused_channels() const {
    std::vector<std::string> refused;
    auto consent = attrs_.find("consent");
    if (consent == attrs_.end() || !consent->is_object()) return refused;
    for (auto it = consent->begin(); it != consent->end(); ++it)
        if (it->is_boolean() && !it->get<bool>()) refused.push_back(it.key());
    return refused;
}

}  // namespace journeyd
