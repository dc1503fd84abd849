#pragma once
// What other modules may ask of the presence module. Implemented in presence/presence.cpp.
#include "jid/jid.hpp"

namespace starling {
class server;
}

namespace starling::modules {

// Sends the current presence of every available resource of `user` (bare) to `to`, routed
// like any presence from the user (XEP-0191 §3.4: presence again after an unblock). Safe from
// any thread; does nothing when the presence module is not loaded.
void send_current_presence(const jid& user, const jid& to);

}  // namespace starling::modules
