#pragma once
// IQ handlers keyed by (target, payload namespace). The router alone answers
// <service-unavailable/> when nobody claims an IQ (RFC 6120 §8.4).
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "jid/jid.hpp"
#include "xml/element.hpp"

namespace starling {

class server;
class c2s_session;

// Where an IQ is addressed (RFC 6120 §10.3, RFC 6121 §8.5):
//   host: to the server's domain;
//   self: no 'to', or to the sender's own bare JID (handled on behalf of the account);
//   bare: to another local account's bare JID.
enum class iq_target { host, self, bare };

struct iq_request {
  server& srv;
  c2s_session* session;  // the sending client's session; null for stanzas from elsewhere
  xml::element stanza;   // as routed: 'from' stamped with the sender's full JID
  jid from;              // empty before authentication
  jid to;                // effective target (host JID, own bare JID, or another bare JID)
  bool is_get() const { return stanza.attr_or("type") == "get"; }
  const xml::element& payload() const { return *stanza.first_element(); }
};

// A handler sends its own reply (result or error) through srv/session helpers.
using iq_handler = std::function<boost::asio::awaitable<void>(iq_request&)>;

struct iq_registration {
  iq_handler handler;
  bool before_auth = false;  // allowed on a stream that has not authenticated (XEP-0077/0078)
};

class iq_table {
 public:
  void add(iq_target target, std::string ns, iq_handler h, bool before_auth = false) {
    table_[static_cast<size_t>(target)][std::move(ns)] = {std::move(h), before_auth};
  }
  const iq_registration* find(iq_target target, std::string_view ns) const {
    const auto& t = table_[static_cast<size_t>(target)];
    auto it = t.find(ns);
    return it == t.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, iq_registration, std::less<>> table_[3];
};

}  // namespace starling
