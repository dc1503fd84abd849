#pragma once
// XEP-0352 for other modules: XEP-0386 Bind2 inlines <inactive/> in its bind request.
#include "xml/element.hpp"

namespace starling {
class c2s_session;
}

namespace starling::modules::csi {

// Applies an <active/> or <inactive/> element (urn:xmpp:csi:0) to `s`, on its thread. False if
// `el` is not one of them.
bool apply_state(c2s_session& s, const xml::element& el);

}  // namespace starling::modules::csi
