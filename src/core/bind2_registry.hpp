#pragma once
// XEP-0386 Bind 2 inline features: what a client may enable in the same round trip as its
// resource binding (carbons, stream management, CSI, ...). A module registers the namespace it
// handles; the core advertises every registered namespace as <feature var=...> inside
// <bind xmlns='urn:xmpp:bind:0'><inline>, and after binding calls the handler once for each
// child of the client's <bind/> in that namespace, in document order. Children in namespaces
// nobody registered are ignored (XEP-0386 §3.2 lets the client ask; the server enables what it
// supports).
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace starling {

class c2s_session;

// Runs on the session's thread after the resource is bound (session.is_bound() is true and
// session.full_jid() is final) and before the SASL2 <success/> is sent. `request` is the
// client's child element (e.g. <enable xmlns='urn:xmpp:carbons:2'/>); the handler appends its
// answer, if the feature defines one, to `bound` (<bound xmlns='urn:xmpp:bind:0'/>), e.g.
// XEP-0198 <enabled/> or <failed/>. It must not send anything on the stream itself: the client
// sees the results in <success/>, and stanzas sent before it would break XEP-0388's order.
// Errors are the feature's own elements in `bound`; an exception ends the stream with
// <internal-server-error/> like any other bug.
using bind2_handler =
    std::function<boost::asio::awaitable<void>(c2s_session& session, const xml::element& request,
                                               xml::element& bound)>;

class bind2_registry {
 public:
  // Start-up only (before network threads run). `ns` is both the advertised feature var and
  // the namespace of the request elements (XEP-0386 §3.1: "the extension's defined service
  // discovery feature name or namespace"). A second registration for `ns` replaces the first.
  void add(std::string ns, bind2_handler h) { handlers_[std::move(ns)] = std::move(h); }

  const bind2_handler* find(std::string_view ns) const {
    auto it = handlers_.find(ns);
    return it == handlers_.end() ? nullptr : &it->second;
  }
  // Sorted, so the advertisement is stable for caching clients (XEP-0388 §2.1).
  std::vector<std::string> features() const {
    std::vector<std::string> out;
    for (const auto& [ns, h] : handlers_) out.push_back(ns);
    return out;
  }
  bool empty() const { return handlers_.empty(); }

 private:
  std::map<std::string, bind2_handler, std::less<>> handlers_;
};

}  // namespace starling
