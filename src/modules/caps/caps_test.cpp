// XEP-0115 §5: verification strings, checked against the XEP's own examples.
#include <gtest/gtest.h>

#include "modules/caps/caps_ver.hpp"
#include "modules/stored_xml/stored_xml.hpp"

namespace starling::modules {
namespace {

xml::element parse(std::string_view text) {
  auto e = load_xml(text);
  EXPECT_TRUE(e.has_value()) << text;
  return e ? *e : xml::element();
}

// XEP-0115 §5.2 (Simple Generation Example).
constexpr std::string_view simple =
    "<query xmlns='http://jabber.org/protocol/disco#info' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>"
    "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
    "<feature var='http://jabber.org/protocol/muc'/>"
    "<feature var='http://jabber.org/protocol/disco#info'/>"
    "<feature var='http://jabber.org/protocol/disco#items'/>"
    "<feature var='http://jabber.org/protocol/caps'/>"
    "</query>";

// XEP-0115 §5.3 (Complex Generation Example), fields in the order of the XEP.
constexpr std::string_view complex =
    "<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>"
    "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
    "<identity xml:lang='el' category='client' name='\xCE\xA8 0.11' type='pc'/>"
    "<feature var='http://jabber.org/protocol/caps'/>"
    "<feature var='http://jabber.org/protocol/disco#info'/>"
    "<feature var='http://jabber.org/protocol/disco#items'/>"
    "<feature var='http://jabber.org/protocol/muc'/>"
    "<x xmlns='jabber:x:data' type='result'>"
    "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>"
    "<field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>"
    "<field var='os'><value>Mac</value></field>"
    "<field var='software_version'><value>0.11</value></field>"
    "<field var='os_version'><value>10.5.1</value></field>"
    "<field var='software'><value>Psi</value></field>"
    "</x>"
    "</query>";

TEST(Xep0115Ver, SimpleExampleString) {
  EXPECT_EQ(caps_string(parse(simple)),
            "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<"
            "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<");
}

TEST(Xep0115Ver, SimpleExampleSha1) {
  EXPECT_EQ(caps_ver(parse(simple), "sha-1"), "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

TEST(Xep0115Ver, ComplexExampleString) {
  EXPECT_EQ(caps_string(parse(complex)),
            "client/pc/el/\xCE\xA8 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<"
            "http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<"
            "http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<"
            "os_version<10.5.1<software<Psi<software_version<0.11<");
}

TEST(Xep0115Ver, ComplexExampleSha1) {
  EXPECT_EQ(caps_ver(parse(complex), "sha-1"), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}

TEST(Xep0115Ver, OrderOfElementsDoesNotMatter) {
  auto q = parse(
      "<query xmlns='http://jabber.org/protocol/disco#info'>"
      "<feature var='http://jabber.org/protocol/caps'/>"
      "<feature var='http://jabber.org/protocol/disco#items'/>"
      "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
      "<feature var='http://jabber.org/protocol/disco#info'/>"
      "<feature var='http://jabber.org/protocol/muc'/>"
      "</query>");
  EXPECT_EQ(caps_ver(q, "sha-1"), "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

// §5.4 step 3.3: duplicate identity.
TEST(Xep0115Ver, DuplicateIdentityIsIllFormed) {
  auto q = parse(
      "<query xmlns='http://jabber.org/protocol/disco#info'>"
      "<identity category='client' type='pc' name='A'/><identity category='client' type='pc' name='A'/>"
      "</query>");
  EXPECT_FALSE(caps_ver(q, "sha-1"));
}

// §5.4 step 3.4: duplicate feature.
TEST(Xep0115Ver, DuplicateFeatureIsIllFormed) {
  auto q = parse(
      "<query xmlns='http://jabber.org/protocol/disco#info'>"
      "<identity category='client' type='pc'/><feature var='a'/><feature var='a'/>"
      "</query>");
  EXPECT_FALSE(caps_ver(q, "sha-1"));
}

// §5.4 step 3.5: two forms with one FORM_TYPE, or a FORM_TYPE with differing values.
TEST(Xep0115Ver, DuplicateFormTypeIsIllFormed) {
  auto q = parse(
      "<query xmlns='http://jabber.org/protocol/disco#info'>"
      "<identity category='client' type='pc'/>"
      "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:a</value></field></x>"
      "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:a</value></field></x>"
      "</query>");
  EXPECT_FALSE(caps_ver(q, "sha-1"));
  auto q2 = parse(
      "<query xmlns='http://jabber.org/protocol/disco#info'>"
      "<identity category='client' type='pc'/>"
      "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:a</value>"
      "<value>urn:b</value></field></x>"
      "</query>");
  EXPECT_FALSE(caps_ver(q2, "sha-1"));
}

// §5.4 step 3.6: a form whose FORM_TYPE is not hidden, or without one, is ignored.
TEST(Xep0115Ver, FormWithoutHiddenFormTypeIsIgnored) {
  auto q = parse(
      "<query xmlns='http://jabber.org/protocol/disco#info'>"
      "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
      "<feature var='http://jabber.org/protocol/muc'/>"
      "<feature var='http://jabber.org/protocol/disco#info'/>"
      "<feature var='http://jabber.org/protocol/disco#items'/>"
      "<feature var='http://jabber.org/protocol/caps'/>"
      "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:a</value></field>"
      "<field var='x'><value>1</value></field></x>"
      "<x xmlns='jabber:x:data' type='result'><field var='y'><value>2</value></field></x>"
      "</query>");
  EXPECT_EQ(caps_ver(q, "sha-1"), "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

TEST(Xep0115Ver, OtherHashes) {
  EXPECT_TRUE(caps_ver(parse(simple), "sha-256"));
  EXPECT_NE(caps_ver(parse(simple), "sha-256"), caps_ver(parse(simple), "sha-1"));
  EXPECT_FALSE(caps_ver(parse(simple), "md5"));
  EXPECT_FALSE(is_supported_caps_hash("md5"));
}

TEST(Xep0115Ver, Features) {
  auto f = disco_features(parse(simple));
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0], "http://jabber.org/protocol/caps");
  EXPECT_EQ(f[3], "http://jabber.org/protocol/muc");
}

}  // namespace
}  // namespace starling::modules
