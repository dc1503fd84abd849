// XEP-0153 avatar hashes and the verbatim storage round trip of XEP-0054 vCards.
#include <gtest/gtest.h>

#include "modules/stored_xml/stored_xml.hpp"
#include "modules/vcard/vcard_avatar.hpp"

namespace starling::modules {
namespace {

xml::element parse(std::string_view text) {
  auto e = load_xml(text);
  EXPECT_TRUE(e.has_value()) << text;
  return e ? *e : xml::element();
}

// XEP-0153 §3.1: SHA-1 of the decoded image data, lower-case hex. "abc" -> well-known digest.
TEST(Xep0153Hash, HashOfDecodedBinval) {
  auto v = parse("<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>YWJj</BINVAL></PHOTO></vCard>");
  EXPECT_EQ(avatar_hash(v), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Xep0153Hash, WrappedBase64IsAccepted) {
  auto v = parse("<vCard xmlns='vcard-temp'><PHOTO><BINVAL>\n  YW\r\n Jj\n</BINVAL></PHOTO></vCard>");
  EXPECT_EQ(avatar_hash(v), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Xep0153Hash, NoPhotoMeansEmptyHash) {
  EXPECT_EQ(avatar_hash(parse("<vCard xmlns='vcard-temp'><FN>A</FN></vCard>")), "");
  EXPECT_EQ(avatar_hash(parse("<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>http://x/y.png</EXTVAL></PHOTO></vCard>")), "");
  EXPECT_EQ(avatar_hash(parse("<vCard xmlns='vcard-temp'><PHOTO><BINVAL/></PHOTO></vCard>")), "");
}

TEST(Xep0153Hash, BadBase64) {
  EXPECT_FALSE(avatar_hash(parse("<vCard xmlns='vcard-temp'><PHOTO><BINVAL>!!!</BINVAL></PHOTO></vCard>")));
}

TEST(StoredXml, RoundTripKeepsTree) {
  auto v = parse(
      "<vCard xmlns='vcard-temp' prodid='x'><FN>Juliet &amp; co</FN><N><GIVEN>J</GIVEN><MIDDLE/></N>"
      "<X-EXT xmlns='urn:example:ext' a='1'>t<b>u</b>v</X-EXT></vCard>");
  auto again = load_xml(store_xml(v));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, v);
  EXPECT_EQ(again->child("X-EXT", "urn:example:ext")->attr_or("a"), "1");
}

TEST(StoredXml, ListAndGarbage) {
  auto list = load_xml_list("<a xmlns='urn:x'/><b xmlns='urn:x'>t</b>");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
  EXPECT_FALSE(load_xml("<a xmlns='urn:x'>"));
  EXPECT_FALSE(load_xml("<a xmlns='urn:x'/><b xmlns='urn:x'/>"));
}

}  // namespace
}  // namespace starling::modules
