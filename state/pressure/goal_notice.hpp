// What the coordinator tells a customer once a decision with a goal is durable, so that the
// customer opens its goal windows: the action's, when a next best action was sent, and the
// program's, when the program has a goal and the request was sent (the treated arm) or held out
// when it would have been sent (the control arm).
//
// Kept in the store's notices table from the commit of the decision until the commit of the
// customer's record that opens the windows (the same transaction erases it), so after a crash
// at any point the windows are either open or still announced, and the coordinator announces
// what it finds there again at start. Plain data.
#pragma once

#include <string>

#include "state/duration.hpp"
#include "state/journey/journey_model.hpp"

namespace journeyd {

struct GoalNotice {
    std::string decision_id;
    std::string customer;
    ActionId action = kNoAction;  // the action sent; kNoAction: none (or held out)
    TimeMs sent_at = 0;           // or when it would have been sent
    ProgramId program = 0;
    // Held out when it would have been sent: with an action, the customer was held out of that
    // action and only its control window opens; without, the program's control window.
    bool control = false;
};

}  // namespace journeyd
