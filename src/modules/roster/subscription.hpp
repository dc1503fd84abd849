#pragma once
// RFC 6121 Appendix A: the presence subscription state machine as a pure function, so that
// every row of the tables in A.2 (outbound, sent by the user) and A.3 (inbound, received for
// the user) can be unit-tested without a server. Pre-approval (RFC 6121 §3.4) is folded in.
#include <string_view>

#include "modules/roster/roster_api.hpp"

namespace starling::roster {

enum class sub_type { subscribe, subscribed, unsubscribe, unsubscribed };
std::optional<sub_type> parse_sub_type(std::string_view type);
std::string_view to_string(sub_type t);

// One roster row's subscription-related state.
struct sub_state {
  subscription sub = subscription::none;
  bool pending_out = false;  // ask='subscribe'
  bool pending_in = false;
  bool approved = false;  // RFC 6121 §3.4 pre-approval
  bool operator==(const sub_state&) const = default;
};

struct transition {
  sub_state next;
  bool changed = false;         // state (including pre-approval) differs: store + roster push
  bool forward = false;         // outbound: route the stanza to the contact;
                                // inbound: deliver it to the user's available resources
  bool auto_subscribed = false; // inbound subscribe: answer 'subscribed' on the user's behalf
  bool send_presence = false;   // the contact just gained a 'from': send it current presence
  bool send_unavailable = false;// the contact just lost a 'from': send it unavailable presence
};

// RFC 6121 Appendix A.2: the user sends `t` to the contact.
transition outbound(const sub_state& s, sub_type t);
// RFC 6121 Appendix A.3: the user's server receives `t` from the contact.
transition inbound(const sub_state& s, sub_type t);

}  // namespace starling::roster
