#include <gtest/gtest.h>

#include "core/s2s_dialback.hpp"
#include "xml/stream_parser.hpp"

namespace starling {
namespace {

TEST(S2sDialback, Xep0185ExampleKey) {
  // XEP-0185 §4: secret 's3cr3tf0rd14lb4ck', Receiving Server xmpp.example.com, Originating
  // Server example.org, stream id D60000229F.
  EXPECT_EQ(dialback_key("s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F"),
            "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643");
}

TEST(S2sDialback, KeyDependsOnEveryInput) {
  const std::string k = dialback_key("secret", "b.example", "a.example", "id1");
  EXPECT_EQ(k.size(), 64u);
  EXPECT_NE(k, dialback_key("secret2", "b.example", "a.example", "id1"));
  EXPECT_NE(k, dialback_key("secret", "a.example", "b.example", "id1"));  // roles are not symmetric
  EXPECT_NE(k, dialback_key("secret", "b.example", "a.example", "id2"));
  // The space separator keeps concatenations apart (XEP-0185 §3 note).
  EXPECT_NE(dialback_key("s", "example.in", "form.example.org", "x"),
            dialback_key("s", "example.info", "rm.example.org", "x"));
}

TEST(S2sDialback, ElementsWithKeyAndType) {
  EXPECT_EQ(dialback_element("result", "a.example", "b.example", {}, std::nullopt, "abc"),
            "<db:result from='a.example' to='b.example'>abc</db:result>");
  EXPECT_EQ(dialback_element("verify", "b.example", "a.example", "i'd", dialback_outcome::valid()),
            "<db:verify from='b.example' to='a.example' id='i&apos;d' type='valid'/>");
  EXPECT_EQ(dialback_element("result", "b", "a", {}, dialback_outcome::error(stanza_condition::item_not_found)),
            "<db:result from='b' to='a' type='error'><error type='cancel'><item-not-found "
            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:result>");
}

TEST(S2sDialback, ParseType) {
  xml::element r("result", std::string(ns_dialback));
  EXPECT_FALSE(parse_dialback_type(r));  // a request
  r.set_attr("type", "valid");
  EXPECT_EQ(parse_dialback_type(r)->type, dialback_outcome::kind::valid);
  r.set_attr("type", "invalid");
  EXPECT_EQ(parse_dialback_type(r)->type, dialback_outcome::kind::invalid);
  r.set_attr("type", "bogus");
  EXPECT_FALSE(parse_dialback_type(r));
  r.set_attr("type", "error");
  r.add("error", std::string(xml::ns_server)).add("remote-server-timeout", std::string(ns_stanzas));
  auto o = parse_dialback_type(r);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->type, dialback_outcome::kind::error);
  EXPECT_EQ(o->condition, stanza_condition::remote_server_timeout);
}

}  // namespace
}  // namespace starling
