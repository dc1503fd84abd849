#pragma once
// What other modules may ask of the roster module (privacy lists match on groups and
// subscription, presence broadcasts follow subscriptions). Implemented in roster/.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "jid/jid.hpp"

namespace starling {
class server;
}

namespace starling::roster {

// RFC 6121 §2.1.2.5 and Appendix A: the subscription state of a roster item.
enum class subscription { none, to, from, both };

struct item {
  jid contact;                      // bare JID
  std::string name;                 // may be empty
  subscription sub = subscription::none;
  bool ask_out = false;             // pending-out: we asked to see their presence (ask='subscribe')
  bool pending_in = false;          // pending-in: they asked to see ours, not yet answered
  bool approved = false;            // pre-approval (RFC 6121 §3.4)
  std::vector<std::string> groups;
};

std::string_view to_string(subscription s);

// The owner's roster item for `contact` (both bare), if any. Safe from any session thread.
boost::asio::awaitable<std::optional<item>> get_item(server& srv, const jid& owner, const jid& contact);
// The whole roster of `owner`.
boost::asio::awaitable<std::vector<item>> get_roster(server& srv, const jid& owner);
// Bare JIDs of the local accounts whose roster has `contact` with 'from' or 'both' (they let
// `contact` see their presence, RFC 6121 §4.3.2), read from the store at the time of the call.
boost::asio::awaitable<std::vector<std::string>> subscribers_of(server& srv, const jid& contact);
// The contacts of `owner` with a subscription (not 'none') and its state, for presence
// broadcasts and probes (RFC 6121 §4.2.2, §4.5.2); read from the store at the time of the call.
struct contact_sub {
  std::string contact;  // bare JID, normalised
  subscription sub = subscription::none;
};
boost::asio::awaitable<std::vector<contact_sub>> presence_contacts(server& srv, const jid& owner);

}  // namespace starling::roster
