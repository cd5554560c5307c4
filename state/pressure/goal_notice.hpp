// What the coordinator tells a customer once the send of a next best action is durable: which
// action, under which decision, when, so that the customer opens the action's goal window.
//
// Kept in the store's notices table from the commit of the send until the commit of the
// customer's record that opens the window (the same transaction erases it), so after a crash
// at any point the window is either open or still announced, and the coordinator announces
// what it finds there again at start. Plain data.
#pragma once

#include <string>

#include "state/duration.hpp"
#include "state/journey/journey_model.hpp"

namespace journeyd {

struct GoalNotice {
    std::string decision_id;
    std::string customer;
    ActionId action = 0;
    TimeMs sent_at = 0;
};

}  // namespace journeyd
