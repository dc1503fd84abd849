#include "precis/precis.hpp"

#include <gtest/gtest.h>

#include <string>

using starling::precis::domain;
using starling::precis::domain_to_ascii;
using starling::precis::is_valid_utf8;
using starling::precis::opaque_string;
using starling::precis::username_case_mapped;
using starling::precis::username_case_preserved;

// --- UTF-8 -------------------------------------------------------------------------------

TEST(Utf8, AcceptsWellFormed) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("juliet"));
  EXPECT_TRUE(is_valid_utf8("fu\xC3\x9F" "ball"));
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));          // U+20AC
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));      // U+1F600
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));      // U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xED\x9F\xBF"));          // U+D7FF
}

TEST(Utf8, RejectsIllFormed) {
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));             // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));         // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));     // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));         // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));     // U+110000
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));             // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));                 // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  // The profiles reject it too rather than substituting U+FFFD.
  EXPECT_FALSE(username_case_mapped("a\xC0\xAF"));
  EXPECT_FALSE(opaque_string("a\xED\xA0\x80"));
  EXPECT_FALSE(domain("a\xE2\x82.com"));
}

// --- UsernameCaseMapped (RFC 8265 §3.3), examples from RFC 8265 §3.5 -------------------------

TEST(UsernameCaseMapped, Rfc8265ValidExamples) {
  // §3.5 examples 1-7.
  EXPECT_EQ(username_case_mapped("juliet@example.com"), "juliet@example.com");
  EXPECT_EQ(username_case_mapped("fussball"), "fussball");
  EXPECT_EQ(username_case_mapped("fu\u00DF" "ball"), "fu\u00DF" "ball");  // ß is not folded
  EXPECT_EQ(username_case_mapped("\u03C0"), "\u03C0");                  // π
  EXPECT_EQ(username_case_mapped("\u03A3"), "\u03C3");                  // Σ -> σ
  EXPECT_EQ(username_case_mapped("\u03C3"), "\u03C3");                  // σ
  EXPECT_EQ(username_case_mapped("\u03C2"), "\u03C2");                  // ς
}

TEST(UsernameCaseMapped, Rfc8265InvalidExamples) {
  EXPECT_FALSE(username_case_mapped("foo bar"));      // §3.5 ex. 8: space
  EXPECT_FALSE(username_case_mapped(""));             // ex. 9: empty
  EXPECT_FALSE(username_case_mapped("henry\u2163"));  // ex. 10: ROMAN NUMERAL FOUR, HasCompat
  EXPECT_FALSE(username_case_mapped("\u265A"));       // ex. 11: BLACK CHESS KING, symbol
}

TEST(UsernameCaseMapped, CaseMapping) {
  EXPECT_EQ(username_case_mapped("JULIET"), "juliet");
  EXPECT_EQ(username_case_mapped("Juliet@Example.COM"), "juliet@example.com");
  EXPECT_EQ(username_case_mapped("\u00C5NGSTR\u00D6M"), "\u00E5ngstr\u00F6m");
  // toLowerCase, not case folding: U+1E9E LATIN CAPITAL LETTER SHARP S -> ß, not "ss".
  EXPECT_EQ(username_case_mapped("\u1E9E"), "\u00DF");
  // Final_Sigma of Unicode toLowerCase(): ΣΑΣ -> σας.
  EXPECT_EQ(username_case_mapped("\u03A3\u0391\u03A3"), "\u03C3\u03B1\u03C2");
  EXPECT_EQ(username_case_mapped("\u212Aelvin"), "kelvin");  // KELVIN SIGN
}

TEST(UsernameCaseMapped, WidthMapping) {
  // RFC 8264 §9.1: fullwidth and halfwidth forms map to their decompositions.
  EXPECT_EQ(username_case_mapped("\uFF2A\uFF35\uFF2C\uFF29\uFF25\uFF34"), "juliet");  // ＪＵＬＩＥＴ
  // Halfwidth KA + halfwidth voiced mark -> KA + U+3099, then NFC -> GA (U+30AC).
  EXPECT_EQ(username_case_mapped("\uFF76\uFF9E"), "\u30AC");
  // Fullwidth '@' maps to '@', which UsernameCaseMapped allows (JID localparts do not).
  EXPECT_EQ(username_case_mapped("a\uFF20b"), "a@b");
}

TEST(UsernameCaseMapped, Normalization) {
  EXPECT_EQ(username_case_mapped("e\u0301"), "\u00E9");
  EXPECT_EQ(username_case_mapped("A\u030A"), "\u00E5");
  EXPECT_EQ(username_case_mapped("\u212B"), "\u00E5");  // ANGSTROM SIGN, canonical singleton
  // Conjoining jamo compose to a syllable; on their own they are OldHangulJamo.
  EXPECT_EQ(username_case_mapped("\u1100\u1161"), "\uAC00");
  EXPECT_FALSE(username_case_mapped("\u1100"));
}

TEST(UsernameCaseMapped, DisallowedCategories) {
  EXPECT_FALSE(username_case_mapped("a\tb"));        // Controls
  EXPECT_FALSE(username_case_mapped(std::string_view("a\0b", 3)));
  EXPECT_FALSE(username_case_mapped("a\x7F"));
  EXPECT_FALSE(username_case_mapped("a\u0378"));     // Unassigned
  EXPECT_FALSE(username_case_mapped("a\uE000"));     // private use
  EXPECT_FALSE(username_case_mapped("a\uFFFF"));     // noncharacter
  EXPECT_FALSE(username_case_mapped("a\u00AD"));     // SOFT HYPHEN, default ignorable
  EXPECT_FALSE(username_case_mapped("a\u200Bb"));    // ZERO WIDTH SPACE, default ignorable
  EXPECT_FALSE(username_case_mapped("a\u00A0b"));    // NBSP: Spaces and HasCompat
  EXPECT_FALSE(username_case_mapped("a\u3000b"));    // ideographic space, width-mapped to ' '
  EXPECT_FALSE(username_case_mapped("\u00AA"));      // ª HasCompat
  EXPECT_FALSE(username_case_mapped("\uFB01"));      // ﬁ ligature HasCompat
  EXPECT_FALSE(username_case_mapped("\u00B5"));      // µ: Ll but HasCompat, tested first
  EXPECT_FALSE(username_case_mapped("\u2603"));      // So
  EXPECT_FALSE(username_case_mapped("\u00BF"));      // ¿ non-ASCII punctuation
  EXPECT_FALSE(username_case_mapped("\u01C5"));      // Lt: lowercases to U+01C6, HasCompat
  EXPECT_FALSE(username_case_mapped("a\u2028b"));    // LINE SEPARATOR
  EXPECT_FALSE(username_case_mapped("a\u0640b"));    // Exception: ARABIC TATWEEL disallowed
}

TEST(UsernameCaseMapped, ExceptionsPvalid) {
  EXPECT_EQ(username_case_mapped("\u3007"), "\u3007");  // IDEOGRAPHIC NUMBER ZERO, Nl
  EXPECT_EQ(username_case_mapped("\u0F0B"), "\u0F0B");  // TIBETAN MARK INTERSYLLABIC TSHEG
}

TEST(UsernameCaseMapped, ContextRules) {
  // RFC 5892 A.3 MIDDLE DOT between two 'l' only.
  EXPECT_EQ(username_case_mapped("l\u00B7l"), "l\u00B7l");
  EXPECT_FALSE(username_case_mapped("a\u00B7b"));
  EXPECT_FALSE(username_case_mapped("\u00B7l"));
  // A.1 ZWNJ after a virama (DEVANAGARI KA, SIGN VIRAMA, ZWNJ, SSA).
  EXPECT_TRUE(username_case_mapped("\u0915\u094D\u200C\u0937"));
  EXPECT_FALSE(username_case_mapped("a\u200Cb"));
  EXPECT_FALSE(username_case_mapped("\u200C"));
  // A.1 ZWNJ between dual-joining Arabic letters (BEH ZWNJ BEH).
  EXPECT_TRUE(username_case_mapped("\u0628\u200C\u0628"));
  // A.2 ZWJ only after a virama.
  EXPECT_TRUE(username_case_mapped("\u0915\u094D\u200D\u0937"));
  EXPECT_FALSE(username_case_mapped("\u0628\u200D\u0628"));
  // A.4 KERAIA before Greek.
  EXPECT_TRUE(username_case_mapped("\u0375\u03B1"));
  EXPECT_FALSE(username_case_mapped("\u0375a"));
  // A.5 GERESH after Hebrew.
  EXPECT_TRUE(username_case_mapped("\u05D0\u05F3"));
  EXPECT_FALSE(username_case_mapped("a\u05F3"));
  // A.7 KATAKANA MIDDLE DOT with kana or Han present.
  EXPECT_TRUE(username_case_mapped("\u30AB\u30FB\u30AB"));
  EXPECT_FALSE(username_case_mapped("a\u30FBb"));
  EXPECT_FALSE(username_case_mapped("\u30FB"));
  // A.8 / A.9 Arabic-Indic digits of the two kinds do not mix.
  EXPECT_TRUE(username_case_mapped("\u0628\u0660"));
  EXPECT_TRUE(username_case_mapped("\u0628\u06F0"));
  EXPECT_FALSE(username_case_mapped("\u0628\u0660\u06F0"));
}

TEST(UsernameCaseMapped, BidiRule) {
  EXPECT_TRUE(username_case_mapped("\u05D0\u05D1"));          // Hebrew
  EXPECT_TRUE(username_case_mapped("\u05D0\u05D1" "1"));      // RTL ending in EN
  EXPECT_TRUE(username_case_mapped("\u0628\u064E"));          // AL + NSM at the end
  EXPECT_FALSE(username_case_mapped("a\u05D0"));              // LTR label with R
  EXPECT_FALSE(username_case_mapped("\u05D0a"));              // RTL label with L
  EXPECT_FALSE(username_case_mapped("1\u05D0"));              // starts with EN
  EXPECT_FALSE(username_case_mapped("\u05D0-"));              // ends with ES
  EXPECT_FALSE(username_case_mapped("\u05D0" "1\u0660"));     // EN and AN together
  EXPECT_TRUE(username_case_mapped("abc1"));                   // no RTL: rule not applied
}

TEST(UsernameCaseMapped, AsciiFastPathMatchesRules) {
  std::string all;
  for (char c = 0x21; c <= 0x7E; ++c) all += c;
  std::string lower = all;
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  EXPECT_EQ(username_case_mapped(all), lower);
  // Same result when ICU does the work (a non-ASCII code point forces the slow path).
  EXPECT_EQ(username_case_mapped(all + "\u00E9"), lower + "\u00E9");
}

TEST(UsernameCasePreserved, Rules) {
  EXPECT_EQ(username_case_preserved("Juliet"), "Juliet");
  EXPECT_EQ(username_case_preserved("\u03A3"), "\u03A3");
  EXPECT_EQ(username_case_preserved("\uFF2A\uFF35\uFF2C"), "JUL");  // width mapping only
  EXPECT_EQ(username_case_preserved("E\u0301"), "\u00C9");
  EXPECT_FALSE(username_case_preserved("foo bar"));
  EXPECT_FALSE(username_case_preserved(""));
  EXPECT_FALSE(username_case_preserved("henry\u2163"));
  // U+1F88 is Lt (OtherLetterDigits): disallowed unless case mapping makes it Ll U+1F80.
  EXPECT_FALSE(username_case_preserved("\u1F88"));
  EXPECT_EQ(username_case_mapped("\u1F88"), "\u1F80");
  EXPECT_EQ(username_case_preserved("\u212A"), "K");  // KELVIN SIGN: NFC singleton
  EXPECT_FALSE(username_case_preserved("a\u05D0"));
}

// --- OpaqueString (RFC 8265 §4.2), examples from RFC 8265 §4.3 -----------------------------

TEST(OpaqueString, Rfc8265Examples) {
  EXPECT_EQ(opaque_string("correct horse battery staple"), "correct horse battery staple");
  EXPECT_EQ(opaque_string("Correct Horse Battery Staple"), "Correct Horse Battery Staple");
  EXPECT_EQ(opaque_string("\u03C0\u00DF\u00E5"), "\u03C0\u00DF\u00E5");  // πßå
  EXPECT_EQ(opaque_string("Jack of \u2666s"), "Jack of \u2666s");        // ♦
  EXPECT_EQ(opaque_string("foo\u1680bar"), "foo bar");  // OGHAM SPACE MARK -> U+0020
  EXPECT_FALSE(opaque_string(""));
  EXPECT_FALSE(opaque_string("my cat is a \tby"));  // control
}

TEST(OpaqueString, Rules) {
  EXPECT_EQ(opaque_string(" leading and trailing "), " leading and trailing ");
  EXPECT_EQ(opaque_string("a\u3000b\u00A0c\u2009d"), "a b c d");  // all Zs -> U+0020
  // No width or case mapping; compatibility characters, symbols and punctuation are allowed.
  EXPECT_EQ(opaque_string("\uFF21\uFF22"), "\uFF21\uFF22");
  EXPECT_EQ(opaque_string("henry\u2163"), "henry\u2163");
  EXPECT_EQ(opaque_string("\u265A"), "\u265A");
  EXPECT_EQ(opaque_string("\u00BFQu\u00E9?"), "\u00BFQu\u00E9?");
  EXPECT_EQ(opaque_string("e\u0301"), "\u00E9");  // NFC
  // No Bidi Rule for OpaqueString.
  EXPECT_EQ(opaque_string("a\u05D0"), "a\u05D0");
  EXPECT_FALSE(opaque_string("a\nb"));
  EXPECT_FALSE(opaque_string(std::string_view("a\0", 2)));
  EXPECT_FALSE(opaque_string("a\x7F"));
  EXPECT_FALSE(opaque_string("a\u0085"));  // C1 control NEL
  EXPECT_FALSE(opaque_string("a\u2028"));  // Zl
  EXPECT_FALSE(opaque_string("a\u200B"));  // default ignorable
  EXPECT_FALSE(opaque_string("a\uFEFF"));  // BOM, default ignorable
  EXPECT_FALSE(opaque_string("a\u0378"));  // unassigned
  EXPECT_FALSE(opaque_string("\u1100"));   // OldHangulJamo
  EXPECT_FALSE(opaque_string("a\u00B7b"));  // CONTEXTO in FreeformClass too
  EXPECT_EQ(opaque_string("l\u00B7l"), "l\u00B7l");
}

TEST(Profiles, Idempotent) {
  const char* samples[] = {"JULIET", "\uFF2A\uFF35", "\u03A3\u0391\u03A3", "\u212Aelvin",
                           "e\u0301", "\uFF76\uFF9E", "\u1E9E", "\u0130", "foo\u1680bar",
                           "\u1100\u1161\u11A8"};
  for (const char* s : samples) {
    if (auto once = username_case_mapped(s)) {
      EXPECT_EQ(username_case_mapped(*once), once) << s;
    }
    if (auto once = username_case_preserved(s)) {
      EXPECT_EQ(username_case_preserved(*once), once) << s;
    }
    if (auto once = opaque_string(s)) {
      EXPECT_EQ(opaque_string(*once), once) << s;
    }
  }
}

TEST(Profiles, InputBound) {
  EXPECT_TRUE(opaque_string(std::string(starling::precis::k_max_input, 'a')));
  EXPECT_FALSE(opaque_string(std::string(starling::precis::k_max_input + 1, 'a')));
}

// --- Domains (RFC 7622 §3.2) ------------------------------------------------------------

TEST(Domain, Ascii) {
  EXPECT_EQ(domain("example.com"), "example.com");
  EXPECT_EQ(domain("EXAMPLE.Com"), "example.com");
  EXPECT_EQ(domain("localhost"), "localhost");
  EXPECT_EQ(domain("a-b.c0"), "a-b.c0");
  EXPECT_EQ(domain("1e100.net"), "1e100.net");
  EXPECT_FALSE(domain(""));
  EXPECT_FALSE(domain("a_b.com"));   // STD3: not LDH
  EXPECT_FALSE(domain("exa mple.com"));
  EXPECT_FALSE(domain("ex@mple.com"));
  EXPECT_FALSE(domain("-a.com"));
  EXPECT_FALSE(domain("a-.com"));
  EXPECT_FALSE(domain("ab--cd.com"));  // R-LDH label that is not an A-label
  EXPECT_FALSE(domain("a..b"));
  EXPECT_FALSE(domain(".a"));
  EXPECT_FALSE(domain("example.123"));  // RFC 3696 §2: all-numeric TLD
  EXPECT_FALSE(domain("1.2.3.256"));
}

TEST(Domain, TrailingDot) {
  // RFC 7622 §3.2: one trailing label separator is stripped.
  EXPECT_EQ(domain("example.com."), "example.com");
  EXPECT_EQ(domain("EXAMPLE.COM."), "example.com");
  EXPECT_EQ(domain("\u4F8B\u3048.\u30C6\u30B9\u30C8."), "\u4F8B\u3048.\u30C6\u30B9\u30C8");
  EXPECT_EQ(domain("\u4F8B\u3048\u3002\u30C6\u30B9\u30C8\u3002"),
            "\u4F8B\u3048.\u30C6\u30B9\u30C8");  // ideographic full stops
  EXPECT_FALSE(domain("example.com.."));
  EXPECT_FALSE(domain("\u4F8B\u3048.\u30C6\u30B9\u30C8.\u3002"));
  EXPECT_FALSE(domain("."));
}

TEST(Domain, LengthLimits) {
  const std::string l63(63, 'a');
  EXPECT_EQ(domain(l63 + ".com"), l63 + ".com");
  EXPECT_FALSE(domain(std::string(64, 'a') + ".com"));
  // 4 * 63 + 3 dots = 255 > 253; 3 * 63 + 2 + 1 + 61 = 253.
  EXPECT_FALSE(domain(l63 + "." + l63 + "." + l63 + "." + l63));
  const std::string n253 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'a');
  ASSERT_EQ(n253.size(), 253u);
  EXPECT_EQ(domain(n253), n253);
  EXPECT_EQ(domain(n253 + "."), n253);
  EXPECT_FALSE(domain(n253 + "a"));
  // The label limit applies to the A-label form: these 21 scattered CJK code points are 63
  // octets as a U-label but 67 as an A-label; 14 of them fit (46 octets as an A-label).
  std::string cjk;
  for (char32_t c = 0x4E00; c < 0x4E00 + 21 * 997; c += 997) {
    cjk += static_cast<char>(0xE0 | (c >> 12));
    cjk += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    cjk += static_cast<char>(0x80 | (c & 0x3F));
  }
  EXPECT_FALSE(domain(cjk + ".com"));
  ASSERT_TRUE(domain(cjk.substr(0, 3 * 14) + ".com"));
  EXPECT_EQ(domain_to_ascii(cjk.substr(0, 3 * 14))->size(), 46u);
}

TEST(Domain, Idn) {
  const std::string u = "\u4F8B\u3048.\u30C6\u30B9\u30C8";  // 例え.テスト
  EXPECT_EQ(domain(u), u);
  EXPECT_EQ(domain("xn--r8jz45g.xn--zckzah"), u);  // A-labels come back as U-labels
  EXPECT_EQ(domain("XN--R8JZ45G.XN--ZCKZAH"), u);
  EXPECT_EQ(domain_to_ascii(u), "xn--r8jz45g.xn--zckzah");
  EXPECT_EQ(domain_to_ascii("xn--r8jz45g.xn--zckzah."), "xn--r8jz45g.xn--zckzah");
  EXPECT_EQ(domain_to_ascii("example.com"), "example.com");
  // UTS #46 mapping: upper case and fullwidth forms.
  EXPECT_EQ(domain("\uFF25\uFF38\uFF21\uFF2D\uFF30\uFF2C\uFF25.com"), "example.com");
  EXPECT_EQ(domain("B\u00DCCHER.de"), "b\u00FCcher.de");
  // Non-transitional: ß is kept (IDNA2008), not mapped to "ss" (IDNA2003).
  EXPECT_EQ(domain("fu\u00DF" "ball.de"), "fu\u00DF" "ball.de");
  EXPECT_EQ(domain_to_ascii("fu\u00DF" "ball.de"), "xn--fuball-cta.de");
  EXPECT_EQ(domain("xn--bcher-kva.de"), "b\u00FCcher.de");
  // NFC.
  EXPECT_EQ(domain("bu\u0308cher.de"), "b\u00FCcher.de");
}

TEST(Domain, InvalidIdn) {
  EXPECT_FALSE(domain("xn--a.com"));         // bad punycode
  EXPECT_FALSE(domain("xn--0.com"));
  EXPECT_FALSE(domain("xn--bcher-2pa.de"));   // punycode of "bÜcher": not a valid U-label
  EXPECT_FALSE(domain("xn--_x-9ia.com"));     // basic code point '_' in an A-label
  EXPECT_FALSE(domain("\u00E9_x.com"));       // '_' next to non-ASCII
  EXPECT_FALSE(domain("\uFF21\uFF3F\uFF42.com"));  // fullwidth '_' maps to '_'
  EXPECT_FALSE(domain("\U0001F4A9.com"));     // emoji: DISALLOWED in IDNA2008
  EXPECT_FALSE(domain("a\u200Cb.com"));       // ZWNJ without context
  EXPECT_FALSE(domain("\u00E9\uFF0Fx.com"));  // fullwidth solidus maps to '/'
  EXPECT_FALSE(domain("\u00E9 x.com"));
  EXPECT_FALSE(domain(std::string_view("\u00E9\0.com", 7)));
  EXPECT_FALSE(domain("\u05D0a.com"));        // Bidi Rule per label (RFC 5893)
}

TEST(Domain, IpLiterals) {
  EXPECT_EQ(domain("[::1]"), "[::1]");
  EXPECT_EQ(domain("[2001:db8::1]"), "[2001:db8::1]");
  EXPECT_EQ(domain("[2001:DB8::1]"), "[2001:DB8::1]");  // passed through unchanged
  EXPECT_EQ(domain("[::ffff:192.0.2.1]"), "[::ffff:192.0.2.1]");
  EXPECT_EQ(domain("[::1]."), "[::1]");
  EXPECT_EQ(domain_to_ascii("[::1]"), "[::1]");
  EXPECT_FALSE(domain("[]"));
  EXPECT_FALSE(domain("[::1"));
  EXPECT_FALSE(domain("::1"));
  EXPECT_FALSE(domain("[::1%eth0]"));  // no zone identifiers in RFC 3986
  EXPECT_FALSE(domain("[v1.x]"));      // IPvFuture not supported
  EXPECT_FALSE(domain("[192.0.2.1]"));
  EXPECT_FALSE(domain("[1:2:3:4:5:6:7:8:9]"));
  EXPECT_FALSE(domain(std::string_view("[::1\0]", 6)));
  EXPECT_EQ(domain("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(domain("192.0.2.1."), "192.0.2.1");
  EXPECT_EQ(domain("0.0.0.0"), "0.0.0.0");
  EXPECT_FALSE(domain("192.0.2.01"));
  EXPECT_FALSE(domain("256.0.0.1"));
  EXPECT_FALSE(domain("1.2.3"));
  EXPECT_FALSE(domain("1.2.3.4.5"));
  // Fullwidth digits map to an address.
  EXPECT_EQ(domain("\uFF11\uFF12\uFF17.0.0.1"), "127.0.0.1");
}

TEST(Domain, Idempotent) {
  const char* samples[] = {"EXAMPLE.COM.", "xn--r8jz45g.xn--zckzah", "B\u00DCCHER.de",
                           "\u4F8B\u3048\u3002\u30C6\u30B9\u30C8\u3002", "[::1].",
                           "\uFF11\uFF12\uFF17.0.0.1"};
  for (const char* s : samples) {
    auto once = domain(s);
    ASSERT_TRUE(once) << s;
    EXPECT_EQ(domain(*once), once) << s;
    auto ascii = domain_to_ascii(s);
    ASSERT_TRUE(ascii) << s;
    EXPECT_EQ(domain(*ascii), once) << s;
  }
}
