#include "config/config.hpp"

namespace journeyd {

namespace {

// TOML rather than structs built in code, so the default is validated like any user file.
constexpr std::string_view kDefaultConfig =
    R"toml(# journeyd embedded default: a classifieds marketplace (docs/configuration.md)

[node]
name     = "node-a"
data_dir = "./journeyd-data"
ingest   = "127.0.0.1:7400"
admin    = "127.0.0.1:7401"

[admin]
token = ""                      # empty: no auth (bind to loopback then)

[delivery]
sink = "file:deliveries.ndjson"

[journey]
stages        = ["new", "exploring", "active", "loyal", "dormant"]
initial_stage = "new"           # registered: the first event of any type

# Checked in file order; the first that matches wins.
[[journey.transition]]          # browsing listings
from = ["new"]
on   = ["search", "view", "favorite"]
to   = "exploring"

[[journey.transition]]          # a dormant user browsing again
from = ["dormant"]
on   = ["search", "view"]
to   = "exploring"

[[journey.transition]]          # placed an ad or messaged a seller
from = ["new", "exploring"]
on   = ["ad_placed", "message_sent"]
to   = "active"

[[journey.transition]]
from = ["dormant"]
on   = ["ad_placed"]
to   = "active"

[[journey.transition]]          # a regular seller or buyer
from   = ["active"]
on     = ["ad_placed", "sale"]
count  = 3
within = "30d"
to     = "loyal"

[[journey.timer]]               # no event for 30 days
name  = "lapse"
in    = ["exploring", "active", "loyal"]
after = "30d"
to    = "dormant"

# Drivers of advancement (GET /journey/drivers): which events customers do in `from` before
# moving on to `to` within `window`, and which they do in stays that do not.
[[journey.driver]]              # registered to browsing: within a day
from   = "new"
to     = "exploring"
window = "1d"

[[journey.driver]]              # browsing to the first ad or message: within a week
from   = "exploring"
to     = "active"
window = "7d"

[[journey.driver]]              # active to regular: the 30d of the transition's own count
from   = "active"
to     = "loyal"
window = "30d"

# Segments: evaluated after every event and timer; counted durably (GET /segments).
[[segment]]
name = "engaged_browsers"
when = [ { stage = ["exploring"] }, { event = "view", min = 3, within = "7d" } ]

[[segment]]
name = "sellers_without_sale"
when = [ { event = "ad_placed", min = 1, within = "90d" }, { event = "sale", max = 0, within = "30d" } ]

[[segment]]
name = "unanswered_buyers"
when = [ { event = "message_received", min = 1, within = "2d" },
         { event = "message_sent", max = 0, within = "2d" } ]

# Next best actions: a program with action = "best" sends the eligible action with the best
# propensity x value x weight that the pressure rules allow; propensities are learned from
# each action's goal.
[decisioning]
explore = "thompson"

[[action]]
name     = "sell_first_item"
channel  = "push"
priority = "promotional"
template = "sell-first-1"
value    = 5
when     = [ { stage = ["exploring", "active"] }, { event = "ad_placed", max = 0, within = "90d" } ]
goal     = { event = "ad_placed", within = "3d" }
cooldown = "7d"

[[action]]
name     = "complete_profile"
channel  = "email"
priority = "lifecycle"
template = "complete-profile-1"
when     = [ { attr = "verified", exists = false } ]
goal     = { event = "profile", within = "7d" }
cooldown = "14d"

[[action]]
name     = "answer_your_buyer"
channel  = "push"
priority = "transactional"
template = "answer-buyer-1"
value    = 3
when     = [ { segment = "unanswered_buyers" } ]
goal     = { event = "message_sent", within = "1d" }
cooldown = "1d"

[[action]]
name     = "feature_your_listing"
channel  = "email"
priority = "promotional"
template = "feature-listing-1"
value    = 8
weight   = 0.5
holdout  = 0.10                 # its control group: does featuring sell?
when     = [ { segment = "sellers_without_sale" } ]
goal     = { event = "listing_featured", within = "7d" }
cooldown = "14d"

[[action]]
name     = "reactivation_offer"
channel  = "email"
priority = "promotional"
template = "reactivation-1"
value    = 2
when     = [ { stage = ["dormant"] } ]
goal     = { event = "view", within = "7d" }
cooldown = "30d"

# Control groups: 2% of customers hear from no program that is not exempt, so that every
# program's goal is measured against customers it would have contacted (GET /programs).
[experiment]
global_holdout = 0.02
salt           = "2026-12"

# Each customer's own day: the hours they open the app and browse, in their profile's tz,
# recent weeks counting most (GET /customers/{id} shows them as "rhythm"). A program with
# send_at = "best_hour" waits for that hour (winback below); a customer with fewer than 3
# events' worth is sent by all customers' hours together.
[rhythm]
engagement = ["app_open", "search", "view"]
half_life  = "14d"

# A visitor browses anonymously, then signs in: an `identify` event ({"as": "ann"}) merges the
# device's id into the customer (profile, stage, contacts, event ids); a shared device cannot
# merge more than this many ids into one customer.
[identity]
max_aliases = 50

# Listed in arbitration order: on a tie of class, the program listed first wins.
[[program]]
name     = "welcome"
on_enter = "new"
channel  = "email"
priority = "lifecycle"
template = "welcome-1"
goal     = { event = "search", within = "3d" }     # did it bring them to browse?

[[program]]
name     = "first_listing_nudge"
on_enter = "exploring"
delay    = "1d"                 # dropped if they left exploring meanwhile
channel  = "push"
priority = "promotional"
template = "first-listing-1"
goal     = { event = "ad_placed", within = "7d" }
holdout  = 0.10

[[program]]
name     = "seller_tips"
on_enter = "active"
channel  = "email"
priority = "lifecycle"
template = "seller-tips-1"
goal     = { event = "sale", within = "14d" }

[[program]]
name     = "loyalty_thanks"
on_enter = "loyal"
channel  = "in_app"
priority = "lifecycle"
template = "loyalty-thanks-1"
goal     = { event = "ad_placed", within = "30d" }

[[program]]
name     = "winback"
on_enter = "dormant"
channel  = "email"
priority = "promotional"
template = "winback-1"
goal     = { event = "app_open", within = "7d" }
holdout  = 0.10                 # its own control group, besides the global one
send_at     = "best_hour"       # at the hour they used to be around, if it comes within
send_within = "24h"             # a day (never in quiet hours); else at once

[[program]]
name     = "password_reset"
on_event = "password_reset"
channel  = "email"
priority = "service"
template = "password-reset-1"

[[program]]
name     = "message_received"
on_event = "message_received"
channel  = "push"
priority = "transactional"
template = "message-received-1"

[[program]]
name     = "next_best_action"
on_event = "app_open"
action   = "best"               # among all [[action]]s

[[program]]
name             = "browsing_tips"
on_segment_enter = "engaged_browsers"
channel          = "in_app"
priority         = "promotional"
template         = "browsing-tips-1"
goal             = { event = "favorite", within = "2d" }

[pressure]
hierarchy          = ["service", "transactional", "lifecycle", "promotional"]  # highest first
exempt             = ["service"]  # bypass caps and quiet hours (never consent)
arbitration_window = "2s"
quiet_hours        = { start = "22:00", end = "08:00" }  # customer's local time

[[pressure.cap]]
channel = "email"
max     = 2
per     = "7d"

[[pressure.cap]]
channel = "push"
max     = 1
per     = "1d"

[[pressure.cap]]
channel = "*"                   # all channels together
max     = 4
per     = "7d"

[pressure.rate]                 # global sends per second per channel
email  = 1000
push   = 500
sms    = 100
in_app = 5000
)toml";

}  // namespace

std::string_view default_config_text() {
    return kDefaultConfig;
}

ConfigResult load_default_config() {
    return load_config_text(default_config_text(), "<default>");
}

}  // namespace journeyd
