// RFC 6121 Appendix A: every row of the outbound (A.2) and inbound (A.3) tables, plus the
// pre-approval rules of §3.4.
#include <gtest/gtest.h>

#include "modules/roster/subscription.hpp"

namespace starling::roster {
namespace {

using S = subscription;
constexpr sub_state None{S::none, false, false};
constexpr sub_state NonePO{S::none, true, false};
constexpr sub_state NonePI{S::none, false, true};
constexpr sub_state NonePOPI{S::none, true, true};
constexpr sub_state To{S::to, false, false};
constexpr sub_state ToPI{S::to, false, true};
constexpr sub_state From{S::from, false, false};
constexpr sub_state FromPO{S::from, true, false};
constexpr sub_state Both{S::both, false, false};

struct row {
  sub_state before;
  sub_state after;  // == before: "no state change"
};

void check(const char* table, bool is_outbound, sub_type t, const std::vector<row>& rows) {
  for (size_t i = 0; i < rows.size(); ++i) {
    auto r = is_outbound ? outbound(rows[i].before, t) : inbound(rows[i].before, t);
    EXPECT_EQ(r.next, rows[i].after) << table << " row " << i + 1;
    EXPECT_EQ(r.changed, !(rows[i].before == rows[i].after)) << table << " row " << i + 1;
  }
}

TEST(subscription, a21_outbound_subscribe) {
  check("A.2.1", true, sub_type::subscribe,
        {{None, NonePO}, {NonePO, NonePO}, {NonePI, NonePOPI}, {NonePOPI, NonePOPI}, {To, To},
         {ToPI, ToPI}, {From, FromPO}, {FromPO, FromPO}, {Both, Both}});
  EXPECT_TRUE(outbound(To, sub_type::subscribe).forward);  // §3.1.2: always routed
}

TEST(subscription, a22_outbound_unsubscribe) {
  check("A.2.2", true, sub_type::unsubscribe,
        {{None, None}, {NonePO, None}, {NonePI, NonePI}, {NonePOPI, NonePI}, {To, None},
         {ToPI, NonePI}, {From, From}, {FromPO, From}, {Both, From}});
}

TEST(subscription, a23_outbound_subscribed) {
  // The "no state change" rows with no 'from' and nothing pending become pre-approvals (§3.4),
  // checked separately below.
  auto r = [](sub_state s) { return outbound(s, sub_type::subscribed); };
  EXPECT_EQ(r(NonePI).next, From);
  EXPECT_EQ(r(NonePOPI).next, FromPO);
  EXPECT_EQ(r(ToPI).next, Both);
  for (auto s : {From, FromPO, Both}) {
    EXPECT_EQ(r(s).next, s);
    EXPECT_FALSE(r(s).changed);
    EXPECT_FALSE(r(s).forward);
  }
  for (auto s : {NonePI, NonePOPI, ToPI}) {
    EXPECT_TRUE(r(s).forward);
    EXPECT_TRUE(r(s).send_presence);  // §3.1.5
  }
  for (auto s : {None, NonePO, To}) {
    auto t = r(s);
    sub_state expect = s;
    expect.approved = true;
    EXPECT_EQ(t.next, expect);
    EXPECT_FALSE(t.forward);  // §3.4.1: a pre-approval is not routed
  }
}

TEST(subscription, a24_outbound_unsubscribed) {
  check("A.2.4", true, sub_type::unsubscribed,
        {{None, None}, {NonePO, NonePO}, {NonePI, None}, {NonePOPI, NonePO}, {To, To},
         {ToPI, To}, {From, None}, {FromPO, NonePO}, {Both, To}});
  EXPECT_TRUE(outbound(Both, sub_type::unsubscribed).send_unavailable);
  EXPECT_FALSE(outbound(None, sub_type::unsubscribed).forward);
}

TEST(subscription, a31_inbound_subscribe) {
  check("A.3.1", false, sub_type::subscribe,
        {{None, NonePI}, {NonePO, NonePOPI}, {NonePI, NonePI}, {NonePOPI, NonePOPI}, {To, ToPI},
         {ToPI, ToPI}, {From, From}, {FromPO, FromPO}, {Both, Both}});
  for (auto s : {From, FromPO, Both}) EXPECT_TRUE(inbound(s, sub_type::subscribe).auto_subscribed);
  for (auto s : {None, NonePO, To}) EXPECT_TRUE(inbound(s, sub_type::subscribe).forward);
  for (auto s : {NonePI, NonePOPI, ToPI}) EXPECT_FALSE(inbound(s, sub_type::subscribe).forward);
}

TEST(subscription, a32_inbound_unsubscribe) {
  check("A.3.2", false, sub_type::unsubscribe,
        {{None, None}, {NonePO, NonePO}, {NonePI, None}, {NonePOPI, NonePO}, {To, To},
         {ToPI, To}, {From, None}, {FromPO, NonePO}, {Both, To}});
}

TEST(subscription, a33_inbound_subscribed) {
  check("A.3.3", false, sub_type::subscribed,
        {{None, None}, {NonePO, To}, {NonePI, NonePI}, {NonePOPI, ToPI}, {To, To}, {ToPI, ToPI},
         {From, From}, {FromPO, Both}, {Both, Both}});
  EXPECT_FALSE(inbound(None, sub_type::subscribed).forward);  // §3.1.6: unsolicited, ignored
}

TEST(subscription, a34_inbound_unsubscribed) {
  check("A.3.4", false, sub_type::unsubscribed,
        {{None, None}, {NonePO, None}, {NonePI, NonePI}, {NonePOPI, NonePI}, {To, None},
         {ToPI, NonePI}, {From, From}, {FromPO, From}, {Both, From}});
}

TEST(subscription, preapproval_accepts_inbound_subscribe) {
  // RFC 6121 §3.4.1
  for (auto [before, after] : std::vector<std::pair<sub_state, sub_state>>{{None, From}, {NonePO, FromPO}, {To, Both}}) {
    sub_state s = before;
    s.approved = true;
    auto t = inbound(s, sub_type::subscribe);
    EXPECT_EQ(t.next, after);
    EXPECT_TRUE(t.auto_subscribed);
    EXPECT_TRUE(t.send_presence);
    EXPECT_FALSE(t.forward);
  }
  sub_state s = None;
  s.approved = true;
  EXPECT_EQ(outbound(s, sub_type::unsubscribed).next, None);  // §3.4.2: cancel the pre-approval
}

TEST(subscription, type_names_round_trip) {
  for (auto t : {sub_type::subscribe, sub_type::subscribed, sub_type::unsubscribe, sub_type::unsubscribed})
    EXPECT_EQ(parse_sub_type(to_string(t)), t);
  EXPECT_FALSE(parse_sub_type("probe"));
}

}  // namespace
}  // namespace starling::roster
