#pragma once
// What other modules (PEP's +notify filtering, XEP-0163 §4.3.3) may ask of the caps module.
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

}  // namespace starling::modules::caps
