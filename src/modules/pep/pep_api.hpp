#pragma once
// What other modules may ask of the PEP service (XEP-0163): publishing on behalf of an account
// (XEP-0398 vCard -> avatar, XEP-0411 private bookmarks -> PEP bookmarks) and hearing about
// what an account published or retracted (the reverse conversions). Implemented in pep/.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "jid/jid.hpp"
#include "xml/element.hpp"

namespace starling {
class server;
}

namespace starling::modules::pep {

// A change of an account's PEP node made by the account (or by the server for it).
struct node_change {
  jid owner;                 // the account (bare)
  std::string node;
  enum class kind { publish, retract, purge, deleted } what = kind::publish;
  std::string item_id;                 // publish, retract
  std::optional<xml::element> payload;  // publish
  bool by_server = false;              // made through publish()/retract() below (a conversion)
};
using change_listener = std::function<void(server&, const node_change&)>;
// Register at start-up; listeners run on the PEP module's thread after the change committed.
void add_change_listener(server& srv, change_listener fn);

// Publishes `payload` as item `item_id` on the account's node, creating the node with the
// given publish-options form (XEP-0060 §7.1.5) if needed, and notifies as a client publish
// would. `options`: (var, value) pairs. Returns false on failure (e.g. precondition not met).
boost::asio::awaitable<bool> publish(server& srv, jid owner, std::string node, std::string item_id,
                                     xml::element payload, std::vector<std::pair<std::string, std::string>> options);
// Retracts an item (with notification); false if there was none.
boost::asio::awaitable<bool> retract(server& srv, jid owner, std::string node, std::string item_id);
// The items of an account's node, oldest first (empty if none or no such node).
boost::asio::awaitable<std::vector<std::pair<std::string, xml::element>>> items(server& srv, jid owner,
                                                                                 std::string node);

}  // namespace starling::modules::pep
