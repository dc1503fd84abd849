// XEP-0016 / XEP-0191 enforcement engine: list validation and the per-stanza decision.
#include "modules/privacy/privacy_engine.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace starling::privacy {

stanza_facts facts_of(const xml::element& stanza, direction dir, const jid& peer) {
  stanza_facts f;
  f.dir = dir;
  f.kind = stanza.name() == "message" ? "message" : stanza.name() == "iq" ? "iq" : "presence";
  std::string_view type = stanza.attr_or("type");
  // XEP-0016 §2: presence notifications are presence without type or of type 'unavailable';
  // subscriptions and probes are not.
  f.notification = f.kind == "presence" && (type.empty() || type == "unavailable");
  f.peer = peer;
  return f;
}

bool jid_matches(const jid& item_jid, const jid& peer) {
  // XEP-0016 §2.1 / XEP-0191 §7, in order: user@domain/resource, user@domain,
  // domain/resource, domain.
  if (item_jid == peer) return true;
  if (item_jid.is_bare() && item_jid.has_local()) return item_jid == peer.bare();
  if (!item_jid.has_local()) {
    if (item_jid.domain() != peer.domain()) return false;
    if (item_jid.has_resource()) return peer.has_resource() && item_jid.resource() == peer.resource();
    return true;  // the domain itself, any user@domain, any domain/resource
  }
  return false;
}

bool applies(const item& it, const stanza_facts& st) {
  if (it.kinds == 0) return true;  // XEP-0016 §2.12: all stanzas, both directions
  if (st.dir == direction::inbound) {
    if (st.kind == "message") return it.kinds & kind_message;
    if (st.kind == "iq") return it.kinds & kind_iq;
    // XEP-0016 §2.8: <presence-in/> covers notifications only, not subscription requests.
    return (it.kinds & kind_presence_in) && st.notification;
  }
  // XEP-0016 §2.1: <message/> and <iq/> block incoming stanzas only; <presence-out/> blocks
  // outgoing presence notifications (§2.9).
  return st.kind == "presence" && (it.kinds & kind_presence_out) && st.notification;
}

verdict evaluate(const list& l, const stanza_facts& st, const roster_facts* roster) {
  for (const item& it : l.items) {
    if (!applies(it, st)) continue;
    bool match = false;
    switch (it.type) {
      case item_type::fall_through:
        match = true;
        break;
      case item_type::jid:
        match = jid_matches(it.value_jid, st.peer);
        break;
      case item_type::group:
        if (!roster) return verdict::need_roster;
        match = std::find(roster->groups.begin(), roster->groups.end(), it.value) != roster->groups.end();
        break;
      case item_type::subscription:
        if (!roster) return verdict::need_roster;
        // XEP-0016 §2.1: exact match; "none" includes peers not in the roster.
        match = roster->subscription == it.value;
        break;
    }
    // XEP-0016 §2.2 rule 6: the first match decides.
    if (match) return it.act == action::deny ? verdict::deny : verdict::allow;
  }
  return verdict::allow;  // XEP-0016 §2.2 rule 7: fall-through is "allow"
}

bool is_blocked(const std::vector<jid>& blocklist, const jid& peer) {
  for (const jid& b : blocklist)
    if (jid_matches(b, peer)) return true;
  return false;
}

std::string_view to_string(item_type t) {
  switch (t) {
    case item_type::jid: return "jid";
    case item_type::group: return "group";
    case item_type::subscription: return "subscription";
    case item_type::fall_through: break;
  }
  return "";
}

std::optional<item_type> item_type_from(std::string_view s) {
  if (s.empty()) return item_type::fall_through;
  if (s == "jid") return item_type::jid;
  if (s == "group") return item_type::group;
  if (s == "subscription") return item_type::subscription;
  return std::nullopt;
}

namespace {
std::optional<uint32_t> parse_order(std::string_view s) {
  // XEP-0016 §2.1: a non-negative integer (xs:unsignedInt).
  if (s.empty() || s.size() > 10) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}
}  // namespace

std::variant<list, stanza_condition> parse_list(const xml::element& el, const parse_limits& lim) {
  list l;
  const std::string* name = el.attr("name");
  if (!name || name->empty()) return stanza_condition::bad_request;
  l.name = *name;
  std::set<uint32_t> orders;
  for (const xml::element* c : el.elements()) {
    if (!c->is("item", ns_privacy)) return stanza_condition::bad_request;
    if (l.items.size() >= lim.max_items) return stanza_condition::resource_constraint;
    item it;
    auto type = item_type_from(c->attr_or("type"));
    if (!type) return stanza_condition::bad_request;
    it.type = *type;
    // XEP-0016 §2.1: 'action' MUST be allow or deny.
    std::string_view act = c->attr_or("action");
    if (act == "allow") it.act = action::allow;
    else if (act == "deny") it.act = action::deny;
    else return stanza_condition::bad_request;
    // XEP-0016 §2.1: 'order' MUST be present and unique within the list (bad-request).
    auto order = parse_order(c->attr_or("order"));
    if (!order || !orders.insert(*order).second) return stanza_condition::bad_request;
    it.order = *order;
    const std::string* value = c->attr("value");
    switch (it.type) {
      case item_type::fall_through:
        if (value) return stanza_condition::bad_request;  // a value without a type means nothing
        break;
      case item_type::jid: {
        // XEP-0016 §2.1: 'value' MUST contain a valid JID.
        auto j = value ? jid::parse(*value) : std::nullopt;
        if (!j) return stanza_condition::bad_request;
        it.value_jid = *j;
        it.value = j->str();
        break;
      }
      case item_type::group:
        if (!value || value->empty()) return stanza_condition::bad_request;
        it.value = *value;
        break;
      case item_type::subscription:
        // XEP-0016 §2.1: "both", "to", "from" or "none".
        if (!value || (*value != "both" && *value != "to" && *value != "from" && *value != "none"))
          return stanza_condition::bad_request;
        it.value = *value;
        break;
    }
    for (const xml::element* k : c->elements()) {
      if (k->ns() != ns_privacy || k->element_count() != 0) return stanza_condition::bad_request;
      if (k->name() == "message") it.kinds |= kind_message;
      else if (k->name() == "iq") it.kinds |= kind_iq;
      else if (k->name() == "presence-in") it.kinds |= kind_presence_in;
      else if (k->name() == "presence-out") it.kinds |= kind_presence_out;
      else return stanza_condition::bad_request;
    }
    l.items.push_back(std::move(it));
  }
  std::sort(l.items.begin(), l.items.end(), [](const item& a, const item& b) { return a.order < b.order; });
  return l;
}

xml::element to_xml(const list& l) {
  xml::element e("list", std::string(ns_privacy));
  e.set_attr("name", l.name);
  for (const item& it : l.items) {
    auto& x = e.add("item", std::string(ns_privacy));
    if (it.type != item_type::fall_through) {
      x.set_attr("type", std::string(to_string(it.type)));
      x.set_attr("value", it.value);
    }
    x.set_attr("action", it.act == action::allow ? "allow" : "deny");
    x.set_attr("order", std::to_string(it.order));
    if (it.kinds & kind_message) x.add("message", std::string(ns_privacy));
    if (it.kinds & kind_iq) x.add("iq", std::string(ns_privacy));
    if (it.kinds & kind_presence_in) x.add("presence-in", std::string(ns_privacy));
    if (it.kinds & kind_presence_out) x.add("presence-out", std::string(ns_privacy));
  }
  return e;
}

}  // namespace starling::privacy
