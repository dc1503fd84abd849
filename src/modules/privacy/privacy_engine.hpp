#pragma once
// The enforcement engine shared by XEP-0016 (Privacy Lists) and XEP-0191 (Blocking Command):
// pure data and functions, no I/O, so that every rule is unit-tested (privacy_engine_test.cpp).
//
// A privacy list is an ordered set of items (type jid / group / subscription / fall-through,
// action allow / deny, optional stanza kinds). The blocklist of XEP-0191 is evaluated as an
// implicit list of "jid, deny, all stanzas" items placed before the active or default list
// (XEP-0191 §6: blocked items "SHOULD come first"), so both protocols share one data store and
// one decision procedure.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/stanza.hpp"
#include "jid/jid.hpp"
#include "xml/element.hpp"

namespace starling::privacy {

inline constexpr std::string_view ns_privacy = "jabber:iq:privacy";
inline constexpr std::string_view ns_blocking = "urn:xmpp:blocking";
inline constexpr std::string_view ns_blocking_errors = "urn:xmpp:blocking:errors";

enum class item_type { fall_through, jid, group, subscription };
enum class action { allow, deny };

// XEP-0016 §2.1: the child elements that narrow an item to some stanza kinds. No child means
// every stanza in both directions (XEP-0016 §2.12 "Blocking All Communication").
enum kind_bits : unsigned {
  kind_message = 1,
  kind_iq = 2,
  kind_presence_in = 4,
  kind_presence_out = 8,
};

struct item {
  item_type type = item_type::fall_through;
  std::string value;  // as given (JIDs in canonical form)
  jid value_jid;      // type jid only
  action act = action::allow;
  uint32_t order = 0;
  unsigned kinds = 0;  // kind_bits; 0 = all stanzas
  bool operator==(const item&) const = default;
};

struct list {
  std::string name;
  std::vector<item> items;  // ascending 'order' (XEP-0016 §2.2 rule 5)
  bool operator==(const list&) const = default;
};

enum class direction { inbound, outbound };

// What the engine needs to know about a stanza.
struct stanza_facts {
  direction dir = direction::inbound;
  std::string_view kind;     // "message", "iq" or "presence"
  bool notification = true;  // presence without type or type='unavailable' (XEP-0016 §2)
  jid peer;                  // the other party: sender (inbound) or recipient (outbound)
};
// Classifies a stanza element (name and type attribute).
stanza_facts facts_of(const xml::element& stanza, direction dir, const jid& peer);

// The owner's roster entry for the peer (RFC 6121 §2.1.2.5); an unknown peer has
// subscription "none" and no groups (XEP-0016 §2.1).
struct roster_facts {
  std::string subscription = "none";
  std::vector<std::string> groups;
};

enum class verdict { allow, deny, need_roster };

// XEP-0016 §2.1 JID matching: an item JID matches the peer if it equals, in this order, the
// peer's full JID, bare JID, domain/resource, or domain.
bool jid_matches(const jid& item_jid, const jid& peer);

// XEP-0016 §2.2 rules 5-7: the first item (ascending order) that applies to this kind of
// stanza and matches the peer decides; no match allows. Items of type group or subscription
// need the roster: when such an item is reached and `roster` is null, need_roster is returned.
verdict evaluate(const list& l, const stanza_facts& st, const roster_facts* roster);
// Whether an item applies to this stanza at all (its kinds).
bool applies(const item& it, const stanza_facts& st);
// XEP-0191 §3.3: a blocked JID blocks every stanza in both directions.
bool is_blocked(const std::vector<jid>& blocklist, const jid& peer);

// Parsing and validation of a <list/> from a client (XEP-0016 §2.1 / §2.5): returns the list
// with items sorted by order, or the error condition to answer.
struct parse_limits {
  size_t max_items = 250;
};
std::variant<list, stanza_condition> parse_list(const xml::element& el, const parse_limits& lim = {});
// <list name='...'><item .../>...</list> in jabber:iq:privacy (XEP-0016 §2.3).
xml::element to_xml(const list& l);

// Compact storage form of an item's kinds and type.
std::string_view to_string(item_type t);
std::optional<item_type> item_type_from(std::string_view s);

}  // namespace starling::privacy
