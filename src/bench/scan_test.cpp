// The generator's stream splitter (scan.hpp): element boundaries however the input is chunked,
// and the raw:: accessors on what servers send.
#include "bench/scan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace starling::bench;

namespace {

struct collected {
  std::vector<std::string> headers, elements;
  int closes = 0;
};

bool feed_in_chunks(stream_splitter& s, std::string_view input, size_t chunk, collected& out) {
  for (size_t i = 0; i < input.size(); i += chunk) {
    bool ok = s.feed(input.substr(i, chunk), [&](const stream_splitter::event& ev) {
      if (ev.what == stream_splitter::kind::header) out.headers.emplace_back(ev.raw);
      if (ev.what == stream_splitter::kind::element) out.elements.emplace_back(ev.raw);
      if (ev.what == stream_splitter::kind::close) ++out.closes;
    });
    if (!ok) return false;
  }
  return true;
}

const std::string stream =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='x' version='1.0'>"
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>\n"
    "<message from='a@b/c' id='b1.23' title=\"1 > 0 &amp; 'q'\"><body>x &lt; y"
    "<![CDATA[ </message> ]]></body><!-- c --></message>"
    "<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<jid>u@d/r&amp;1</jid></bind></iq>"
    "<presence/></stream:stream>";

}  // namespace

TEST(StreamSplitter, SameEventsForEveryChunkSize) {
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{64}, stream.size()}) {
    stream_splitter s;
    collected c;
    ASSERT_TRUE(feed_in_chunks(s, stream, chunk, c)) << chunk;
    ASSERT_EQ(c.headers.size(), 1u) << chunk;
    ASSERT_EQ(c.elements.size(), 4u) << chunk;
    EXPECT_EQ(c.closes, 1) << chunk;
    EXPECT_EQ(raw::name(c.elements[0]), "features");
    EXPECT_EQ(raw::name(c.elements[1]), "message");
    EXPECT_TRUE(c.elements[1].ends_with("<!-- c --></message>")) << c.elements[1];
    EXPECT_EQ(c.elements[3], "<presence/>");
    EXPECT_TRUE(s.closed());
  }
}

TEST(StreamSplitter, HoldsNoBytesBetweenStanzas) {
  stream_splitter s;
  collected c;
  ASSERT_TRUE(feed_in_chunks(s, stream.substr(0, stream.find("<message")), 1000, c));
  EXPECT_EQ(c.elements.size(), 1u);
  // Restart after STARTTLS/SASL: a new header is accepted.
  s.reset();
  ASSERT_TRUE(feed_in_chunks(s, "<stream:stream xmlns:stream='x'><a/>", 3, c));
  EXPECT_EQ(c.headers.size(), 2u);
  EXPECT_EQ(c.elements.back(), "<a/>");
}

TEST(StreamSplitter, RejectsStrayEndTagAndDoctype) {
  stream_splitter s;
  collected c;
  EXPECT_FALSE(feed_in_chunks(s, "<stream:stream xmlns:stream='x'></message>", 100, c));
  stream_splitter s2;
  EXPECT_FALSE(feed_in_chunks(s2, "<!DOCTYPE x><stream:stream>", 100, c));
}

TEST(RawAccessors, AttributesTextsAndChildren) {
  std::string msg =
      "<message from='a@b/c' id='b1.23' title=\"1 > 0 &amp; 'q'\"><body>x &lt; y</body></message>";
  EXPECT_EQ(raw::attr_raw(msg, "id"), "b1.23");
  EXPECT_EQ(raw::attr(msg, "title"), "1 > 0 & 'q'");
  EXPECT_EQ(raw::attr_raw(msg, "to"), "");
  EXPECT_EQ(raw::attr_raw(msg, "d"), "");  // no partial-name match ("id")
  EXPECT_EQ(raw::text_of(msg, "body"), "x < y");
  EXPECT_TRUE(raw::has_child(msg, "body"));
  EXPECT_FALSE(raw::has_child(msg, "subject"));
  EXPECT_EQ(raw::first_child(msg), "body");
  std::string fail =
      "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>";
  EXPECT_EQ(raw::first_child(fail), "not-authorized");
  EXPECT_EQ(raw::text_of("<iq><bind><jid>u@d/r&amp;1</jid></bind></iq>", "jid"), "u@d/r&1");
  EXPECT_EQ(raw::count("<query><item jid='a'/><item jid='b'></item><items/></query>", "item"),
            2u);
  EXPECT_EQ(raw::unescape("&#x263A;&#65;"), "\xE2\x98\xBA" "A");
  EXPECT_EQ(raw::name("<stream:features/>"), "features");
}
