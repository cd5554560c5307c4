// A stand-in for the contact-pressure coordinator: it records every ContactRequest it is
// sent, in arrival order, and decides nothing. It lets the journey's side of the contact
// path run and be tested before the real coordinator (caps, quiet hours, hierarchy,
// consent, rates) exists.
//
// Messages:
//   (contact_atom, ContactRequest)  recorded
//   (requests_atom)              -> std::vector<ContactRequest>, everything recorded so far
#pragma once

#include <caf/all.hpp>

namespace journeyd {

caf::behavior coordinator_stub(caf::event_based_actor* self);

}  // namespace journeyd
