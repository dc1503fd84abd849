#include "core/sm_queue.hpp"

#include <gtest/gtest.h>

namespace starling {
namespace {

xml::element msg(int n) {
  xml::element m("message", "jabber:client");
  m.set_attr("id", std::to_string(n));
  return m;
}

TEST(SmQueue, ParsesH) {
  EXPECT_EQ(parse_sm_h("0"), 0u);
  EXPECT_EQ(parse_sm_h("4294967295"), 4294967295u);
  EXPECT_FALSE(parse_sm_h("4294967296"));
  EXPECT_FALSE(parse_sm_h(""));
  EXPECT_FALSE(parse_sm_h("-1"));
  EXPECT_FALSE(parse_sm_h(" 1"));
  EXPECT_FALSE(parse_sm_h("1x"));
  EXPECT_FALSE(parse_sm_h("00000000001"));
}

TEST(SmQueue, AcksDropAcknowledgedStanzas) {
  sm_outbound_queue q;
  for (int i = 0; i < 5; ++i) q.push(msg(i));
  EXPECT_EQ(q.sent(), 5u);
  EXPECT_TRUE(q.ack(2));
  ASSERT_EQ(q.unacked(), 3u);
  EXPECT_EQ(q.pending().front().attr_or("id"), "2");
  EXPECT_TRUE(q.ack(2));  // the same h again changes nothing
  EXPECT_EQ(q.unacked(), 3u);
  EXPECT_TRUE(q.ack(5));
  EXPECT_EQ(q.unacked(), 0u);
  EXPECT_EQ(q.acked(), 5u);
}

TEST(SmQueue, HandledCountTooHighIsRefused) {
  sm_outbound_queue q;
  q.push(msg(0));
  q.push(msg(1));
  EXPECT_FALSE(q.ack(3));
  EXPECT_EQ(q.unacked(), 2u);
  EXPECT_EQ(q.acked(), 0u);
  // An h below the last one acknowledged is "too high" modulo 2^32, not a rewind.
  EXPECT_TRUE(q.ack(2));
  EXPECT_FALSE(q.ack(1));
}

TEST(SmQueue, CountersWrapAt32Bits) {
  sm_outbound_queue q(4294967294u);
  for (int i = 0; i < 4; ++i) q.push(msg(i));
  EXPECT_EQ(q.sent(), 2u);  // 4294967294 + 4 mod 2^32
  EXPECT_TRUE(q.ack(4294967295u));
  EXPECT_EQ(q.unacked(), 3u);
  EXPECT_TRUE(q.ack(0));
  EXPECT_EQ(q.unacked(), 2u);
  EXPECT_EQ(q.pending().front().attr_or("id"), "2");
  EXPECT_FALSE(q.ack(3));
  EXPECT_TRUE(q.ack(2));
  EXPECT_EQ(q.unacked(), 0u);
}

TEST(SmQueue, TakeEmptiesAndAdvances) {
  sm_outbound_queue q;
  q.push(msg(0));
  q.push(msg(1));
  auto all = q.take();
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(q.unacked(), 0u);
  EXPECT_EQ(q.sent(), 2u);
}

}  // namespace
}  // namespace starling
