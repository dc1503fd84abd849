#pragma once
// What other modules (PEP's +notify filtering, XEP-0163 §4.3.3) may ask of the caps module.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "jid/jid.hpp"

namespace starling {
class server;
}

namespace starling::modules::caps {

/// The disco#info features of the local client at `full`, learnt through its XEP-0115
/// presence and verified (XEP-0115 §5.4), or nullopt while unknown (no caps in its presence,
/// query pending or failed, verification failed, or the resource is offline). Any thread.
std::optional<std::vector<std::string>> features_of(server& srv, const jid& full);

/// Called when the features of an online local client become known or change: its available
/// presence announced a verification string that is (now) resolved and differs from what it
/// announced before (a new session, a changed ver, or the first presence after unavailable).
/// PEP sends the last published items for new +notify interest here (XEP-0163 §4.3.4,
/// XEP-0060 §12.1 trigger 3). Runs on the client's session thread, outside caps' locks.
using features_listener = std::function<void(const jid& full, const std::vector<std::string>& features)>;
/// Register at start-up (any module order).
void add_features_listener(server& srv, features_listener fn);

}  // namespace starling::modules::caps
