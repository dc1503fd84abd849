#pragma once
// What other modules may ask of the last-activity module (XEP-0012): when an account's last
// session ended and the status of its last unavailable presence. The presence module answers
// probes for offline users with it (RFC 6121 §4.3.2). Implemented in last/last.cpp.
#include <boost/asio/awaitable.hpp>
#include <optional>

#include "jid/jid.hpp"
#include "modules/last/last_store.hpp"

namespace starling::modules {

// The last logout record of `bare`, or nullopt (never recorded, module not loaded, or error).
boost::asio::awaitable<std::optional<last_record>> last_logout(jid bare);
// last_logout() of several accounts in one read: the records found, by bare JID.
boost::asio::awaitable<std::unordered_map<std::string, last_record>> last_logouts(std::vector<jid> bare);

}  // namespace starling::modules
