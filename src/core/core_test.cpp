// Unit tests for the core's pure parts: stanza/stream error vocabulary, hooks, rate limiting,
// the session manager's bookkeeping and the module registry.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "core/bind2_registry.hpp"
#include "core/hooks.hpp"
#include "core/module.hpp"
#include "core/rate_limiter.hpp"
#include "core/session_manager.hpp"
#include "core/stanza.hpp"
#include "xml/writer.hpp"

using namespace starling;

TEST(StanzaErrors, ConditionsTypesAndLegacyCodes) {
  // RFC 6120 §8.3.3 names, XEP-0086 §3 codes.
  EXPECT_EQ(to_string(stanza_condition::service_unavailable), "service-unavailable");
  EXPECT_EQ(legacy_code(stanza_condition::service_unavailable), 503);
  EXPECT_EQ(default_type(stanza_condition::service_unavailable), error_type::cancel);
  EXPECT_EQ(to_string(stanza_condition::jid_malformed), "jid-malformed");
  EXPECT_EQ(legacy_code(stanza_condition::jid_malformed), 400);
  EXPECT_EQ(legacy_code(stanza_condition::not_authorized), 401);
  EXPECT_EQ(default_type(stanza_condition::not_authorized), error_type::auth);
  EXPECT_EQ(legacy_code(stanza_condition::conflict), 409);
  EXPECT_EQ(legacy_code(stanza_condition::not_acceptable), 406);
  EXPECT_EQ(to_string(stanza_condition::unexpected_request), "unexpected-request");
  EXPECT_EQ(default_type(stanza_condition::resource_constraint), error_type::wait);
}

TEST(StanzaErrors, StreamConditionNames) {
  EXPECT_EQ(to_string(stream_condition::bad_format), "bad-format");
  EXPECT_EQ(to_string(stream_condition::host_unknown), "host-unknown");
  EXPECT_EQ(to_string(stream_condition::restricted_xml), "restricted-xml");
  EXPECT_EQ(to_string(stream_condition::unsupported_version), "unsupported-version");
  auto e = make_stream_error(stream_condition::policy_violation, "too big");
  EXPECT_EQ(xml::to_string(e, xml::ns_client),
            "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>too big</text></stream:error>");
}

TEST(StanzaErrors, ErrorReplySwapsAddressesAndKeepsIqPayload) {
  xml::element iq("iq", std::string(xml::ns_client));
  iq.set_attr("from", "a@x/r").set_attr("to", "x").set_attr("id", "7").set_attr("type", "get");
  iq.add("query", "urn:unknown");
  auto r = make_error_reply(iq, stanza_condition::service_unavailable);
  EXPECT_EQ(r.attr_or("to"), "a@x/r");
  EXPECT_EQ(r.attr_or("from"), "x");
  EXPECT_EQ(r.attr_or("id"), "7");
  EXPECT_EQ(r.attr_or("type"), "error");
  ASSERT_NE(r.child("query", "urn:unknown"), nullptr);
  const auto* err = r.child("error", xml::ns_client);
  ASSERT_NE(err, nullptr);
  EXPECT_EQ(err->attr_or("type"), "cancel");
  EXPECT_EQ(err->attr_or("code"), "503");
  EXPECT_NE(err->child("service-unavailable", ns_stanzas), nullptr);
  EXPECT_TRUE(is_error(r));
  EXPECT_FALSE(is_error(iq));
}

TEST(StanzaErrors, ResultAnswersRequest) {
  xml::element iq("iq", std::string(xml::ns_client));
  iq.set_attr("from", "a@x/r").set_attr("id", "q1").set_attr("type", "get");
  auto r = make_result(iq);
  EXPECT_EQ(r.attr_or("type"), "result");
  EXPECT_EQ(r.attr_or("id"), "q1");
  EXPECT_EQ(r.attr_or("to"), "a@x/r");
  EXPECT_EQ(r.attr("from"), nullptr);
}

TEST(Hooks, PriorityOrderAndStop) {
  hook<int&> h;
  std::vector<int> order;
  h.add(0, [&](int&) { order.push_back(0); return hook_result::next; });
  h.add(10, [&](int& v) { order.push_back(10); v = 5; return hook_result::next; });
  h.add(5, [&](int& v) { order.push_back(5); return v == 5 ? hook_result::stop : hook_result::next; });
  int v = 0;
  EXPECT_EQ(h.run(v), hook_result::stop);
  EXPECT_EQ(order, (std::vector<int>{10, 5}));
}

TEST(RateLimiter, LimitsWithinWindowAndForgets) {
  rate_limiter r(3, std::chrono::milliseconds(200));
  EXPECT_TRUE(r.allowed("ip"));
  r.record("ip");
  r.record("ip");
  EXPECT_TRUE(r.allowed("ip"));
  r.record("ip");
  EXPECT_FALSE(r.allowed("ip"));
  EXPECT_TRUE(r.allowed("other"));
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_TRUE(r.allowed("ip"));
  r.record("ip");
  r.record("ip");
  r.record("ip");
  EXPECT_FALSE(r.allowed("ip"));
  r.clear("ip");
  EXPECT_TRUE(r.allowed("ip"));
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  rate_limiter r(0, std::chrono::seconds(1));
  for (int i = 0; i < 100; ++i) r.record("k");
  EXPECT_TRUE(r.allowed("k"));
}

TEST(SessionManager, AddReplaceRemove) {
  session_manager m;
  // The manager only stores pointers; fake sessions need no behaviour here.
  auto a = std::shared_ptr<c2s_session>(reinterpret_cast<c2s_session*>(0x1000), [](c2s_session*) {});
  auto b = std::shared_ptr<c2s_session>(reinterpret_cast<c2s_session*>(0x2000), [](c2s_session*) {});
  auto full = *jid::parse("u@h/r");
  EXPECT_EQ(m.add(full, a), nullptr);
  EXPECT_EQ(m.add(full, b), a);  // taken: nothing registered
  EXPECT_EQ(m.find(full), a);
  EXPECT_EQ(m.replace(full, b), a);
  EXPECT_EQ(m.find(full), b);
  m.remove(full, a.get());  // a replaced session must not remove its successor
  EXPECT_EQ(m.find(full), b);
  EXPECT_EQ(m.add(*jid::parse("u@h/r2"), a), nullptr);
  EXPECT_EQ(m.resource_count(*jid::parse("u@h")), 2u);
  EXPECT_EQ(m.find_bare(*jid::parse("u@h")).size(), 2u);
  EXPECT_EQ(m.size(), 2u);
  m.remove(full, b.get());
  m.remove(*jid::parse("u@h/r2"), a.get());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_TRUE(m.find_bare(*jid::parse("u@h")).empty());
}

TEST(Modules, EveryModuleRegisteredOnce) {
  std::set<std::string> names;
  for (const auto& m : module_registry()) EXPECT_TRUE(names.insert(m.name).second) << m.name;
  for (const char* expected : {"disco", "ping", "version", "time", "register", "iq_auth", "session"})
    EXPECT_TRUE(names.count(expected)) << expected;
}

TEST(Bind2Registry, AdvertisesSortedAndDispatchesByNamespace) {
  // XEP-0386 §3.1: every registered namespace is advertised; the handler answers in <bound/>.
  bind2_registry r;
  EXPECT_TRUE(r.empty());
  r.add("urn:xmpp:sm:3", [](c2s_session&, const xml::element& req, xml::element& bound) -> boost::asio::awaitable<void> {
    bound.add("enabled", req.ns()).set_attr("id", "x");
    co_return;
  });
  r.add("urn:xmpp:carbons:2", [](c2s_session&, const xml::element&, xml::element&) -> boost::asio::awaitable<void> {
    co_return;
  });
  EXPECT_EQ(r.features(), (std::vector<std::string>{"urn:xmpp:carbons:2", "urn:xmpp:sm:3"}));
  EXPECT_EQ(r.find("urn:xmpp:csi:0"), nullptr);
  const bind2_handler* h = r.find("urn:xmpp:sm:3");
  ASSERT_NE(h, nullptr);

  xml::element request("enable", "urn:xmpp:sm:3");
  xml::element bound("bound", "urn:xmpp:bind:0");
  boost::asio::io_context io;
  // The session is not touched by this handler; the registry only passes it through.
  auto* session = reinterpret_cast<c2s_session*>(0x1000);
  boost::asio::co_spawn(io, (*h)(*session, request, bound), boost::asio::detached);
  io.run();
  ASSERT_NE(bound.child("enabled", "urn:xmpp:sm:3"), nullptr);
  EXPECT_EQ(bound.child("enabled", "urn:xmpp:sm:3")->attr_or("id"), "x");
}
