// RFC 6121 Appendix A: subscription state transitions (see subscription.hpp).
#include "modules/roster/subscription.hpp"

namespace starling::roster {

namespace {
bool has_to(subscription s) { return s == subscription::to || s == subscription::both; }
bool has_from(subscription s) { return s == subscription::from || s == subscription::both; }
subscription make(bool to, bool from) {
  if (to && from) return subscription::both;
  if (to) return subscription::to;
  if (from) return subscription::from;
  return subscription::none;
}
transition finish(const sub_state& before, transition t) {
  t.changed = !(t.next == before);
  return t;
}
}  // namespace

std::optional<sub_type> parse_sub_type(std::string_view type) {
  if (type == "subscribe") return sub_type::subscribe;
  if (type == "subscribed") return sub_type::subscribed;
  if (type == "unsubscribe") return sub_type::unsubscribe;
  if (type == "unsubscribed") return sub_type::unsubscribed;
  return std::nullopt;
}

std::string_view to_string(sub_type t) {
  switch (t) {
    case sub_type::subscribe: return "subscribe";
    case sub_type::subscribed: return "subscribed";
    case sub_type::unsubscribe: return "unsubscribe";
    case sub_type::unsubscribed: return "unsubscribed";
  }
  return "";
}

transition outbound(const sub_state& s, sub_type type) {
  transition t;
  t.next = s;
  bool to = has_to(s.sub), from = has_from(s.sub);
  switch (type) {
    case sub_type::subscribe:
      // RFC 6121 A.2.1: pending-out unless already subscribed or pending; §3.1.2: the request
      // is routed to the contact in every case (its server answers for existing subscriptions).
      if (!to) t.next.pending_out = true;
      t.forward = true;
      break;
    case sub_type::unsubscribe:
      // RFC 6121 A.2.2: cancels 'to' and pending-out; §3.3.2: always routed.
      t.next.sub = make(false, from);
      t.next.pending_out = false;
      t.forward = true;
      break;
    case sub_type::subscribed:
      // RFC 6121 A.2.3: approves a pending-in request...
      if (s.pending_in) {
        t.next.sub = make(to, true);
        t.next.pending_in = false;
        t.next.approved = false;
        t.forward = true;
        // RFC 6121 §3.1.5: the contact now receives the user's current presence.
        t.send_presence = true;
      } else if (!from) {
        // ...or, with no request pending, records a pre-approval (RFC 6121 §3.4.1), which is
        // not routed to the contact.
        t.next.approved = true;
      }
      break;
    case sub_type::unsubscribed:
      // RFC 6121 A.2.4: denies a pending-in request or cancels 'from'.
      if (s.pending_in) {
        t.next.pending_in = false;
        t.forward = true;
      } else if (from) {
        t.next.sub = make(to, false);
        t.forward = true;
        // RFC 6121 §3.2.2: the former subscriber gets unavailable presence.
        t.send_unavailable = true;
      }
      // RFC 6121 §3.4.2: unsubscribed also cancels a pre-approval.
      t.next.approved = false;
      break;
  }
  return finish(s, t);
}

transition inbound(const sub_state& s, sub_type type) {
  transition t;
  t.next = s;
  bool to = has_to(s.sub), from = has_from(s.sub);
  switch (type) {
    case sub_type::subscribe:
      if (from) {
        // RFC 6121 §3.1.3 rule 2 / A.3.1: already subscribed: answer on the user's behalf.
        t.auto_subscribed = true;
      } else if (s.pending_in) {
        // RFC 6121 A.3.1: no state change; the request is already stored.
      } else if (s.approved) {
        // RFC 6121 §3.4.1: pre-approved: accept without asking the user.
        t.next.sub = make(to, true);
        t.next.approved = false;
        t.auto_subscribed = true;
        t.send_presence = true;
      } else {
        t.next.pending_in = true;
        t.forward = true;
      }
      break;
    case sub_type::unsubscribe:
      // RFC 6121 A.3.2: cancels pending-in or 'from'.
      if (s.pending_in) {
        t.next.pending_in = false;
        t.forward = true;
      } else if (from) {
        t.next.sub = make(to, false);
        t.forward = true;
        // RFC 6121 §3.3.3: the contact gets unavailable presence from the user's resources.
        t.send_unavailable = true;
      }
      break;
    case sub_type::subscribed:
      // RFC 6121 A.3.3: only answers a pending-out request; otherwise ignored (§3.1.6).
      if (s.pending_out && !to) {
        t.next.sub = make(true, from);
        t.next.pending_out = false;
        t.forward = true;
      }
      break;
    case sub_type::unsubscribed:
      // RFC 6121 A.3.4: cancels 'to' or a pending-out request.
      if (to || s.pending_out) {
        t.next.sub = make(false, from);
        t.next.pending_out = false;
        t.forward = true;
      }
      break;
  }
  return finish(s, t);
}

}  // namespace starling::roster
