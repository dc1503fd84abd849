// Tests for the writer: escaping, namespace declarations, stream prefix, round trips.
#include "xml/writer.hpp"

#include <gtest/gtest.h>

#include "xml/stream_parser.hpp"
#include "xml/test_util.hpp"

namespace starling::xml {
namespace {

using testing::recorder;

std::string text_escaped(std::string_view s) {
  std::string out;
  escape_text(out, s);
  return out;
}

std::string attr_escaped(std::string_view s) {
  std::string out;
  escape_attr(out, s);
  return out;
}

// Parses `serialized` as the content of a c2s stream and returns the elements.
std::vector<element> reparse(const std::string& serialized, std::string_view default_ns) {
  recorder r;
  stream_parser p(r);
  std::string doc;
  serialize_stream_open(doc, element(), default_ns);
  doc += serialized;
  doc += stream_close_tag;
  EXPECT_TRUE(p.feed(doc)) << doc << "\n" << (r.events.empty() ? "" : r.events.back());
  return std::move(r.elements);
}

TEST(Writer, EscapesText) {
  EXPECT_EQ(text_escaped("plain"), "plain");
  EXPECT_EQ(text_escaped("a & b < c > d"), "a &amp; b &lt; c &gt; d");
  EXPECT_EQ(text_escaped("quotes ' \" stay"), "quotes ' \" stay");
  EXPECT_EQ(text_escaped("line\r\nnext\ttab"), "line&#13;\nnext\ttab");
  EXPECT_EQ(text_escaped(std::string("nul\0bell\x07", 9)), "nulbell");
  EXPECT_EQ(text_escaped("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  std::string out = "keep:";
  escape_text(out, "<");
  EXPECT_EQ(out, "keep:&lt;");  // appends
}

TEST(Writer, EscapesAttributes) {
  EXPECT_EQ(attr_escaped("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(attr_escaped("t\tn\nr\r"), "t&#9;n&#10;r&#13;");
}

TEST(Writer, DefaultNamespaceWrittenOnlyWhereItChanges) {
  element msg("message", std::string(ns_client));
  msg.set_attr("to", "romeo@example.net").set_attr("type", "chat");
  msg.add("body", std::string(ns_client)).add_text("hi & bye");
  element& html = msg.add("html", "http://jabber.org/protocol/xhtml-im");
  element& body = html.add("body", "http://www.w3.org/1999/xhtml");
  body.add("p", "http://www.w3.org/1999/xhtml").add_text("x");
  EXPECT_EQ(to_string(msg, ns_client),
            "<message to='romeo@example.net' type='chat'><body>hi &amp; bye</body>"
            "<html xmlns='http://jabber.org/protocol/xhtml-im'>"
            "<body xmlns='http://www.w3.org/1999/xhtml'><p>x</p></body></html></message>");
  // Without a namespace in scope the stanza declares its own.
  EXPECT_EQ(to_string(element("presence", std::string(ns_client))),
            "<presence xmlns='jabber:client'/>");
  // A child without namespace under a default namespace undeclares it.
  element iq("iq", std::string(ns_client));
  iq.add("legacy", "");
  EXPECT_EQ(to_string(iq, ns_client), "<iq><legacy xmlns=''/></iq>");
}

TEST(Writer, StreamElementsUsePrefix) {
  element features("features", std::string(ns_streams));
  features.add("starttls", "urn:ietf:params:xml:ns:xmpp-tls").add("required",
                                                                  "urn:ietf:params:xml:ns:xmpp-tls");
  features.add("mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl")
      .add("mechanism", "urn:ietf:params:xml:ns:xmpp-sasl")
      .add_text("SCRAM-SHA-1");
  EXPECT_EQ(to_string(features, ns_client),
            "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
            "</starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
            "<mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>");

  element error("error", std::string(ns_streams));
  error.add("not-well-formed", "urn:ietf:params:xml:ns:xmpp-streams");
  error.add("text", "urn:ietf:params:xml:ns:xmpp-streams")
      .set_attr_ns(ns_xml, "lang", "en")
      .add_text("bad <input>");
  EXPECT_EQ(to_string(error, ns_client),
            "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>bad &lt;input&gt;"
            "</text></stream:error>");
  // Children of stream:* elements in the content namespace need no declaration.
  element f2("features", std::string(ns_streams));
  f2.add("x", std::string(ns_client));
  EXPECT_EQ(to_string(f2, ns_client), "<stream:features><x/></stream:features>");
}

TEST(Writer, QualifiedAttributesGetPrefixes) {
  element e("thread", std::string(ns_client));
  e.set_attr_ns("urn:a", "one", "1");
  e.set_attr("plain", "p");
  e.set_attr_ns("urn:b", "two", "2");
  e.set_attr_ns("urn:a", "three", "3");
  e.set_attr_ns(ns_xml, "lang", "de");
  EXPECT_EQ(to_string(e, ns_client),
            "<thread xmlns:ns0='urn:a' ns0:one='1' plain='p' xmlns:ns1='urn:b' ns1:two='2' "
            "ns0:three='3' xml:lang='de'/>");
  auto back = reparse(to_string(e, ns_client), ns_client);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0], e);
}

TEST(Writer, NamespaceDeclarationAttributesAreNotWritten) {
  element e("query", "jabber:iq:roster");
  e.set_attr("xmlns", "wrong");
  e.set_attr("xmlns:foo", "wrong");
  e.set_attr("ver", "1");
  EXPECT_EQ(to_string(e, ns_client), "<query xmlns='jabber:iq:roster' ver='1'/>");
}

TEST(Writer, StreamOpen) {
  element attrs;
  attrs.set_attr("from", "example.com").set_attr("id", "s'1").set_attr("version", "1.0");
  attrs.set_attr_ns(ns_xml, "lang", "en");
  std::string out;
  serialize_stream_open(out, attrs, ns_client);
  EXPECT_EQ(out,
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='s&apos;1' "
            "version='1.0' xml:lang='en'>");
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(out));
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].ns, ns_streams);
  EXPECT_EQ(r.headers[0].default_ns, ns_client);
  EXPECT_EQ(r.headers[0].attrs.attributes(), attrs.attributes());
  out.clear();
  serialize_stream_open(out, element(), ns_server, false);
  EXPECT_EQ(out.rfind("<stream:stream xmlns='jabber:server'", 0), 0u);
}

TEST(Writer, RoundTripsBuiltTree) {
  element msg("message", std::string(ns_client));
  msg.set_attr("id", "a\"b'c<&>\t\n\r");
  msg.set_attr_ns(ns_xml, "lang", "en");
  msg.add_text("lead ");
  element& body = msg.add("body", std::string(ns_client));
  body.add_text("line1\r\nline2\t & <tag> ]]> \xE2\x98\x83");
  msg.add_text(" mid ");
  element& ext = msg.add("ext", "urn:x");
  ext.add("inner", "urn:y").add("deeper", "urn:y").set_attr_ns("urn:x", "a", "b");
  ext.add("empty-ns", "").add("in-empty", "");
  ext.add("back", std::string(ns_client));
  msg.add("stream-in-stanza", std::string(ns_streams)).add_text("s");
  msg.add("space", std::string(ns_xml)).add("in-xml", std::string(ns_xml));
  msg.add_text(" tail");
  for (std::string_view scope : {ns_client, ns_server, std::string_view("urn:x")}) {
    auto back = reparse(to_string(msg, scope), scope);
    ASSERT_EQ(back.size(), 1u) << scope;
    EXPECT_EQ(back[0], msg) << testing::dump(back[0]) << "\n" << testing::dump(msg);
  }
}

TEST(Writer, RoundTripsParsedStream) {
  const std::string input =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
      "<message xml:lang='en' id='1'><body>a &amp; b&#13;&#10;</body>"
      "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"
      "<p>Hi <em>you</em>!</p></body></html>"
      "<p:q xmlns:p='urn:p' xmlns:r='urn:r' r:at='&#9;v' p:at='w'><r:s/></p:q></message>"
      "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>";
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(input));
  ASSERT_EQ(r.elements.size(), 2u);
  std::string all;
  for (const element& e : r.elements) serialize(all, e, ns_client);
  auto back = reparse(all, ns_client);
  ASSERT_EQ(back.size(), r.elements.size());
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i], r.elements[i]) << i;
}

TEST(Element, EqualityIsDeep) {
  element a("m", "ns");
  a.add("c", "ns").add_text("x");
  element b = a;
  EXPECT_EQ(a, b);
  b.child("c")->add_text("y");
  EXPECT_NE(a, b);
  element c = a;
  c.set_attr("k", "v");
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace starling::xml
