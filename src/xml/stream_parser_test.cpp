// Tests for stream_parser: RFC 6120 §4 stream framing, §11 restricted XML, limits, chunking.
#include "xml/stream_parser.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>

#include "xml/test_util.hpp"

namespace starling::xml {
namespace {

using testing::byte_chunks;
using testing::dump;
using testing::random_chunks;
using testing::recorder;
using testing::run;
using testing::run_whole;

const std::string header =
    "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

// A client-to-server stream with the constructs a server meets: features negotiation,
// SASL, binding, a message with nested payloads, XHTML-IM mixed content, CDATA, references,
// prefixed elements, namespaced attributes, multi-byte UTF-8, whitespace keepalives.
const std::string c2s_stream =
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    "<stream:stream to='example.com' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>\n"
    "  <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n"
    "  <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"
    "biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</auth>\r\n"
    "  <iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
    "<resource>balcony</resource></bind></iq>\n"
    "\t<message from='juliet@example.com/balcony' to='romeo@example.net' type=\"chat\" "
    "xml:lang='en' id='m&amp;1'>\n"
    "    <body>Wherefore art thou, Romeo? &lt;3 &amp; caf&#xE9; caf\xC3\xA9 \xE2\x98\x83 "
    "\xF0\x9F\x98\x80 &gt;&#10;</body>\n"
    "    <html xmlns='http://jabber.org/protocol/xhtml-im'>"
    "<body xmlns='http://www.w3.org/1999/xhtml'><p style='font-weight:bold'>Hi <em>there</em>, "
    "<a href='https://example.org/?a=1&amp;b=2'>link</a>!</p></body></html>\n"
    "    <x:x xmlns:x='jabber:x:data' type='form' x:extra='1'>"
    "<![CDATA[raw <text> & ]]]]><![CDATA[> here]]></x:x>\n"
    "    <thread xmlns:a='urn:example:a' a:parent='e0ffe42b'>ac2f</thread>\n"
    "  </message>\n"
    "   \n\n  "
    "  <presence/>\n"
    "</stream:stream>";

TEST(StreamParser, ParsesRealisticClientStream) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(c2s_stream));
  EXPECT_FALSE(p.failed());
  ASSERT_EQ(r.headers.size(), 1u);
  const stream_header& h = r.headers[0];
  EXPECT_EQ(h.name, "stream");
  EXPECT_EQ(h.ns, ns_streams);
  EXPECT_EQ(h.default_ns, ns_client);
  EXPECT_EQ(h.attrs.attr_or("to"), "example.com");
  EXPECT_EQ(h.attrs.attr_or("version"), "1.0");
  ASSERT_NE(h.attrs.attr_ns(ns_xml, "lang"), nullptr);
  EXPECT_EQ(*h.attrs.attr_ns(ns_xml, "lang"), "en");
  EXPECT_EQ(h.attrs.attributes().size(), 3u);  // xmlns declarations are not attributes

  ASSERT_EQ(r.elements.size(), 5u);
  EXPECT_TRUE(r.elements[0].is("starttls", "urn:ietf:params:xml:ns:xmpp-tls"));
  EXPECT_TRUE(r.elements[1].is("auth", "urn:ietf:params:xml:ns:xmpp-sasl"));
  EXPECT_EQ(r.elements[1].text(), "biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==");
  const element& iq = r.elements[2];
  EXPECT_TRUE(iq.is("iq", ns_client));
  EXPECT_EQ(iq.child("bind", "urn:ietf:params:xml:ns:xmpp-bind")->child_text("resource"),
            "balcony");

  const element& msg = r.elements[3];
  EXPECT_TRUE(msg.is("message", ns_client));
  EXPECT_EQ(msg.attr_or("id"), "m&1");
  EXPECT_EQ(msg.attr_or("type"), "chat");
  ASSERT_NE(msg.attr_ns(ns_xml, "lang"), nullptr);
  EXPECT_EQ(msg.child_text("body", ns_client),
            "Wherefore art thou, Romeo? <3 & caf\xC3\xA9 caf\xC3\xA9 \xE2\x98\x83 "
            "\xF0\x9F\x98\x80 >\n");
  const element* html = msg.child("html", "http://jabber.org/protocol/xhtml-im");
  ASSERT_NE(html, nullptr);
  const element* p_el = html->child("body", "http://www.w3.org/1999/xhtml")->child("p");
  ASSERT_NE(p_el, nullptr);
  EXPECT_EQ(dump(*p_el),
            "{http://www.w3.org/1999/xhtml}p[style=\"font-weight:bold\"](\"Hi \" "
            "{http://www.w3.org/1999/xhtml}em[](\"there\") \", \" "
            "{http://www.w3.org/1999/xhtml}a[href=\"https://example.org/?a=1&b=2\"](\"link\") "
            "\"!\")");
  const element* x = msg.child("x", "jabber:x:data");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->attr_or("type"), "form");
  ASSERT_NE(x->attr_ns("jabber:x:data", "extra"), nullptr);
  EXPECT_EQ(x->text(), "raw <text> & ]]> here");
  const element* thread = msg.child("thread", ns_client);
  ASSERT_NE(thread, nullptr);
  ASSERT_NE(thread->attr_ns("urn:example:a", "parent"), nullptr);
  EXPECT_EQ(thread->attr("parent"), nullptr);  // qualified, so not an unqualified attribute
  // Mixed content keeps the whitespace between the payloads, in order.
  EXPECT_EQ(msg.element_count(), 4u);
  EXPECT_EQ(msg.children().size(), 9u);

  EXPECT_TRUE(r.elements[4].is("presence", ns_client));
  EXPECT_EQ(r.events.back(), "close");
  EXPECT_TRUE(r.errors.empty());
}

TEST(StreamParser, ByteByByteMatchesWhole) {
  auto whole = run_whole(c2s_stream);
  auto bytes = run(c2s_stream, byte_chunks(c2s_stream.size()));
  EXPECT_EQ(bytes.events, whole.events);
  EXPECT_EQ(whole.events.size(), 7u);
}

TEST(StreamParser, RandomChunkingsMatchWhole) {
  auto whole = run_whole(c2s_stream);
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    auto chunked = run(c2s_stream, random_chunks(c2s_stream.size(), seed));
    ASSERT_EQ(chunked.events, whole.events) << "seed " << seed;
  }
}

TEST(StreamParser, EverySplitIntoTwoMatchesWhole) {
  auto whole = run_whole(c2s_stream);
  for (size_t i = 0; i <= c2s_stream.size(); ++i)
    ASSERT_EQ(run(c2s_stream, {i}).events, whole.events) << "split at " << i;
}

TEST(StreamParser, MultiByteCharactersSplitAcrossChunks) {
  const std::string body = "\xC3\xA9\xE2\x98\x83\xF0\x9F\x98\x80\xE2\x82\xAC";
  const std::string input = header + "<message><body>" + body + "</body></message>";
  const size_t body_at = input.find(body);
  for (size_t i = body_at; i <= body_at + body.size(); ++i) {
    recorder r;
    stream_parser p(r);
    ASSERT_TRUE(p.feed(std::string_view(input).substr(0, i)));
    ASSERT_TRUE(p.feed(std::string_view(input).substr(i)));
    ASSERT_EQ(r.elements.size(), 1u);
    EXPECT_EQ(r.elements[0].child_text("body"), body);
  }
}

TEST(StreamParser, WhitespaceKeepalivesAreIgnored) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(header));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(p.feed(i % 2 ? " " : "\r\n\t "));
  ASSERT_TRUE(p.feed("<presence/>"));
  ASSERT_TRUE(p.feed("\n \n"));
  EXPECT_EQ(r.events.size(), 2u);  // open, presence
  EXPECT_FALSE(p.failed());
}

TEST(StreamParser, StanzaIsReportedWhenItsLastByteArrives) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(header));
  const std::string stanza = "<message to='a@b'><body>hi</body></message>";
  for (size_t i = 0; i + 1 < stanza.size(); ++i) {
    ASSERT_TRUE(p.feed(stanza.substr(i, 1)));
    ASSERT_TRUE(r.elements.empty()) << i;
  }
  ASSERT_TRUE(p.feed(">"));
  EXPECT_EQ(r.elements.size(), 1u);
}

TEST(StreamParser, HeaderWithoutDeclarationOrDefaultNamespace) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
                     "xmlns:db='jabber:server:dialback' from='a.example' to='b.example'>"));
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].default_ns, "");
  EXPECT_EQ(r.headers[0].attrs.attr_or("from"), "a.example");
  ASSERT_TRUE(p.feed("<db:result to='b.example'>abc</db:result>"));
  ASSERT_EQ(r.elements.size(), 1u);
  EXPECT_TRUE(r.elements[0].is("result", "jabber:server:dialback"));
}

TEST(StreamParser, NamesAndNamespacesAreNotValidated) {
  // The c2s layer decides between <invalid-namespace/>, <bad-namespace-prefix/> etc.
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed("<foo xmlns='urn:other'><bar/>"));
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "foo");
  EXPECT_EQ(r.headers[0].ns, "urn:other");
  EXPECT_EQ(r.headers[0].default_ns, "urn:other");
  EXPECT_EQ(r.elements.size(), 1u);
}

TEST(StreamParser, ByteOrderMarkIsAccepted) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed("\xEF\xBB\xBF" + header + "<presence/>"));
  EXPECT_EQ(r.elements.size(), 1u);
}

TEST(StreamParser, LowerCaseUtf8DeclarationIsAccepted) {
  auto res = run_whole("<?xml version='1.0' encoding='utf-8'?><stream:stream "
                       "xmlns:stream='http://etherx.jabber.org/streams'><a/>");
  EXPECT_TRUE(res.ok);
  EXPECT_EQ(res.events.size(), 2u);
}

TEST(StreamParser, StreamCloseAndTrailingBytesIgnored) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(header + "<presence/></stream:stream>"));
  EXPECT_EQ(r.events.back(), "close");
  EXPECT_TRUE(p.feed("<garbage<<"));  // RFC 6120 §4.4: nothing follows the closing tag
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(r.events.size(), 3u);
}

TEST(StreamParser, EmptyRootOpensAndCloses) {
  auto res = run_whole("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>");
  ASSERT_EQ(res.events.size(), 2u);
  EXPECT_EQ(res.events[1], "close");
}

TEST(StreamParser, ResetStartsAFreshStream) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(c2s_stream));
  auto first = r.events;
  r.events.clear();
  p.reset();
  ASSERT_TRUE(p.feed(c2s_stream));
  EXPECT_EQ(r.events, first);
  // Reset also clears a failure.
  r.events.clear();
  p.reset();
  EXPECT_FALSE(p.feed(header + "<a></b>"));
  EXPECT_TRUE(p.failed());
  p.reset();
  EXPECT_FALSE(p.failed());
  ASSERT_TRUE(p.feed(c2s_stream));
}

TEST(StreamParser, ResetInTheMiddleOfAStanza) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(header + "<message><body>unfinished"));
  p.reset();
  ASSERT_TRUE(p.feed(header + "<presence/>"));
  ASSERT_EQ(r.elements.size(), 1u);
  EXPECT_TRUE(r.elements[0].is("presence", ns_client));
}

// RFC 6120 §5.4.3.3 / §6.4.6: after <proceed/> or <success/> the stream restarts; bytes the
// peer pipelined after the restart point must go to the new parser.
TEST(StreamParser, StopKeepsUnparsedBytesForRestart) {
  const std::string before = header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>";
  const std::string after = header + "<iq type='set' id='b'/>";
  for (int mode = 0; mode < 3; ++mode) {
    recorder r;
    stream_parser p(r);
    r.after_element = [&](const element& e) {
      if (e.name() == "auth") p.stop();
    };
    const std::string input = before + after;
    std::vector<size_t> sizes = mode == 0   ? std::vector<size_t>{input.size()}
                                : mode == 1 ? byte_chunks(input.size())
                                            : random_chunks(input.size(), 7);
    ASSERT_TRUE(testing::feed_split(p, input, sizes));
    EXPECT_EQ(r.elements.size(), 1u);
    EXPECT_EQ(p.take_unparsed(), after) << mode;
    EXPECT_EQ(p.take_unparsed(), "");
    p.reset();
    ASSERT_TRUE(p.feed(after));
    EXPECT_EQ(r.headers.size(), 2u);
    ASSERT_EQ(r.elements.size(), 2u);
    EXPECT_TRUE(r.elements[1].is("iq", ns_client));
  }
}

TEST(StreamParser, StopBetweenFeedsKeepsHeldPartialToken) {
  recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(header + "<presence/><mess"));
  p.stop();
  ASSERT_TRUE(p.feed("age/>"));
  EXPECT_EQ(r.elements.size(), 1u);
  EXPECT_EQ(p.take_unparsed(), "<message/>");
}

TEST(StreamParser, StopOnStreamOpen) {
  recorder r;
  stream_parser p(r);
  r.after_open = [&](const stream_header&) { p.stop(); };
  ASSERT_TRUE(p.feed(header + "<presence/>"));
  EXPECT_TRUE(r.elements.empty());
  EXPECT_EQ(p.take_unparsed(), "<presence/>");
}

TEST(StreamParser, ResetFromCallbackKeepsRemainingBytes) {
  recorder r;
  stream_parser p(r);
  r.after_element = [&](const element& e) {
    if (e.name() == "success") p.reset();
  };
  ASSERT_TRUE(p.feed(header + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + header +
                     "<presence/>"));
  EXPECT_EQ(r.headers.size(), 1u);
  EXPECT_FALSE(p.failed());
  std::string rest = p.take_unparsed();
  EXPECT_EQ(rest, header + "<presence/>");
  ASSERT_TRUE(p.feed(rest));
  EXPECT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.elements.size(), 2u);
}

TEST(StreamParser, HandlerExceptionPropagatesAndFailsParser) {
  recorder r;
  stream_parser p(r);
  r.after_element = [](const element&) { throw std::runtime_error("boom"); };
  EXPECT_THROW(p.feed(header + "<presence/><presence/>"), std::runtime_error);
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(r.elements.size(), 1u);
  EXPECT_FALSE(p.feed("<presence/>"));
  r.after_element = nullptr;
  p.reset();
  ASSERT_TRUE(p.feed(header + "<presence/>"));
  EXPECT_EQ(r.elements.size(), 2u);
}

TEST(StreamParser, FeedFromCallbackIsRejected) {
  recorder r;
  stream_parser p(r);
  r.after_element = [&](const element&) { p.feed("<x/>"); };
  EXPECT_THROW(p.feed(header + "<presence/>"), std::logic_error);
}

TEST(StreamParser, LongAttributeFedByteByByteIsLinear) {
  // Expat re-scans an unfinished token on every call; the parser must not hand it partial
  // markup (CVE-2023-52425). Quadratic behaviour would take minutes here.
  const std::string value(200 * 1024, 'v');
  const std::string input = header + "<message id='" + value + "'/>";
  recorder r;
  stream_parser p(r);
  const auto start = std::chrono::steady_clock::now();
  for (char c : input) ASSERT_TRUE(p.feed(std::string_view(&c, 1)));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.elements.size(), 1u);
  EXPECT_EQ(r.elements[0].attr_or("id"), value);
  EXPECT_LT(elapsed, std::chrono::seconds(20));
}

// ---- errors ---------------------------------------------------------------------------------

// Runs `input` whole, byte by byte and in random chunkings; all must give the same events, the
// last being the expected error. Returns the events.
std::vector<std::string> expect_error(const std::string& input, parse_error kind,
                                      parser_limits limits = {}) {
  auto whole = run_whole(input, limits);
  EXPECT_FALSE(whole.ok);
  EXPECT_TRUE(whole.failed);
  EXPECT_FALSE(whole.events.empty());
  if (whole.events.empty()) return {};
  const std::string prefix = "error " + std::string(to_string(kind)) + ":";
  EXPECT_EQ(whole.events.back().rfind(prefix, 0), 0u) << whole.events.back();
  EXPECT_EQ(run(input, byte_chunks(input.size()), limits).events, whole.events);
  for (uint32_t seed = 1; seed <= 20; ++seed)
    EXPECT_EQ(run(input, random_chunks(input.size(), seed), limits).events, whole.events)
        << "seed " << seed;
  return whole.events;
}

TEST(StreamParserErrors, DoctypeIsRestricted) {
  expect_error("<?xml version='1.0'?><!DOCTYPE stream:stream><stream:stream/>",
               parse_error::restricted_xml);
  expect_error("<!DOCTYPE x SYSTEM 'http://example.com/x.dtd'>", parse_error::restricted_xml);
  expect_error(header + "<!DOCTYPE x>", parse_error::restricted_xml);
}

TEST(StreamParserErrors, EntityDeclarationIsRestricted) {
  expect_error(header + "<!ENTITY x 'y'>", parse_error::restricted_xml);
  expect_error(header + "<message><!ENTITY x 'y'></message>", parse_error::restricted_xml);
}

TEST(StreamParserErrors, BillionLaughsIsRestrictedNotExpanded) {
  std::string doc = "<?xml version='1.0'?>\n<!DOCTYPE lolz [\n <!ENTITY lol 'lol'>\n";
  doc += " <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n";
  for (int i = 2; i <= 9; ++i) {
    doc += " <!ENTITY lol" + std::to_string(i) + " '";
    for (int k = 0; k < 10; ++k) doc += "&lol" + std::to_string(i - 1) + ";";
    doc += "'>\n";
  }
  doc += "]>\n<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>"
         "<message><body>&lol9;</body></message>";
  auto events = expect_error(doc, parse_error::restricted_xml);
  EXPECT_EQ(events.size(), 1u);  // rejected before any callback
}

TEST(StreamParserErrors, ProcessingInstructionIsRestricted) {
  expect_error(header + "<?php echo 1; ?>", parse_error::restricted_xml);
  expect_error(header + "<message><?target data?></message>", parse_error::restricted_xml);
  expect_error("<?xml-stylesheet href='a'?><stream:stream/>", parse_error::restricted_xml);
  // The XML declaration is only allowed at the start (a restart must not send it mid-stream).
  expect_error(header + "<?xml version='1.0'?>", parse_error::restricted_xml);
  // (Whitespace before the declaration is skipped as a keepalive: see StreamParserKeepalive.)
}

TEST(StreamParserErrors, CommentIsRestricted) {
  expect_error("<!-- hello --><stream:stream/>", parse_error::restricted_xml);
  expect_error(header + "<!-- keepalive -->", parse_error::restricted_xml);
  expect_error(header + "<message><body>a<!-- b --></body></message>",
               parse_error::restricted_xml);
}

TEST(StreamParserErrors, CommentAfterValidStanzaKeepsEarlierEvents) {
  auto events = expect_error(header + "<presence/><!--", parse_error::restricted_xml);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].rfind("element", 0), 0u);
}

TEST(StreamParserErrors, UnsupportedEncoding) {
  expect_error("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream/>",
               parse_error::unsupported_encoding);
  expect_error("<?xml version='1.0' encoding='UTF-16'?><stream:stream/>",
               parse_error::unsupported_encoding);
}

// Expat would switch to UTF-16 on these despite UTF-8 being forced.
TEST(StreamParserErrors, Utf16StreamIsUnsupportedEncoding) {
  const std::string utf16le("<\0s\0/\0>\0", 8);
  const std::string utf16be("\0<\0s\0/\0>", 8);
  for (const std::string& s : {utf16le, utf16be, "\xFF\xFE" + utf16le, "\xFE\xFF" + utf16be,
                               std::string("t\0", 2)}) {
    auto events = expect_error(s, parse_error::unsupported_encoding);
    EXPECT_EQ(events.size(), 1u);
  }
}

TEST(StreamParserErrors, NotWellFormed) {
  auto events = expect_error(header + "<message></iq>", parse_error::not_well_formed);
  EXPECT_EQ(events.back(), "error not-well-formed: mismatched tag");
  expect_error(header + "<message a='1' a='2'/>", parse_error::not_well_formed);
  expect_error(header + "<message a=1/>", parse_error::not_well_formed);
  expect_error(header + "<x:y/>", parse_error::not_well_formed);  // unbound prefix
  expect_error(header + "<message>&foo;</message>", parse_error::not_well_formed);
  expect_error(header + "<message>&amp</message>", parse_error::not_well_formed);
  expect_error(header + "<message>\x01</message>", parse_error::not_well_formed);
  expect_error(header + "<message>]]></message>", parse_error::not_well_formed);
  expect_error("<stream:stream xmlns:stream='x'></stream:streamx>", parse_error::not_well_formed);
  expect_error("hello <stream:stream/>", parse_error::not_well_formed);
  expect_error("<>", parse_error::not_well_formed);
}

TEST(StreamParserErrors, InvalidUtf8IsNotWellFormed) {
  for (std::string bad : {"\xC3\x28", "\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xEF\xBF\xBE", "\x80"}) {
    expect_error(header + "<message><body>" + bad + "</body></message>",
                 parse_error::not_well_formed);
    expect_error(header + "<message to='" + bad + "'/>", parse_error::not_well_formed);
  }
}

TEST(StreamParserErrors, TextAtStreamLevel) {
  expect_error(header + "hello", parse_error::text_at_stream_level);
  expect_error(header + "<presence/> x", parse_error::text_at_stream_level);
  expect_error(header + "&amp;", parse_error::text_at_stream_level);
  expect_error(header + "<![CDATA[x]]>", parse_error::text_at_stream_level);
  expect_error(header + "xy]]>", parse_error::text_at_stream_level);  // found by fuzzing
  expect_error(header + "  ]]>", parse_error::not_well_formed);
  // Whitespace-only CDATA and character references are still whitespace.
  auto ok = run_whole(header + "<![CDATA[ ]]>&#32;<presence/>");
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.events.size(), 2u);
}

TEST(StreamParserErrors, TooDeep) {
  parser_limits limits;
  limits.max_depth = 5;  // root + 4 levels
  std::string ok = header + "<a><b><c><d/></c></b></a>";
  auto res = run_whole(ok, limits);
  EXPECT_TRUE(res.ok);
  EXPECT_EQ(res.events.size(), 2u);
  expect_error(header + "<a><b><c><d><e/></d></c></b></a>", parse_error::too_deep, limits);

  std::string deep = header;
  for (int i = 0; i < 40; ++i) deep += "<x>";
  expect_error(deep, parse_error::too_deep);  // default max_depth = 32
}

TEST(StreamParserErrors, StanzaTooLargeComplete) {
  parser_limits limits;
  limits.max_stanza_bytes = 100;
  const std::string big = "<message><body>" + std::string(200, 'a') + "</body></message>";
  auto events = expect_error(header + "<presence/>" + big + "<presence/>",
                             parse_error::stanza_too_large, limits);
  EXPECT_EQ(events.size(), 3u);  // open, first presence, error
}

TEST(StreamParserErrors, StanzaSizeLimitIsExact) {
  parser_limits limits;
  limits.max_stanza_bytes = 60;
  auto stanza = [](size_t n) {  // a stanza of exactly n bytes
    std::string s = "<message><body></body></message>";
    s.insert(15, std::string(n - s.size(), 'x'));
    return s;
  };
  for (size_t n : {59, 60}) {
    std::string input = header + stanza(n) + "<presence/>";
    auto res = run_whole(input, limits);
    EXPECT_TRUE(res.ok) << n;
    EXPECT_EQ(res.events.size(), 3u);
    EXPECT_EQ(run(input, byte_chunks(input.size()), limits).events, res.events);
  }
  expect_error(header + stanza(61) + "<presence/>", parse_error::stanza_too_large, limits);
  // Also when nothing follows the stanza's last byte but the limit is crossed by it.
  expect_error(header + stanza(61), parse_error::stanza_too_large, limits);
}

TEST(StreamParserErrors, StanzaTooLargeWhileIncomplete) {
  parser_limits limits;
  limits.max_stanza_bytes = 1000;
  // Long text, long attribute value, long start tag name: none ever completes.
  for (std::string start : {"<message><body>", "<message to='", "<message", "<message><![CDATA["}) {
    recorder r;
    stream_parser p(r, limits);
    ASSERT_TRUE(p.feed(header + "<presence/>"));
    ASSERT_TRUE(p.feed(start));
    size_t fed = start.size();
    bool ok = true;
    while (ok && fed < 5000) {
      ok = p.feed(start == "<message" ? " " : "a");
      ++fed;
    }
    EXPECT_FALSE(ok) << start;
    EXPECT_EQ(fed, 1001u) << start;  // the first byte beyond the limit
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0], parse_error::stanza_too_large);
  }
}

TEST(StreamParserErrors, HeaderTooLarge) {
  parser_limits limits;
  limits.max_header_bytes = 200;
  expect_error("<stream:stream to='" + std::string(300, 'x') + "'>", parse_error::stanza_too_large,
               limits);
  expect_error("<stream:stream" + std::string(300, ' '), parse_error::stanza_too_large, limits);
  // Leading whitespace is a keepalive, skipped without buffering, so it is not counted.
  expect_error(std::string(300, ' ') + "<stream:stream" + std::string(300, ' '), parse_error::stanza_too_large, limits);
  auto res = run_whole(header + "<presence/>", limits);
  EXPECT_TRUE(res.ok);
}

TEST(StreamParserErrors, ZeroLimitsRejectInsteadOfHanging) {
  parser_limits limits;
  limits.max_stanza_bytes = 0;
  expect_error(header + "<a/>", parse_error::stanza_too_large, limits);
  limits = {};
  limits.max_header_bytes = 0;
  expect_error(header, parse_error::stanza_too_large, limits);
}

TEST(StreamParserErrors, NoCallbacksAfterError) {
  recorder r;
  stream_parser p(r);
  EXPECT_FALSE(p.feed(header + "<message></iq><presence/>"));
  const size_t n = r.events.size();
  EXPECT_FALSE(p.feed("<presence/>"));
  EXPECT_FALSE(p.feed(""));
  EXPECT_EQ(r.events.size(), n);
  EXPECT_TRUE(p.failed());
}

TEST(StreamParserErrors, ErrorNames) {
  EXPECT_EQ(to_string(parse_error::not_well_formed), "not-well-formed");
  EXPECT_EQ(to_string(parse_error::restricted_xml), "restricted-xml");
  EXPECT_EQ(to_string(parse_error::unsupported_encoding), "unsupported-encoding");
  EXPECT_EQ(to_string(parse_error::stanza_too_large), "stanza-too-large");
  EXPECT_EQ(to_string(parse_error::too_deep), "too-deep");
  EXPECT_EQ(to_string(parse_error::text_at_stream_level), "text-at-stream-level");
}

}  // namespace
}  // namespace starling::xml

// RFC 6120 §4.6.1: a keepalive can fall between a stream restart and the new header.
TEST(StreamParserKeepalive, WhitespaceBeforeTheProlog) {
  struct h : starling::xml::stream_handler {
    int opens = 0, errors = 0;
    void on_stream_open(starling::xml::stream_header) override { ++opens; }
    void on_element(starling::xml::element) override {}
    void on_stream_close() override {}
    void on_parse_error(starling::xml::parse_error, std::string_view) override { ++errors; }
  } handler;
  starling::xml::stream_parser p(handler);
  EXPECT_TRUE(p.feed(" \r\n"));
  EXPECT_TRUE(p.feed("\t <?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                     "xmlns:stream='http://etherx.jabber.org/streams' to='x' version='1.0'>"));
  EXPECT_EQ(handler.opens, 1);
  EXPECT_EQ(handler.errors, 0);
}

// ---- hibernate(): an idle stream frees expat and resumes on the next byte -------------------
namespace starling::xml {
namespace {

// Feeds `input` in the given chunks and tries hibernate() after every chunk; returns the
// events and how many times the parser actually hibernated.
struct hib_result {
  std::vector<std::string> events;
  bool ok = true;
  size_t hibernations = 0;
};
hib_result run_hibernating(std::string_view input, const std::vector<size_t>& sizes,
                           parser_limits limits = {}) {
  testing::recorder r;
  stream_parser p(r, limits);
  hib_result out;
  size_t pos = 0;
  auto step = [&](std::string_view chunk) {
    out.ok = p.feed(chunk);
    if (p.hibernate()) {
      ++out.hibernations;
      EXPECT_TRUE(p.hibernated());
    }
  };
  for (size_t n : sizes) {
    if (pos >= input.size()) break;
    n = std::min(n, input.size() - pos);
    step(input.substr(pos, n));
    pos += n;
  }
  if (pos < input.size()) step(input.substr(pos));
  out.events = std::move(r.events);
  return out;
}

const std::string hib_header =
    "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

TEST(StreamParserHibernate, RefusedUnlessBetweenStanzas) {
  testing::recorder r;
  stream_parser p(r);
  EXPECT_FALSE(p.hibernate());  // no header yet
  ASSERT_TRUE(p.feed("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "));
  EXPECT_FALSE(p.hibernate());  // header incomplete
  ASSERT_TRUE(p.feed("xmlns:stream='http://etherx.jabber.org/streams'>"));
  EXPECT_TRUE(p.hibernate());
  EXPECT_TRUE(p.hibernated());
  EXPECT_TRUE(p.hibernate());  // already
  ASSERT_TRUE(p.feed("<message><body>half"));
  EXPECT_FALSE(p.hibernated());
  EXPECT_FALSE(p.hibernate());  // inside a stanza
  ASSERT_TRUE(p.feed("</body></message><pres"));
  EXPECT_FALSE(p.hibernate());  // a partial tag is held
  ASSERT_TRUE(p.feed("ence/> \r\n"));
  EXPECT_TRUE(p.hibernate());
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_EQ(r.elements[0].child_text("body"), "half");
  EXPECT_TRUE(r.elements[1].is("presence", ns_client));
  // Closed and failed streams are not hibernated (nothing left to save).
  ASSERT_TRUE(p.feed("</stream:stream>"));
  EXPECT_EQ(r.events.back(), "close");
  EXPECT_FALSE(p.hibernate());
  testing::recorder r2;
  stream_parser q(r2);
  EXPECT_FALSE(q.feed(hib_header + "<a></b>"));
  EXPECT_FALSE(q.hibernate());
}

// The events are the same as without hibernation, wherever the stream is split and the
// parser hibernated: stanzas split across the hibernation point, keepalives, the close.
TEST(StreamParserHibernate, EverySplitMatchesWhole) {
  auto whole = run_whole(c2s_stream);
  size_t hibernated = 0;
  for (size_t i = 0; i <= c2s_stream.size(); ++i) {
    auto res = run_hibernating(c2s_stream, {i});
    ASSERT_EQ(res.events, whole.events) << "split at " << i;
    hibernated += res.hibernations;
  }
  EXPECT_GT(hibernated, 10u);
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    auto res = run_hibernating(c2s_stream, random_chunks(c2s_stream.size(), seed));
    ASSERT_EQ(res.events, whole.events) << "seed " << seed;
  }
  auto bytes = run_hibernating(c2s_stream, byte_chunks(c2s_stream.size()));
  EXPECT_EQ(bytes.events, whole.events);
  EXPECT_GT(bytes.hibernations, 10u);
}

// RFC 6120 §4.8: stanzas inherit the namespaces declared on the stream header, whatever the
// prefixes; after a resume they still apply, and the root's own end tag still matches.
TEST(StreamParserHibernate, HeaderNamespacesStillApply) {
  const std::string head =
      "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' "
      "xmlns:x='urn:example:x&amp;&apos;&#9;y' to='example.com' version='1.0'>";
  const std::string body = "<x:item a='1'/><message><x:y x:attr='v'/></message></s:stream>";
  auto whole = run_whole(head + body);
  ASSERT_TRUE(whole.ok);
  testing::recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(head));
  ASSERT_TRUE(p.hibernate());
  ASSERT_TRUE(p.feed("<x:item a='1'/>"));
  ASSERT_TRUE(p.hibernate());
  ASSERT_TRUE(p.feed("<message><x:y x:attr='v'/></message>"));
  ASSERT_TRUE(p.hibernate());
  ASSERT_TRUE(p.feed("</s:stream>"));
  EXPECT_EQ(r.events, whole.events);
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_TRUE(r.elements[0].is("item", "urn:example:x&'\ty"));
  const element* y = r.elements[1].child("y", "urn:example:x&'\ty");
  ASSERT_NE(y, nullptr);
  EXPECT_NE(y->attr_ns("urn:example:x&'\ty", "attr"), nullptr);
  EXPECT_EQ(r.events.back(), "close");
  // A wrong end tag is still an error after a resume.
  testing::recorder r2;
  stream_parser q(r2);
  ASSERT_TRUE(q.feed(head));
  ASSERT_TRUE(q.hibernate());
  EXPECT_FALSE(q.feed("</stream:stream>"));
  ASSERT_EQ(r2.errors.size(), 1u);
  EXPECT_EQ(r2.errors[0], parse_error::not_well_formed);
}

// Limits count the bytes of the stream, not of expat's input: a resumed parser rejects the
// same stanza at the same byte, and errors are the ones a parser that never slept reports.
TEST(StreamParserHibernate, LimitsAndErrorsUnchanged) {
  parser_limits limits;
  limits.max_stanza_bytes = 60;
  limits.max_depth = 4;
  auto stanza = [](size_t n) {
    std::string s = "<message><body></body></message>";
    s.insert(15, std::string(n - s.size(), 'x'));
    return s;
  };
  const std::vector<std::string> inputs = {
      hib_header + stanza(60) + " " + stanza(60) + "<presence/>",
      hib_header + "<presence/> " + stanza(61),
      hib_header + "<presence/>\n<a><b><c><d/></c></b></a>",
      hib_header + "<presence/>\n<a><b><c/></b></a>",
      hib_header + "<presence/> text",
      hib_header + "<presence/> <!-- c -->",
      hib_header + "<presence/> <a></b>",
      hib_header + "<presence/> \xC3\xA9",
      hib_header + "<presence/> &amp;",
  };
  for (const auto& in : inputs) {
    auto whole = run_whole(in, limits);
    auto bytes = run_hibernating(in, byte_chunks(in.size()), limits);
    EXPECT_EQ(bytes.events, whole.events) << in;
    EXPECT_EQ(bytes.ok, whole.ok) << in;
    EXPECT_GT(bytes.hibernations, 0u) << in;
    for (uint32_t seed = 1; seed <= 20; ++seed)
      EXPECT_EQ(run_hibernating(in, random_chunks(in.size(), seed), limits).events, whole.events)
          << in << " seed " << seed;
  }
  // A stanza too large that starts right after the resume.
  testing::recorder r;
  stream_parser p(r, limits);
  ASSERT_TRUE(p.feed(hib_header + "<presence/>"));
  ASSERT_TRUE(p.hibernate());
  ASSERT_TRUE(p.feed(stanza(60)));
  ASSERT_TRUE(p.hibernate());
  EXPECT_FALSE(p.feed(stanza(61)));
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], parse_error::stanza_too_large);
}

// RFC 6120 §4.3.3: stream restarts (after STARTTLS and SASL) work on a hibernated parser,
// both with reset() and with stop()/take_unparsed() from the restart point.
TEST(StreamParserHibernate, StreamRestart) {
  testing::recorder r;
  stream_parser p(r);
  ASSERT_TRUE(p.feed(hib_header));
  ASSERT_TRUE(p.hibernate());
  p.reset();
  EXPECT_FALSE(p.hibernated());
  ASSERT_TRUE(p.feed(hib_header + "<presence/>"));
  ASSERT_TRUE(p.hibernate());
  r.after_element = [&](const element& e) {
    if (e.name() == "auth") p.stop();
  };
  const std::string after = hib_header + "<iq type='set' id='b'/>";
  ASSERT_TRUE(p.feed("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + after));
  EXPECT_EQ(p.take_unparsed(), after);
  p.reset();
  ASSERT_TRUE(p.feed(after));
  ASSERT_TRUE(p.hibernate());
  ASSERT_TRUE(p.feed("<presence/>"));
  EXPECT_EQ(r.headers.size(), 3u);
  ASSERT_EQ(r.elements.size(), 4u);
  EXPECT_TRUE(r.elements[2].is("iq", ns_client));
  EXPECT_TRUE(r.elements[3].is("presence", ns_client));
  // Stopped between feeds on a hibernated parser: nothing is lost.
  ASSERT_TRUE(p.hibernate());
  p.stop();
  ASSERT_TRUE(p.feed("<x/>"));
  EXPECT_EQ(p.take_unparsed(), "<x/>");
}

// The same for a server-to-server header with the dialback prefix (XEP-0220).
TEST(StreamParserHibernate, ServerStreamWithDialbackPrefix) {
  const std::string head =
      "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
      "xmlns:db='jabber:server:dialback' to='a.example' version='1.0'>";
  const std::string input = head + "<db:result from='b' to='a'>key</db:result><message/>";
  auto whole = run_whole(input);
  auto bytes = run_hibernating(input, byte_chunks(input.size()));
  EXPECT_EQ(bytes.events, whole.events);
  EXPECT_GT(bytes.hibernations, 1u);
}

}  // namespace
}  // namespace starling::xml
