#pragma once
// Server Dialback keys (XEP-0220 with the key generation of XEP-0185) and the dialback wire
// elements. Pure functions, so that the key rules are unit-tested without sockets.
#include <optional>
#include <string>
#include <string_view>

#include "core/stanza.hpp"
#include "xml/element.hpp"

namespace starling {

inline constexpr std::string_view ns_dialback = "jabber:server:dialback";
inline constexpr std::string_view ns_dialback_feature = "urn:xmpp:features:dialback";

// XEP-0185 §3: key = HEX(HMAC-SHA256(HEX(SHA256(secret)), receiving + ' ' + originating + ' '
// + stream id)). `receiving` is the domain the key is presented to (the Receiving Server),
// `originating` the domain that claims to send (the Originating/Sender Domain), `stream_id` the
// id the Receiving Server gave the stream the key travels on.
std::string dialback_key(std::string_view secret, std::string_view receiving, std::string_view originating,
                         std::string_view stream_id);

// Outcome of a dialback verification (XEP-0220 §2.3, §2.4).
struct dialback_outcome {
  enum class kind { valid, invalid, error } type = kind::error;
  stanza_condition condition = stanza_condition::remote_server_not_found;  // for kind::error
  static dialback_outcome valid() { return {kind::valid, {}}; }
  static dialback_outcome invalid() { return {kind::invalid, {}}; }
  static dialback_outcome error(stanza_condition c) { return {kind::error, c}; }
};

// <db:result/> or <db:verify/> (name "result" or "verify") with from/to/[id]/[type] and the key
// as text, written with the "db" prefix that our stream headers declare (XEP-0220 §2.1.1 notes
// that some servers only accept that prefix). A kind::error outcome carries
// <error type='cancel'><COND xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error> (§2.5).
std::string dialback_element(std::string_view name, std::string_view from, std::string_view to,
                             std::string_view id, std::optional<dialback_outcome> outcome,
                             std::string_view key = {});

// Reads the 'type' of a <db:result/> or <db:verify/> answer: valid, invalid, or error with the
// stanza condition inside (unknown conditions read as undefined-condition); nullopt when the
// element is a request (no type) or the type is not one of the three.
std::optional<dialback_outcome> parse_dialback_type(const xml::element& el);

}  // namespace starling
