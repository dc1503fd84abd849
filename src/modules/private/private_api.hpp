#pragma once
// What other modules may ask of private XML storage (XEP-0049): XEP-0411 keeps XEP-0048
// bookmarks in private storage and XEP-0402 bookmarks in PEP in step. Implemented in private/.
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

namespace starling::modules::private_xml {

/// The elements stored under `ns` for the account (empty if none); nullopt on a storage failure.
boost::asio::awaitable<std::optional<std::vector<xml::element>>> get(server& srv, jid bare, std::string ns);
/// Replaces what `ns` holds. Listeners are not called. False on failure (quota, storage).
boost::asio::awaitable<bool> set(server& srv, jid bare, std::string ns, std::vector<xml::element> elements);

/// Called after the account itself stored elements under `ns` (a jabber:iq:private set), on
/// the requesting session's thread, after the IQ result was sent.
using change_listener = std::function<void(server&, const jid& bare, const std::string& ns,
                                           const std::vector<xml::element>& elements)>;
void add_change_listener(server& srv, change_listener fn);

}  // namespace starling::modules::private_xml
