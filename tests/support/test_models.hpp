// Journey models for tests, written in the configuration language so that a test reads like
// the file an operator would write.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "config/config.hpp"

namespace journeyd::test {

inline Config config_from(const std::string& toml) {
    ConfigResult result = load_config_text(toml, "<test>");
    for (const ConfigError& e : result.errors) UNSCOPED_INFO(e.to_string());
    REQUIRE(result.errors.empty());
    return *result.config;
}

// Two stages and no programs: for tests of the ports, where the journey only has to accept
// events. Sections of the test's own follow it.
inline const char* kTwoStageJourney = R"(
[journey]
stages = ["new", "exploring"]
initial_stage = "new"

[[journey.transition]]
on = "search"
to = "exploring"

[pressure]
hierarchy = ["lifecycle"]
arbitration_window = "0s"
)";

// The marketplace journey with a small set of programs; durations as in production, since
// engine tests drive time by hand.
inline const char* kTestJourney = R"(
[journey]
stages = ["new", "exploring", "active", "loyal", "dormant"]
initial_stage = "new"

[[journey.transition]]
from = ["new", "dormant"]
on = ["search", "view"]
to = "exploring"

[[journey.transition]]
from = ["new", "exploring", "dormant"]
on = "ad_placed"
to = "active"

[[journey.transition]]
from = ["active"]
on = ["ad_placed", "sale"]
count = 3
within = "30d"
to = "loyal"

[[journey.transition]]
on = "search"
to = "exploring"

[[journey.timer]]
name = "lapse"
in = ["exploring", "active", "loyal"]
after = "30d"
to = "dormant"

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "welcome-1"

[[program]]
name = "nudge"
on_enter = "exploring"
delay = "1d"
channel = "push"
priority = "promotional"
template = "nudge-1"

[[program]]
name = "winback"
on_enter = "dormant"
channel = "email"
priority = "promotional"
template = "winback-1"

[[program]]
name = "reset"
on_event = "password_reset"
channel = "email"
priority = "service"
template = "reset-1"

[pressure]
hierarchy = ["service", "lifecycle", "promotional"]
)";

}  // namespace journeyd::test
