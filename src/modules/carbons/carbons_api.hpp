#pragma once
// What other modules may ask of the carbons module (XEP-0280): the eligibility rules (pure,
// unit-tested) and enabling carbons for a session from elsewhere (XEP-0386 Bind 2 inline
// <enable/>).
#include <string_view>

#include "xml/element.hpp"

namespace starling {
class c2s_session;
}

namespace starling::modules::carbons {

inline constexpr std::string_view ns_carbons = "urn:xmpp:carbons:2";

enum class direction { sent, received };

// XEP-0280 §6.1 (and §8, XEP-0334 <no-copy/>): whether a message is copied to the account's
// other carbons-enabled resources.
bool is_eligible(const xml::element& msg, direction dir);

// Enables (or disables) carbons for a bound session, as <iq><enable/></iq> does. Session
// thread only (e.g. from a Bind 2 inline feature handler).
void set_enabled(c2s_session& s, bool enabled);

}  // namespace starling::modules::carbons
