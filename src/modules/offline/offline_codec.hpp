#pragma once
// Pure helpers of the offline module (unit-tested): XEP-0082 stamps, the XEP-0203 <delay/>
// added on storage, the XEP-0160 storage rule for chat states, and the stored text form.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling::modules {

inline constexpr std::string_view ns_delay = "urn:xmpp:delay";
inline constexpr std::string_view ns_offline = "http://jabber.org/protocol/offline";
inline constexpr std::string_view ns_chatstates = "http://jabber.org/protocol/chatstates";

// XEP-0082 §3.2 DateTime in UTC with milliseconds: CCYY-MM-DDThh:mm:ss.sssZ.
std::string xep0082_stamp(std::chrono::system_clock::time_point t);

// XEP-0203 §3: <delay xmlns='urn:xmpp:delay' from='domain' stamp='...'>Offline Storage</delay>
// appended to the message (after any delay the sender put there).
void add_offline_delay(xml::element& msg, std::string_view domain, std::string_view stamp);

inline constexpr std::string_view ns_hints = "urn:xmpp:hints";

// XEP-0160 §3: a message whose only content is XEP-0085 chat states is not stored.
// (XEP-0334 hints next to the chat state do not count as content.)
bool is_chat_states_only(const xml::element& msg);

// XEP-0334 §4: whether the sender asked for this message to be stored offline: <store/>
// overrides the chat-state rule, <no-store/> (or <no-permanent-store/>) forbids storage.
// Returns the decision for offline storage.
bool should_store_offline(const xml::element& msg);

// The stored form: the stanza serialized with jabber:client as default namespace, and back.
std::string encode_stanza(const xml::element& msg);
std::optional<xml::element> decode_stanza(std::string_view text);

}  // namespace starling::modules
