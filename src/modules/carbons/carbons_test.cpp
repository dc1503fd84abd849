// XEP-0280 §6.1 eligibility rules.
#include <gtest/gtest.h>

#include "modules/carbons/carbons_api.hpp"

namespace starling::modules::carbons {
namespace {

xml::element msg(std::string_view type, std::initializer_list<std::pair<std::string, std::string>> kids) {
  xml::element m("message", std::string(xml::ns_client));
  if (!type.empty()) m.set_attr("type", std::string(type));
  for (const auto& [name, ns] : kids) m.add(name, ns);
  return m;
}

TEST(Carbons, EligibilityRules) {
  const std::string c(xml::ns_client);
  for (auto d : {direction::sent, direction::received}) {
    EXPECT_TRUE(is_eligible(msg("chat", {}), d));
    EXPECT_TRUE(is_eligible(msg("", {{"body", c}}), d));
    EXPECT_FALSE(is_eligible(msg("normal", {}), d));
    EXPECT_TRUE(is_eligible(msg("normal", {{"received", "urn:xmpp:receipts"}}), d));
    EXPECT_TRUE(is_eligible(msg("", {{"displayed", "urn:xmpp:chat-markers:0"}}), d));
    EXPECT_TRUE(is_eligible(msg("", {{"x", "jabber:x:conference"}}), d));
    EXPECT_FALSE(is_eligible(msg("groupchat", {{"body", c}}), d));
    EXPECT_FALSE(is_eligible(msg("headline", {{"body", c}}), d));
    EXPECT_FALSE(is_eligible(msg("error", {{"body", c}}), d));
    EXPECT_FALSE(is_eligible(msg("chat", {{"body", c}, {"private", std::string(ns_carbons)}}), d));
    EXPECT_FALSE(is_eligible(msg("chat", {{"body", c}, {"no-copy", "urn:xmpp:hints"}}), d));
    EXPECT_FALSE(is_eligible(msg("chat", {{"received", std::string(ns_carbons)}}), d));
  }
  // §6.1: MUC private messages are copied when sent, not when received from the occupant.
  auto pm = msg("chat", {{"body", c}, {"x", "http://jabber.org/protocol/muc#user"}});
  EXPECT_TRUE(is_eligible(pm, direction::sent));
  EXPECT_FALSE(is_eligible(pm, direction::received));
  // Mediated invitations are copied.
  auto inv = msg("", {});
  inv.add("x", "http://jabber.org/protocol/muc#user").add("invite", "http://jabber.org/protocol/muc#user");
  EXPECT_TRUE(is_eligible(inv, direction::received));
}

}  // namespace
}  // namespace starling::modules::carbons
