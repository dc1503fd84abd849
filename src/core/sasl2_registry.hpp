#pragma once
// Extensions of the SASL2 profile (XEP-0388) that live in modules: inline features advertised
// in <authentication><inline>, requests carried in <authenticate>, their results in <success>,
// and single-round-trip mechanisms a module implements itself (XEP-0484 FAST's HT-* family).
// The core runs the password mechanisms (SCRAM, PLAIN) and Bind 2; everything else plugs in
// here. See docs/modules.md.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sasl/sasl.hpp"
#include "xml/element.hpp"

namespace starling {

class c2s_session;

// What the client sent in <authenticate/>, decoded.
struct sasl2_request {
  const xml::element& authenticate;       // the whole element (inline requests are its children)
  std::string mechanism;
  std::optional<std::string> initial;     // decoded <initial-response/>, nullopt if absent
};

// Outcome of a module's mechanism. On failure `user` may still name the account the client
// tried (prepared localpart), for throttling and the log.
struct sasl2_auth_result {
  std::optional<sasl::failure> failure;
  std::string text;             // <text/> of the failure
  std::string user;             // prepared localpart
  std::string additional_data;  // raw bytes for <additional-data/> on success
};

struct sasl2_extension {
  std::string name;  // for logs
  // Adds the extension's element to <authentication><inline> (or nothing) for this session.
  std::function<void(c2s_session&, xml::element& inline_features)> advertise;
  // Mechanisms the extension implements, offered on this session (may be null). They are not
  // listed as <mechanism/> of <authentication/> but inside the extension's own element.
  std::function<std::vector<std::string>(c2s_session&)> mechanisms;
  // Runs one of those mechanisms: the client's initial response must settle it (one round
  // trip). Not called for other mechanisms.
  std::function<boost::asio::awaitable<sasl2_auth_result>(c2s_session&, const sasl2_request&)> authenticate;
  // After any successful authentication, before Bind 2: may append its results to <success/>
  // (e.g. a FAST <token/>). Returns true when it established the session itself (XEP-0198
  // resumption), in which case Bind 2 is skipped (XEP-0386 §3.2 note). May be null.
  std::function<boost::asio::awaitable<bool>(c2s_session&, const sasl2_request&, xml::element& success)> succeeded;
};

class sasl2_registry {
 public:
  // Start-up only.
  void add(sasl2_extension e) { extensions_.push_back(std::move(e)); }
  const std::vector<sasl2_extension>& extensions() const { return extensions_; }

 private:
  std::vector<sasl2_extension> extensions_;
};

}  // namespace starling
