// Unit tests for the XEP-0016 / XEP-0191 engine: JID matching order, item kinds, first-match
// semantics, roster-dependent items, list validation.
#include "modules/privacy/privacy_engine.hpp"

#include <gtest/gtest.h>

namespace starling::privacy {
namespace {

jid J(std::string_view s) { return *jid::parse(s); }

item jid_item(std::string_view v, action a, uint32_t order, unsigned kinds = 0) {
  item it;
  it.type = item_type::jid;
  it.value_jid = J(v);
  it.value = it.value_jid.str();
  it.act = a;
  it.order = order;
  it.kinds = kinds;
  return it;
}

item typed_item(item_type t, std::string v, action a, uint32_t order, unsigned kinds = 0) {
  item it;
  it.type = t;
  it.value = std::move(v);
  it.act = a;
  it.order = order;
  it.kinds = kinds;
  return it;
}

stanza_facts in(std::string_view kind, std::string_view peer, bool notification = true) {
  return {direction::inbound, kind, kind == "presence" && notification, J(peer)};
}
stanza_facts out(std::string_view kind, std::string_view peer, bool notification = true) {
  return {direction::outbound, kind, kind == "presence" && notification, J(peer)};
}

xml::element parse_xml_list(std::initializer_list<std::vector<std::pair<std::string, std::string>>> items,
                            std::string name = "l") {
  xml::element l("list", std::string(ns_privacy));
  l.set_attr("name", name);
  for (const auto& attrs : items) {
    auto& it = l.add("item", std::string(ns_privacy));
    for (const auto& [k, v] : attrs) it.set_attr(k, v);
  }
  return l;
}

// XEP-0016 §2.1: full, bare, domain/resource, domain.
TEST(PrivacyEngine, JidMatchingOrder) {
  EXPECT_TRUE(jid_matches(J("a@x/r"), J("a@x/r")));
  EXPECT_FALSE(jid_matches(J("a@x/r"), J("a@x/s")));
  EXPECT_FALSE(jid_matches(J("a@x/r"), J("a@x")));
  EXPECT_TRUE(jid_matches(J("a@x"), J("a@x/any")));
  EXPECT_TRUE(jid_matches(J("a@x"), J("a@x")));
  EXPECT_FALSE(jid_matches(J("a@x"), J("b@x/any")));
  EXPECT_TRUE(jid_matches(J("x/r"), J("x/r")));
  EXPECT_TRUE(jid_matches(J("x/r"), J("u@x/r")));
  EXPECT_FALSE(jid_matches(J("x/r"), J("x/s")));
  EXPECT_FALSE(jid_matches(J("x/r"), J("x")));
  EXPECT_TRUE(jid_matches(J("x"), J("x")));
  EXPECT_TRUE(jid_matches(J("x"), J("u@x")));
  EXPECT_TRUE(jid_matches(J("x"), J("u@x/r")));
  EXPECT_TRUE(jid_matches(J("x"), J("x/r")));
  EXPECT_FALSE(jid_matches(J("x"), J("u@y")));
  EXPECT_FALSE(jid_matches(J("x"), J("x.y")));
}

TEST(PrivacyEngine, FirstMatchInOrderDecides) {
  list l{"l", {jid_item("a@x", action::allow, 1), typed_item(item_type::fall_through, "", action::deny, 2)}};
  EXPECT_EQ(evaluate(l, in("message", "a@x/r"), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(l, in("message", "b@x/r"), nullptr), verdict::deny);
  EXPECT_EQ(evaluate(l, out("iq", "b@x/r"), nullptr), verdict::deny);
}

TEST(PrivacyEngine, NoMatchAllows) {
  list l{"l", {jid_item("a@x", action::deny, 5)}};
  EXPECT_EQ(evaluate(l, in("message", "b@x"), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(list{}, in("message", "b@x"), nullptr), verdict::allow);
}

TEST(PrivacyEngine, KindsNarrowItems) {
  list l{"l", {jid_item("a@x", action::deny, 1, kind_message)}};
  EXPECT_EQ(evaluate(l, in("message", "a@x/r"), nullptr), verdict::deny);
  EXPECT_EQ(evaluate(l, in("iq", "a@x/r"), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(l, in("presence", "a@x/r"), nullptr), verdict::allow);
  // <message/> blocks incoming messages only.
  EXPECT_EQ(evaluate(l, out("message", "a@x/r"), nullptr), verdict::allow);

  list iq{"l", {jid_item("a@x", action::deny, 1, kind_iq)}};
  EXPECT_EQ(evaluate(iq, in("iq", "a@x/r"), nullptr), verdict::deny);
  EXPECT_EQ(evaluate(iq, in("message", "a@x/r"), nullptr), verdict::allow);
}

// XEP-0016 §2.8/§2.9: presence-in/out cover notifications, not subscriptions.
TEST(PrivacyEngine, PresenceInAndOut) {
  list pin{"l", {jid_item("a@x", action::deny, 1, kind_presence_in)}};
  EXPECT_EQ(evaluate(pin, in("presence", "a@x/r"), nullptr), verdict::deny);
  EXPECT_EQ(evaluate(pin, in("presence", "a@x/r", false), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(pin, out("presence", "a@x/r"), nullptr), verdict::allow);

  list pout{"l", {jid_item("a@x", action::deny, 1, kind_presence_out)}};
  EXPECT_EQ(evaluate(pout, out("presence", "a@x/r"), nullptr), verdict::deny);
  EXPECT_EQ(evaluate(pout, out("presence", "a@x/r", false), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(pout, in("presence", "a@x/r"), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(pout, out("message", "a@x/r"), nullptr), verdict::allow);

  // No child: everything, subscriptions included (§2.12).
  list all{"l", {jid_item("a@x", action::deny, 1)}};
  EXPECT_EQ(evaluate(all, in("presence", "a@x/r", false), nullptr), verdict::deny);
  EXPECT_EQ(evaluate(all, out("presence", "a@x/r", false), nullptr), verdict::deny);
}

TEST(PrivacyEngine, FactsOfStanza) {
  xml::element p("presence", "jabber:client");
  EXPECT_TRUE(facts_of(p, direction::inbound, J("a@x")).notification);
  p.set_attr("type", "unavailable");
  EXPECT_TRUE(facts_of(p, direction::inbound, J("a@x")).notification);
  p.set_attr("type", "subscribe");
  EXPECT_FALSE(facts_of(p, direction::inbound, J("a@x")).notification);
  xml::element m("message", "jabber:client");
  auto f = facts_of(m, direction::outbound, J("a@x"));
  EXPECT_EQ(f.kind, "message");
  EXPECT_EQ(f.dir, direction::outbound);
}

TEST(PrivacyEngine, RosterItemsNeedTheRoster) {
  list l{"l", {jid_item("a@x", action::allow, 1), typed_item(item_type::subscription, "both", action::allow, 2),
               typed_item(item_type::group, "Enemies", action::deny, 3)}};
  // Decided before any roster item: no roster needed.
  EXPECT_EQ(evaluate(l, in("message", "a@x"), nullptr), verdict::allow);
  EXPECT_EQ(evaluate(l, in("message", "b@x"), nullptr), verdict::need_roster);
  roster_facts both{"both", {}};
  EXPECT_EQ(evaluate(l, in("message", "b@x"), &both), verdict::allow);
  roster_facts enemy{"to", {"Friends", "Enemies"}};
  EXPECT_EQ(evaluate(l, in("message", "b@x"), &enemy), verdict::deny);
  roster_facts unknown;  // not in the roster: subscription none, no groups
  EXPECT_EQ(evaluate(l, in("message", "b@x"), &unknown), verdict::allow);
  list none{"l", {typed_item(item_type::subscription, "none", action::deny, 1)}};
  EXPECT_EQ(evaluate(none, in("iq", "b@x"), &unknown), verdict::deny);
  // Exact match: "both" is not "from".
  list from{"l", {typed_item(item_type::subscription, "from", action::deny, 1)}};
  EXPECT_EQ(evaluate(from, in("iq", "b@x"), &both), verdict::allow);
}

TEST(PrivacyEngine, Blocklist) {
  std::vector<jid> bl{J("a@x"), J("y")};
  EXPECT_TRUE(is_blocked(bl, J("a@x/r")));
  EXPECT_TRUE(is_blocked(bl, J("u@y/r")));
  EXPECT_FALSE(is_blocked(bl, J("b@x/r")));
  EXPECT_FALSE(is_blocked({}, J("b@x/r")));
}

TEST(PrivacyEngine, ParseValidList) {
  auto el = parse_xml_list({{{"type", "jid"}, {"value", "A@X/r"}, {"action", "deny"}, {"order", "10"}},
                            {{"action", "allow"}, {"order", "3"}},
                            {{"type", "subscription"}, {"value", "both"}, {"action", "allow"}, {"order", "4294967295"}},
                            {{"type", "group"}, {"value", "Friends"}, {"action", "deny"}, {"order", "0"}}});
  el.elements();
  const_cast<xml::element*>(el.elements()[0])->add("message", std::string(ns_privacy));
  const_cast<xml::element*>(el.elements()[0])->add("presence-out", std::string(ns_privacy));
  auto r = parse_list(el);
  ASSERT_TRUE(std::holds_alternative<list>(r));
  const list& l = std::get<list>(r);
  ASSERT_EQ(l.items.size(), 4u);
  EXPECT_EQ(l.items[0].order, 0u);
  EXPECT_EQ(l.items[1].order, 3u);
  EXPECT_EQ(l.items[1].type, item_type::fall_through);
  EXPECT_EQ(l.items[2].value, "a@x/r");
  EXPECT_EQ(l.items[2].kinds, unsigned(kind_message | kind_presence_out));
  EXPECT_EQ(l.items[3].order, 4294967295u);
  // Round trip through XML.
  auto again = parse_list(to_xml(l));
  ASSERT_TRUE(std::holds_alternative<list>(again));
  EXPECT_EQ(std::get<list>(again), l);
}

TEST(PrivacyEngine, ParseRejectsInvalidItems) {
  auto bad = [](xml::element el) {
    auto r = parse_list(el);
    return std::holds_alternative<stanza_condition>(r) ? std::get<stanza_condition>(r)
                                                        : stanza_condition::undefined_condition;
  };
  using sc = stanza_condition;
  EXPECT_EQ(bad(parse_xml_list({{{"action", "maybe"}, {"order", "1"}}})), sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"order", "1"}}})), sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"action", "deny"}}})), sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"action", "deny"}, {"order", "-1"}}})), sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"action", "deny"}, {"order", "4294967296"}}})), sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"action", "deny"}, {"order", "1"}}, {{"action", "allow"}, {"order", "1"}}})),
            sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"type", "color"}, {"value", "x"}, {"action", "deny"}, {"order", "1"}}})),
            sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"type", "jid"}, {"value", "@@"}, {"action", "deny"}, {"order", "1"}}})),
            sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"type", "jid"}, {"action", "deny"}, {"order", "1"}}})), sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"type", "subscription"}, {"value", "pending"}, {"action", "deny"}, {"order", "1"}}})),
            sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"type", "group"}, {"value", ""}, {"action", "deny"}, {"order", "1"}}})),
            sc::bad_request);
  EXPECT_EQ(bad(parse_xml_list({{{"action", "deny"}, {"order", "1"}}}, "")), sc::bad_request);
  auto unknown_child = parse_xml_list({{{"action", "deny"}, {"order", "1"}}});
  const_cast<xml::element*>(unknown_child.elements()[0])->add("carrier-pigeon", std::string(ns_privacy));
  EXPECT_EQ(bad(unknown_child), sc::bad_request);
  xml::element wrong("list", std::string(ns_privacy));
  wrong.set_attr("name", "l");
  wrong.add("entry", std::string(ns_privacy));
  EXPECT_EQ(bad(wrong), sc::bad_request);
}

TEST(PrivacyEngine, ParseEnforcesItemLimit) {
  xml::element el("list", std::string(ns_privacy));
  el.set_attr("name", "big");
  for (int i = 0; i < 4; ++i) {
    auto& it = el.add("item", std::string(ns_privacy));
    it.set_attr("action", "deny");
    it.set_attr("order", std::to_string(i));
  }
  auto r = parse_list(el, parse_limits{3});
  ASSERT_TRUE(std::holds_alternative<stanza_condition>(r));
  EXPECT_EQ(std::get<stanza_condition>(r), stanza_condition::resource_constraint);
  EXPECT_TRUE(std::holds_alternative<list>(parse_list(el, parse_limits{4})));
}

}  // namespace
}  // namespace starling::privacy
