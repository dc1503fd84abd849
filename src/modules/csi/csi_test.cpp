#include <gtest/gtest.h>

#include "modules/csi/csi_queue.hpp"

namespace starling::modules::csi {
namespace {

xml::element presence(std::string from, std::string show = "") {
  xml::element p("presence", "jabber:client");
  p.set_attr("from", from);
  if (!show.empty()) p.add("show", "jabber:client").add_text(show);
  return p;
}

xml::element message(bool body, bool state) {
  xml::element m("message", "jabber:client");
  m.set_attr("from", "a@x/r");
  m.set_attr("type", "chat");
  if (body) m.add("body", "jabber:client").add_text("hi");
  if (state) m.add("composing", std::string(ns_chatstates));
  return m;
}

TEST(Csi, WhatCanWait) {
  EXPECT_TRUE(can_wait(presence("a@x/r")));
  auto unavailable = presence("a@x/r");
  unavailable.set_attr("type", "unavailable");
  EXPECT_TRUE(can_wait(unavailable));
  auto subscribe = presence("a@x");
  subscribe.set_attr("type", "subscribe");
  EXPECT_FALSE(can_wait(subscribe));
  EXPECT_TRUE(can_wait(message(false, true)));
  EXPECT_FALSE(can_wait(message(true, true)));
  EXPECT_FALSE(can_wait(message(true, false)));
  EXPECT_FALSE(can_wait(message(false, false)));
  xml::element iq("iq", "jabber:client");
  iq.set_attr("type", "set");
  EXPECT_FALSE(can_wait(iq));
}

TEST(Csi, PresenceFromOneSenderIsMerged) {
  held_queue q(10);
  EXPECT_TRUE(q.hold(presence("a@x/r", "away")));
  EXPECT_TRUE(q.hold(presence("b@x/r")));
  EXPECT_TRUE(q.hold(message(false, true)));
  EXPECT_TRUE(q.hold(presence("a@x/r", "dnd")));
  auto out = q.take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].attr_or("from"), "b@x/r");
  EXPECT_EQ(out[1].name(), "message");
  EXPECT_EQ(out[2].attr_or("from"), "a@x/r");
  EXPECT_EQ(out[2].child_text("show", "jabber:client"), "dnd");
  EXPECT_TRUE(q.empty());
}

TEST(Csi, BoundedQueue) {
  held_queue q(2);
  EXPECT_TRUE(q.hold(presence("a@x/r")));
  EXPECT_TRUE(q.hold(presence("b@x/r")));
  EXPECT_FALSE(q.hold(presence("c@x/r")));
  EXPECT_TRUE(q.hold(presence("a@x/r", "away")));  // merging needs no room
  EXPECT_EQ(q.size(), 2u);
}

}  // namespace
}  // namespace starling::modules::csi
