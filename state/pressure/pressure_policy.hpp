// The contact-pressure rules of `[pressure]`, validated and resolved: what the coordinator
// applies to every program request (caps, quiet hours, hierarchy, exemptions, rate budgets).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state/duration.hpp"
#include "state/journey/journey_model.hpp"

namespace journeyd {

// Local wall-clock window in minutes after midnight; start > end wraps past midnight
// (22:00–08:00 is {1320, 480}).
struct QuietHours {
    int start_minute = 0;
    int end_minute = 0;
};

// `[[pressure.cap]]`: at most `max` contacts on `channel` ("*" = all) per rolling `per`.
struct CapRule {
    std::string channel;
    uint32_t max = 0;
    DurationMs per = 0;
};

struct PressurePolicy {
    std::vector<std::string> hierarchy;  // highest class first
    std::vector<bool> exempt;            // per class of `hierarchy`
    DurationMs arbitration_window = 0;
    std::optional<QuietHours> quiet_hours;
    std::vector<CapRule> caps;
    std::map<std::string, double> rate;  // channel -> sends per second, all customers

    std::optional<PriorityClass> priority_class(const std::string& name) const {
        for (size_t i = 0; i < hierarchy.size(); ++i)
            if (hierarchy[i] == name) return static_cast<PriorityClass>(i);
        return std::nullopt;
    }
};

}  // namespace journeyd
