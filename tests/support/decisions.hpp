// Decisions for tests of the containers that hold them: only the customer and the id are set.
#pragma once

#include <string>
#include <vector>

#include "state/pressure/pressure_ledger.hpp"

namespace journeyd::test {

inline Decision decision_of(const std::string& customer, const std::string& id) {
    Decision d;
    d.customer = customer;
    d.decision_id = id;
    return d;
}

inline std::vector<std::string> decision_ids(const std::vector<Decision>& decisions) {
    std::vector<std::string> ids;
    for (const Decision& d : decisions) ids.push_back(d.decision_id);
    return ids;
}

}  // namespace journeyd::test
