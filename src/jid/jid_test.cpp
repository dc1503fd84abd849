#include "jid/jid.hpp"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

using starling::jid;

namespace {

struct parts {
  std::string local, domain, resource;
};

void expect_parts(std::string_view text, const parts& want) {
  SCOPED_TRACE(std::string(text));
  std::optional<jid> j = jid::parse(text);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->local(), want.local);
  EXPECT_EQ(j->domain(), want.domain);
  EXPECT_EQ(j->resource(), want.resource);
  // Idempotence: the string form parses back to the same address.
  EXPECT_EQ(jid::parse(j->str()), j);
}

}  // namespace

// RFC 7622 §3.5 valid examples.
TEST(Jid, Rfc7622ValidExamples) {
  expect_parts("juliet@example.com", {"juliet", "example.com", ""});
  expect_parts("juliet@example.com/foo", {"juliet", "example.com", "foo"});
  expect_parts("juliet@example.com/foo bar", {"juliet", "example.com", "foo bar"});
  expect_parts("juliet@example.com/foo@bar", {"juliet", "example.com", "foo@bar"});
  expect_parts("foo\\20bar@example.com", {"foo\\20bar", "example.com", ""});
  expect_parts("fussball@example.com", {"fussball", "example.com", ""});
  expect_parts("fu\u00DF" "ball@example.com", {"fu\u00DF" "ball", "example.com", ""});
  expect_parts("\u03C0@example.com", {"\u03C0", "example.com", ""});
  expect_parts("\u03A3@example.com/foo", {"\u03C3", "example.com", "foo"});
  expect_parts("\u03C3@example.com/foo", {"\u03C3", "example.com", "foo"});
  expect_parts("\u03C2@example.com/foo", {"\u03C2", "example.com", "foo"});
  expect_parts("king@example.com/\u265A", {"king", "example.com", "\u265A"});
  expect_parts("example.com", {"", "example.com", ""});
  expect_parts("example.com/foobar", {"", "example.com", "foobar"});
  expect_parts("a.example.com/b@example.net", {"", "a.example.com", "b@example.net"});
  // κάθαρος from the task list; lowercase Greek with tonos, already NFC.
  expect_parts("\u03BA\u03AC\u03B8\u03B1\u03C1\u03BF\u03C2@example.com",
               {"\u03BA\u03AC\u03B8\u03B1\u03C1\u03BF\u03C2", "example.com", ""});
}

// RFC 7622 §3.5 invalid examples.
TEST(Jid, Rfc7622InvalidExamples) {
  EXPECT_FALSE(jid::parse("\"juliet\"@example.com"));  // U+0022 in localpart
  EXPECT_FALSE(jid::parse("foo bar@example.com"));     // space in localpart
  EXPECT_FALSE(jid::parse("@example.com/"));           // empty localpart and resourcepart
  EXPECT_FALSE(jid::parse("henry\u2163@example.com")); // ROMAN NUMERAL FOUR
  EXPECT_FALSE(jid::parse("\u265A@example.com"));      // BLACK CHESS KING in localpart
  EXPECT_FALSE(jid::parse("juliet@"));                 // empty domainpart
  EXPECT_FALSE(jid::parse("/foobar"));                 // no domainpart
}

// RFC 7622 §3.5 also lists "juliet@example.com/ foo" as invalid, but its OpaqueString profile
// (RFC 8265 §4.2) has no rule against leading spaces; we follow the normative profile (see
// jid.cpp). The leading space is kept, so it is a different resource from "foo".
TEST(Jid, LeadingSpaceInResourceFollowsOpaqueString) {
  expect_parts("juliet@example.com/ foo", {"juliet", "example.com", " foo"});
  EXPECT_NE(jid::parse("juliet@example.com/ foo"), jid::parse("juliet@example.com/foo"));
  expect_parts("juliet@example.com/foo ", {"juliet", "example.com", "foo "});
  expect_parts("juliet@example.com/ ", {"juliet", "example.com", " "});
}

TEST(Jid, EmptyParts) {
  EXPECT_FALSE(jid::parse(""));
  EXPECT_FALSE(jid::parse("@"));
  EXPECT_FALSE(jid::parse("/"));
  EXPECT_FALSE(jid::parse("@/"));
  EXPECT_FALSE(jid::parse("@example.com"));
  EXPECT_FALSE(jid::parse("juliet@example.com/"));
  EXPECT_FALSE(jid::parse("example.com/"));
  EXPECT_FALSE(jid::parse("juliet@/foo"));
  EXPECT_FALSE(jid::parse("."));
}

TEST(Jid, Splitting) {
  // RFC 7622 §3.1: the first '/' starts the resourcepart, which may hold '/' and '@'.
  expect_parts("juliet@example.com/foo/bar", {"juliet", "example.com", "foo/bar"});
  expect_parts("juliet@example.com/a@b/c@d", {"juliet", "example.com", "a@b/c@d"});
  expect_parts("example.com/@", {"", "example.com", "@"});
  // The first '@' before the '/' ends the localpart; a second one lands in the domainpart.
  EXPECT_FALSE(jid::parse("a@b@example.com"));
  // Separators are matched before mapping: FULLWIDTH COMMERCIAL AT does not split, and maps
  // to '@', which localparts exclude (RFC 7622 §3.3.1).
  EXPECT_FALSE(jid::parse("a\uFF20b@example.com"));
  // FULLWIDTH SOLIDUS does not split either; in a domainpart it maps to '/' and is invalid.
  EXPECT_FALSE(jid::parse("example.com\uFF0Ffoo"));
  expect_parts("example.com/a\uFF0Fb", {"", "example.com", "a\uFF0Fb"});
}

TEST(Jid, LocalpartExclusions) {
  // RFC 7622 §3.3.1: " & ' / : < > @ are allowed by UsernameCaseMapped but not in localparts.
  for (const char* bad : {"a\"b", "a&b", "a'b", "a:b", "a<b", "a>b"}) {
    EXPECT_FALSE(jid::parse(std::string(bad) + "@example.com")) << bad;
    EXPECT_FALSE(jid::from_parts(bad, "example.com")) << bad;
  }
  EXPECT_FALSE(jid::from_parts("a/b", "example.com"));
  EXPECT_FALSE(jid::from_parts("a@b", "example.com"));
  // Other ASCII punctuation is fine.
  expect_parts("a.b-c_d+e=f!g#h$i%j*k?l^m`n{o|p}q~r@example.com",
               {"a.b-c_d+e=f!g#h$i%j*k?l^m`n{o|p}q~r", "example.com", ""});
  // The resourcepart has no such exclusions.
  expect_parts("example.com/\"&'/:<>@", {"", "example.com", "\"&'/:<>@"});
}

TEST(Jid, CaseMapping) {
  EXPECT_EQ(jid::parse("JULIET@EXAMPLE.COM"), jid::parse("juliet@example.com"));
  EXPECT_EQ(jid::parse("JULIET@EXAMPLE.COM")->str(), "juliet@example.com");
  // Resources are case-sensitive (OpaqueString has no case mapping).
  EXPECT_NE(jid::parse("juliet@example.com/Foo"), jid::parse("juliet@example.com/foo"));
  EXPECT_EQ(jid::parse("juliet@example.com/Foo")->resource(), "Foo");
  // Unicode toLowerCase, not folding: fußball and fussball stay distinct.
  EXPECT_NE(jid::parse("fu\u00DF" "ball@example.com"), jid::parse("fussball@example.com"));
  EXPECT_EQ(jid::parse("\u03A3@example.com"), jid::parse("\u03C3@example.com"));
}

TEST(Jid, WidthMappingAndNormalization) {
  // FULLWIDTH JULIET in the localpart and in the domainpart.
  EXPECT_EQ(jid::parse("\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34@example.com"),
            jid::parse("juliet@example.com"));
  EXPECT_EQ(jid::parse("juliet@\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25.com"),
            jid::parse("juliet@example.com"));
  // No width mapping in resourceparts (RFC 8265 §4.2.1).
  EXPECT_EQ(jid::parse("juliet@example.com/\uFF21")->resource(), "\uFF21");
  // NFC in all three parts.
  auto j = jid::parse("e\u0301@bu\u0308cher.de/e\u0301");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->local(), "\u00E9");
  EXPECT_EQ(j->domain(), "b\u00FCcher.de");
  EXPECT_EQ(j->resource(), "\u00E9");
  // Resourceparts map non-ASCII spaces to U+0020.
  EXPECT_EQ(jid::parse("juliet@example.com/foo\u00A0bar")->resource(), "foo bar");
}

TEST(Jid, InvalidCodePoints) {
  EXPECT_FALSE(jid::parse("juliet@example.com/foo\tbar"));  // control in resourcepart
  EXPECT_FALSE(jid::parse("juliet@example.com/\u200B"));    // default ignorable
  EXPECT_FALSE(jid::parse("jul\u200Biet@example.com"));
  EXPECT_FALSE(jid::parse("juliet@exa_mple.com"));
  EXPECT_FALSE(jid::parse("juliet@\U0001F4A9.com"));
  EXPECT_FALSE(jid::parse("juliet@example.com/\xC0\xAF"));  // ill-formed UTF-8
  EXPECT_FALSE(jid::parse("jul\xFFiet@example.com"));
  EXPECT_FALSE(jid::parse(std::string_view("juliet@example.com\0", 19)));
  EXPECT_FALSE(jid::parse(std::string_view("juliet\0@example.com", 19)));
}

TEST(Jid, LengthLimits) {
  // RFC 7622 §3.1: each part 1..1023 octets after enforcement.
  const std::string l1023(1023, 'a');
  EXPECT_TRUE(jid::parse(l1023 + "@example.com"));
  EXPECT_FALSE(jid::parse(l1023 + "a@example.com"));
  EXPECT_TRUE(jid::parse("example.com/" + l1023));
  EXPECT_FALSE(jid::parse("example.com/" + l1023 + "a"));
  // Octets, not code points: 511 two-octet "é" plus one ASCII letter is 1023 octets.
  std::string e;
  for (int i = 0; i < 511; ++i) e += "\u00E9";
  EXPECT_TRUE(jid::parse(e + "a@example.com"));
  EXPECT_FALSE(jid::parse(e + "aa@example.com"));
  EXPECT_TRUE(jid::parse("example.com/" + e + "a"));
  EXPECT_FALSE(jid::parse("example.com/" + e + "\u00E9"));
  // The limit applies after enforcement: 1023 fullwidth letters (3069 octets) map to 1023.
  std::string wide;
  for (int i = 0; i < 1023; ++i) wide += "\uFF41";
  auto j = jid::parse(wide + "@example.com");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->local(), l1023);
  EXPECT_FALSE(jid::parse(wide + "\uFF41@example.com"));
  // Decomposed input that composes under NFC: 1023 x (e + U+0301) is 3069 octets, 2046 after.
  std::string decomposed;
  for (int i = 0; i < 511; ++i) decomposed += "e\u0301";
  EXPECT_TRUE(jid::parse("example.com/" + decomposed + "a"));
  // Domains are bound by DNS: 253 octets in A-label form.
  const std::string l63(63, 'a');
  EXPECT_TRUE(jid::parse("x@" + l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a')));
  EXPECT_FALSE(jid::parse("x@" + l63 + "." + l63 + "." + l63 + "." + std::string(62, 'a')));
  // Large garbage is rejected early rather than processed.
  EXPECT_FALSE(jid::parse(std::string(1 << 20, 'a') + "@example.com"));
  EXPECT_FALSE(jid::parse("example.com/" + std::string(1 << 20, 'a')));
}

TEST(Jid, Domains) {
  expect_parts("localhost", {"", "localhost", ""});
  expect_parts("juliet@localhost/r", {"juliet", "localhost", "r"});
  // RFC 7622 §3.2: a trailing dot is stripped before comparison.
  EXPECT_EQ(jid::parse("juliet@example.com."), jid::parse("juliet@example.com"));
  EXPECT_EQ(jid::parse("juliet@example.com./r")->str(), "juliet@example.com/r");
  EXPECT_FALSE(jid::parse("juliet@example.com.."));
  // IP literals.
  expect_parts("juliet@[::1]/r", {"juliet", "[::1]", "r"});
  expect_parts("juliet@[2001:db8::7]", {"juliet", "[2001:db8::7]", ""});
  expect_parts("juliet@192.0.2.7/r", {"juliet", "192.0.2.7", "r"});
  EXPECT_FALSE(jid::parse("juliet@[::1"));
  EXPECT_FALSE(jid::parse("juliet@[v1.x]"));
  EXPECT_FALSE(jid::parse("juliet@::1"));
  // IDN: U-labels and A-labels compare equal; domain() gives U-labels.
  const std::string u = "\u4F8B\u3048.\u30C6\u30B9\u30C8";  // 例え.テスト
  auto a = jid::parse("juliet@" + u);
  auto b = jid::parse("juliet@xn--r8jz45g.xn--zckzah");
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(b->domain(), u);
  EXPECT_EQ(jid::parse("juliet@\u4F8B\u3048\u3002\u30C6\u30B9\u30C8\u3002"), a);
}

TEST(Jid, Accessors) {
  auto j = jid::parse("Juliet@Example.com/Balcony");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->str(), "juliet@example.com/Balcony");
  EXPECT_EQ(j->bare_str(), "juliet@example.com");
  EXPECT_TRUE(j->has_local());
  EXPECT_TRUE(j->has_resource());
  EXPECT_FALSE(j->is_bare());
  EXPECT_FALSE(j->is_domain());
  EXPECT_FALSE(j->empty());

  jid bare = j->bare();
  EXPECT_EQ(bare.str(), "juliet@example.com");
  EXPECT_TRUE(bare.is_bare());
  EXPECT_FALSE(bare.has_resource());
  EXPECT_EQ(bare, *jid::parse("juliet@example.com"));

  jid other = j->with_resource("orchard");
  EXPECT_EQ(other.str(), "juliet@example.com/orchard");
  EXPECT_EQ(other.bare(), bare);
  EXPECT_EQ(j->with_resource(""), bare);

  auto d = jid::parse("example.com");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->is_domain());
  EXPECT_TRUE(d->is_bare());
  EXPECT_EQ(d->bare_str(), "example.com");
  EXPECT_EQ(d->bare(), *d);

  auto dr = jid::parse("example.com/res");
  ASSERT_TRUE(dr);
  EXPECT_FALSE(dr->is_domain());
  EXPECT_FALSE(dr->has_local());
  EXPECT_EQ(dr->bare_str(), "example.com");

  jid none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.str(), "");
}

// bare_into() replaces the buffer's content and keeps it for the next call (one buffer per
// thread in the routing look-ups, issue 6).
TEST(Jid, BareIntoReplacesTheCallersBuffer) {
  std::string buf = "left over from an earlier, longer key";
  const auto full = jid::parse("juliet@example.com/balcony");
  ASSERT_TRUE(full);
  const std::string& out = full->bare_into(buf);
  EXPECT_EQ(&out, &buf);
  EXPECT_EQ(buf, "juliet@example.com");
  EXPECT_EQ(jid::parse("example.com/r")->bare_into(buf), "example.com");
  EXPECT_EQ(jid().bare_into(buf), "");
}

TEST(Jid, FromParts) {
  EXPECT_EQ(jid::from_parts("JULIET", "EXAMPLE.COM", "Balcony"),
            jid::parse("juliet@example.com/Balcony"));
  EXPECT_EQ(jid::from_parts("", "example.com"), jid::parse("example.com"));
  EXPECT_EQ(jid::from_parts("", "example.com", "r"), jid::parse("example.com/r"));
  EXPECT_EQ(jid::from_parts("juliet", "xn--r8jz45g.xn--zckzah")->domain(),
            "\u4F8B\u3048.\u30C6\u30B9\u30C8");
  EXPECT_FALSE(jid::from_parts("juliet", ""));
  EXPECT_FALSE(jid::from_parts("foo bar", "example.com"));
  EXPECT_FALSE(jid::from_parts("juliet", "example.com", "a\tb"));
  EXPECT_FALSE(jid::from_parts("juliet", "exa mple.com"));
  // from_parts does no splitting: '/' and '@' are only invalid where the part forbids them.
  EXPECT_EQ(jid::from_parts("juliet", "example.com", "a/b@c")->resource(), "a/b@c");
  EXPECT_FALSE(jid::from_parts("juliet", "example.com/x"));
}

TEST(Jid, EnforceParts) {
  EXPECT_EQ(jid::enforce_localpart("JULIET"), "juliet");
  EXPECT_FALSE(jid::enforce_localpart(""));
  EXPECT_FALSE(jid::enforce_localpart("a@b"));
  EXPECT_EQ(jid::enforce_domainpart("Example.COM."), "example.com");
  EXPECT_FALSE(jid::enforce_domainpart(""));
  EXPECT_EQ(jid::enforce_resourcepart("Foo\u3000Bar"), "Foo Bar");
  EXPECT_FALSE(jid::enforce_resourcepart(""));
}

TEST(Jid, OrderingAndHash) {
  std::unordered_set<jid> set;
  set.insert(*jid::parse("juliet@example.com/a"));
  set.insert(*jid::parse("JULIET@example.com/a"));
  set.insert(*jid::parse("juliet@example.com/A"));
  set.insert(*jid::parse("juliet@example.com"));
  EXPECT_EQ(set.size(), 3u);
  EXPECT_LT(*jid::parse("a@example.com"), *jid::parse("b@example.com"));
}
