// Unit tests for RFC 6121 §8.5 message routing decisions (src/modules/message/).
#include <gtest/gtest.h>

#include <algorithm>

#include "modules/message/message_api.hpp"

using namespace starling;
using namespace starling::modules;
using action = message_route::action;

namespace {

jid J(std::string_view s) { return *jid::parse(s); }

xml::element msg(std::string_view type) {
  xml::element m("message", "jabber:client");
  if (!type.empty()) m.set_attr("type", std::string(type));
  m.add("body", "jabber:client").add_text("hi");
  return m;
}

resource_info res(std::string_view full, bool available, int priority) {
  resource_info r;
  r.full = J(full);
  r.available = available;
  r.priority = priority;
  return r;
}

std::vector<std::string> targets(const message_route& r) {
  std::vector<std::string> out;
  for (const auto& t : r.targets) out.push_back(t.str());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(message_route, unknown_type_is_normal_rfc6121_5_2_2) {
  EXPECT_EQ(message_type_of(msg("")), message_type::normal);
  EXPECT_EQ(message_type_of(msg("bogus")), message_type::normal);
  EXPECT_EQ(message_type_of(msg("chat")), message_type::chat);
  EXPECT_EQ(message_type_of(msg("error")), message_type::error);
}

TEST(message_route, full_jid_connected_resource_gets_any_type_8_5_3_1) {
  std::vector<resource_info> rs{res("a@h/r1", false, 0), res("a@h/r2", true, 5)};
  for (auto t : {"", "chat", "groupchat", "headline", "error"}) {
    auto r = decide_message_route(msg(t), J("a@h/r1"), rs);
    EXPECT_EQ(r.what, action::deliver) << t;
    EXPECT_EQ(targets(r), std::vector<std::string>{"a@h/r1"}) << t;
  }
}

TEST(message_route, full_jid_no_match_8_5_3_2_1) {
  std::vector<resource_info> rs{res("a@h/r2", true, 1)};
  EXPECT_EQ(decide_message_route(msg("error"), J("a@h/gone"), rs).what, action::drop);
  EXPECT_EQ(decide_message_route(msg("groupchat"), J("a@h/gone"), rs).what, action::service_unavailable);
  for (auto t : {"", "chat", "headline"}) {
    auto r = decide_message_route(msg(t), J("a@h/gone"), rs);
    EXPECT_EQ(r.what, action::deliver) << t;
    EXPECT_EQ(targets(r), std::vector<std::string>{"a@h/r2"}) << t;
  }
  // No available resource at all: as bare -> offline.
  EXPECT_EQ(decide_message_route(msg("chat"), J("a@h/gone"), {}).what, action::offline);
  EXPECT_EQ(decide_message_route(msg("headline"), J("a@h/gone"), {}).what, action::drop_if_account);
}

TEST(message_route, bare_jid_highest_priority_for_normal_and_chat_8_5_2_1_1) {
  std::vector<resource_info> rs{res("a@h/lo", true, 1), res("a@h/hi1", true, 7), res("a@h/hi2", true, 7),
                                res("a@h/neg", true, -1), res("a@h/unavail", false, 100)};
  for (auto t : {"", "chat"}) {
    auto r = decide_message_route(msg(t), J("a@h"), rs);
    EXPECT_EQ(r.what, action::deliver);
    EXPECT_EQ(targets(r), (std::vector<std::string>{"a@h/hi1", "a@h/hi2"})) << t;
  }
  auto h = decide_message_route(msg("headline"), J("a@h"), rs);
  EXPECT_EQ(h.what, action::deliver);
  EXPECT_EQ(targets(h), (std::vector<std::string>{"a@h/hi1", "a@h/hi2", "a@h/lo"}));
  EXPECT_EQ(decide_message_route(msg("groupchat"), J("a@h"), rs).what, action::service_unavailable);
  EXPECT_EQ(decide_message_route(msg("error"), J("a@h"), rs).what, action::drop);
}

TEST(message_route, priority_zero_counts_as_non_negative) {
  std::vector<resource_info> rs{res("a@h/z", true, 0)};
  auto r = decide_message_route(msg("chat"), J("a@h"), rs);
  EXPECT_EQ(r.what, action::deliver);
  EXPECT_EQ(targets(r), std::vector<std::string>{"a@h/z"});
}

TEST(message_route, no_available_resource_8_5_2_2_1) {
  // Only negative priority or not-yet-available resources.
  std::vector<resource_info> rs{res("a@h/neg", true, -5), res("a@h/bound", false, 0)};
  EXPECT_EQ(decide_message_route(msg(""), J("a@h"), rs).what, action::offline);
  EXPECT_EQ(decide_message_route(msg("chat"), J("a@h"), rs).what, action::offline);
  EXPECT_EQ(decide_message_route(msg("headline"), J("a@h"), rs).what, action::drop);
  EXPECT_EQ(decide_message_route(msg("groupchat"), J("a@h"), rs).what, action::service_unavailable);
  EXPECT_EQ(decide_message_route(msg("error"), J("a@h"), rs).what, action::drop);
  // No session at all: the account may not exist (§8.5.1).
  EXPECT_EQ(decide_message_route(msg("headline"), J("a@h"), {}).what, action::drop_if_account);
  EXPECT_EQ(decide_message_route(msg("error"), J("a@h"), {}).what, action::drop);
}
