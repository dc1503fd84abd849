// PRECIS framework (RFC 8264) string classes and the RFC 8265 profiles, on ICU.
// Implemented: IdentifierClass and FreeformClass derived properties (RFC 8264 §8, §9), the
// contextual rules of RFC 5892 Appendix A, the Bidi Rule (RFC 5893 §2), and the profiles
// UsernameCaseMapped, UsernameCasePreserved and OpaqueString. Not implemented: the Nickname
// profile (RFC 8266), which XMPP addresses do not use. The domain profile is in domain.cpp.
#include "precis/precis.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace starling::precis {

bool is_valid_utf8(std::string_view in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    // RFC 3629 §4 UTF8-2 / UTF8-3 / UTF8-4: the tight bounds on the second octet exclude
    // overlong forms (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and > U+10FFFF (F4 90..).
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) < len) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i < len; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    }
    p += len;
  }
  return true;
}

namespace {

enum class string_class { identifier, freeform };

// Outcome of the derived-property computation (RFC 8264 §8) for one class. ID_DIS and
// FREE_PVAL are already resolved to disallowed / pvalid for the class asked about; UNASSIGNED is
// folded into disallowed since both are rejected at enforcement time (RFC 8264 §4.2.3, §4.3.3).
enum class derived { pvalid, contextj, contexto, disallowed };

const icu::Normalizer2& nfc() {
  UErrorCode ec = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(ec);
  // ICU's data is linked in; failing to load it is a broken installation, not bad input.
  if (U_FAILURE(ec) || n == nullptr) std::abort();
  return *n;
}

const icu::Normalizer2& nfkc() {
  UErrorCode ec = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFKCInstance(ec);
  if (U_FAILURE(ec) || n == nullptr) std::abort();
  return *n;
}

// RFC 8264 §9.17 HasCompat: toNFKC(cp) != cp.
bool has_compat(UChar32 c) {
  const icu::Normalizer2& n = nfkc();
  icu::UnicodeString decomposition;
  // A code point without a decomposition mapping is its own NFKC form; most code points take
  // this exit, sparing a normalisation.
  if (!n.getDecomposition(c, decomposition)) return false;
  UErrorCode ec = U_ZERO_ERROR;
  icu::UnicodeString one(c);
  bool normalized = n.isNormalized(one, ec);
  return U_FAILURE(ec) || !normalized;
}

// RFC 8264 §9.6 Exceptions, i.e. RFC 5892 §2.6. Returns false when cp is not listed.
bool exception_property(UChar32 c, derived& out) {
  switch (c) {
    // PVALID
    case 0x00DF: case 0x03C2: case 0x06FD: case 0x06FE: case 0x0F0B: case 0x3007:
      out = derived::pvalid;
      return true;
    // CONTEXTO
    case 0x00B7: case 0x0375: case 0x05F3: case 0x05F4: case 0x30FB:
      out = derived::contexto;
      return true;
    // DISALLOWED
    case 0x0640: case 0x07FA: case 0x302E: case 0x302F: case 0x3031: case 0x3032:
    case 0x3033: case 0x3034: case 0x3035: case 0x303B:
      out = derived::disallowed;
      return true;
    default:
      break;
  }
  if ((c >= 0x0660 && c <= 0x0669) || (c >= 0x06F0 && c <= 0x06F9)) {
    out = derived::contexto;
    return true;
  }
  return false;
}

// RFC 8264 §8: the derived property of one code point, tests taken in exactly the RFC's order
// (the order matters: e.g. U+3007 is Nl but an Exception, so PVALID in IdentifierClass; U+00B5
// is Ll but HasCompat, so disallowed in IdentifierClass).
derived derived_property(UChar32 c, string_class cls) {
  derived ex;
  if (exception_property(c, ex)) return ex;
  // §9.7 BackwardCompatible is empty as of Unicode 15.
  const int8_t gc = u_charType(c);
  // §9.13 Unassigned: General_Category Cn and not Noncharacter_Code_Point.
  if (gc == U_UNASSIGNED && !u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT)) {
    return derived::disallowed;
  }
  // §9.11 ASCII7: printable ASCII except space.
  if (c >= 0x21 && c <= 0x7E) return derived::pvalid;
  // §9.8 JoinControl.
  if (u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL)) return derived::contextj;
  // §9.9 OldHangulJamo: Hangul_Syllable_Type L, V or T.
  const int32_t hst = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
  if (hst == U_HST_LEADING_JAMO || hst == U_HST_VOWEL_JAMO || hst == U_HST_TRAILING_JAMO) {
    return derived::disallowed;
  }
  // §9.10 PrecisIgnorableProperties: Default_Ignorable_Code_Point or Noncharacter_Code_Point.
  if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
      u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT)) {
    return derived::disallowed;
  }
  // §9.12 Controls.
  if (gc == U_CONTROL_CHAR) return derived::disallowed;
  const derived id_dis_or_free_pval =
      cls == string_class::freeform ? derived::pvalid : derived::disallowed;
  // §9.17 HasCompat.
  if (has_compat(c)) return id_dis_or_free_pval;
  switch (gc) {
    // §9.1 LetterDigits: Ll, Lu, Lo, Nd, Lm, Mn, Mc.
    case U_LOWERCASE_LETTER: case U_UPPERCASE_LETTER: case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER: case U_MODIFIER_LETTER: case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
      return derived::pvalid;
    // §9.18 OtherLetterDigits: Lt, Nl, No, Me.
    case U_TITLECASE_LETTER: case U_LETTER_NUMBER: case U_OTHER_NUMBER: case U_ENCLOSING_MARK:
    // §9.14 Spaces: Zs.
    case U_SPACE_SEPARATOR:
    // §9.15 Symbols: Sm, Sc, Sk, So.
    case U_MATH_SYMBOL: case U_CURRENCY_SYMBOL: case U_MODIFIER_SYMBOL: case U_OTHER_SYMBOL:
    // §9.16 Punctuation: Pc, Pd, Ps, Pe, Pi, Pf, Po.
    case U_CONNECTOR_PUNCTUATION: case U_DASH_PUNCTUATION: case U_START_PUNCTUATION:
    case U_END_PUNCTUATION: case U_INITIAL_PUNCTUATION: case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return id_dis_or_free_pval;
    default:
      // Everything else (Cf, Co, Cs, Zl, Zp ...) is DISALLOWED in both classes.
      return derived::disallowed;
  }
}

bool is_virama(UChar32 c) { return u_getCombiningClass(c) == 9; }

int32_t joining_type(UChar32 c) { return u_getIntPropertyValue(c, UCHAR_JOINING_TYPE); }

UScriptCode script_of(UChar32 c) {
  UErrorCode ec = U_ZERO_ERROR;
  UScriptCode s = uscript_getScript(c, &ec);
  return U_FAILURE(ec) ? USCRIPT_INVALID_CODE : s;
}

// RFC 5892 Appendix A contextual rules, which RFC 8264 §4.2.1 / §4.3.1 apply to CONTEXTJ and
// CONTEXTO code points in both string classes; "label" there means the whole string here.
bool context_rule_holds(const std::u32string& s, std::size_t i) {
  const UChar32 c = static_cast<UChar32>(s[i]);
  const UChar32 before = i > 0 ? static_cast<UChar32>(s[i - 1]) : -1;
  const UChar32 after = i + 1 < s.size() ? static_cast<UChar32>(s[i + 1]) : -1;
  switch (c) {
    case 0x200C: {  // A.1 ZERO WIDTH NON-JOINER
      if (before >= 0 && is_virama(before)) return true;
      // (Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D})
      std::size_t j = i;
      while (j > 0 && joining_type(static_cast<UChar32>(s[j - 1])) == U_JT_TRANSPARENT) --j;
      if (j == 0) return false;
      const int32_t left = joining_type(static_cast<UChar32>(s[j - 1]));
      if (left != U_JT_LEFT_JOINING && left != U_JT_DUAL_JOINING) return false;
      std::size_t k = i + 1;
      while (k < s.size() && joining_type(static_cast<UChar32>(s[k])) == U_JT_TRANSPARENT) ++k;
      if (k == s.size()) return false;
      const int32_t right = joining_type(static_cast<UChar32>(s[k]));
      return right == U_JT_RIGHT_JOINING || right == U_JT_DUAL_JOINING;
    }
    case 0x200D:  // A.2 ZERO WIDTH JOINER
      return before >= 0 && is_virama(before);
    case 0x00B7:  // A.3 MIDDLE DOT: only between two 'l' (Catalan ela geminada).
      return before == 0x006C && after == 0x006C;
    case 0x0375:  // A.4 GREEK LOWER NUMERAL SIGN (KERAIA)
      return after >= 0 && script_of(after) == USCRIPT_GREEK;
    case 0x05F3:  // A.5 HEBREW PUNCTUATION GERESH
    case 0x05F4:  // A.6 HEBREW PUNCTUATION GERSHAYIM
      return before >= 0 && script_of(before) == USCRIPT_HEBREW;
    case 0x30FB:  // A.7 KATAKANA MIDDLE DOT: needs a Hiragana, Katakana or Han code point.
      for (char32_t o : s) {
        if (o == 0x30FB) continue;
        const UScriptCode sc = script_of(static_cast<UChar32>(o));
        if (sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA || sc == USCRIPT_HAN) return true;
      }
      return false;
    default:
      break;
  }
  if (c >= 0x0660 && c <= 0x0669) {  // A.8 ARABIC-INDIC DIGITS: not mixed with A.9's.
    for (char32_t o : s) {
      if (o >= 0x06F0 && o <= 0x06F9) return false;
    }
    return true;
  }
  if (c >= 0x06F0 && c <= 0x06F9) {  // A.9 EXTENDED ARABIC-INDIC DIGITS
    for (char32_t o : s) {
      if (o >= 0x0660 && o <= 0x0669) return false;
    }
    return true;
  }
  return false;  // CONTEXTJ/CONTEXTO without a rule: RFC 5892 §5.2 says reject.
}

bool conforms_to_class(const std::u32string& s, string_class cls) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    switch (derived_property(static_cast<UChar32>(s[i]), cls)) {
      case derived::pvalid:
        break;
      case derived::contextj:
      case derived::contexto:
        if (!context_rule_holds(s, i)) return false;
        break;
      case derived::disallowed:
        return false;
    }
  }
  return true;
}

// RFC 5893 §2 Bidi Rule, applied to the whole string as RFC 8265 §3.3.2 step 5 and §3.4.2
// step 4 require for strings that contain right-to-left code points (R, AL or AN, the RFC 5893
// §1.4 definition of an RTL label).
bool satisfies_bidi_rule(const std::u32string& s) {
  bool has_rtl = false;
  for (char32_t c : s) {
    const UCharDirection d = u_charDirection(static_cast<UChar32>(c));
    if (d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER) {
      has_rtl = true;
      break;
    }
  }
  if (!has_rtl || s.empty()) return true;
  // Condition 1: first code point L, R or AL. With an R/AL/AN present, an L-first string
  // breaks condition 5, so only the RTL branch can succeed.
  const UCharDirection first = u_charDirection(static_cast<UChar32>(s.front()));
  if (first != U_RIGHT_TO_LEFT && first != U_RIGHT_TO_LEFT_ARABIC) return false;
  bool has_en = false, has_an = false;
  for (char32_t c : s) {
    switch (u_charDirection(static_cast<UChar32>(c))) {
      // Condition 2: the code points allowed in an RTL label.
      case U_RIGHT_TO_LEFT: case U_RIGHT_TO_LEFT_ARABIC: case U_EUROPEAN_NUMBER_SEPARATOR:
      case U_COMMON_NUMBER_SEPARATOR: case U_EUROPEAN_NUMBER_TERMINATOR: case U_OTHER_NEUTRAL:
      case U_BOUNDARY_NEUTRAL: case U_DIR_NON_SPACING_MARK:
        break;
      case U_EUROPEAN_NUMBER:
        has_en = true;
        break;
      case U_ARABIC_NUMBER:
        has_an = true;
        break;
      default:
        return false;
    }
  }
  // Condition 4: EN and AN must not both occur.
  if (has_en && has_an) return false;
  // Condition 3: ends with R, AL, EN or AN, then any number of NSM.
  std::size_t end = s.size();
  while (end > 0 && u_charDirection(static_cast<UChar32>(s[end - 1])) == U_DIR_NON_SPACING_MARK) {
    --end;
  }
  if (end == 0) return false;
  const UCharDirection last = u_charDirection(static_cast<UChar32>(s[end - 1]));
  return last == U_RIGHT_TO_LEFT || last == U_RIGHT_TO_LEFT_ARABIC ||
         last == U_EUROPEAN_NUMBER || last == U_ARABIC_NUMBER;
}

// RFC 8264 §9.1 Width Mapping Rule: fullwidth and halfwidth code points (decomposition type
// <wide> or <narrow>) are replaced by their decomposition mapping.
icu::UnicodeString map_width(const icu::UnicodeString& in) {
  icu::UnicodeString out;
  const icu::Normalizer2& n = nfkc();
  for (int32_t i = 0; i < in.length();) {
    const UChar32 c = in.char32At(i);
    i += U16_LENGTH(c);
    const int32_t dt = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
    icu::UnicodeString raw;
    if ((dt == U_DT_WIDE || dt == U_DT_NARROW) && n.getRawDecomposition(c, raw)) {
      out.append(raw);
    } else {
      out.append(c);
    }
  }
  return out;
}

// RFC 8265 §4.2.2 step 1 (Additional Mapping Rule of OpaqueString): non-ASCII spaces (Zs other
// than U+0020) become U+0020.
void map_spaces(icu::UnicodeString& s) {
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    const int32_t len = U16_LENGTH(c);
    if (c != 0x20 && u_charType(c) == U_SPACE_SEPARATOR) {
      s.replace(i, len, static_cast<char16_t>(0x20));
      i += 1;
    } else {
      i += len;
    }
  }
}

struct profile {
  string_class cls;
  bool width_mapping;
  bool space_mapping;
  bool case_mapping;
  bool bidi_rule;
};

// RFC 8265 §3.3 UsernameCaseMapped.
constexpr profile k_username_case_mapped{string_class::identifier, true, false, true, true};
// RFC 8265 §3.4 UsernameCasePreserved.
constexpr profile k_username_case_preserved{string_class::identifier, true, false, false, true};
// RFC 8265 §4.2 OpaqueString: no width or case mapping and no directionality rule (§4.2.2:
// the Bidi Rule is "unnecessary and inapplicable" to opaque strings).
constexpr profile k_opaque_string{string_class::freeform, false, true, false, false};

// RFC 8264 §7 enforcement: width mapping, additional mapping, case mapping, normalisation,
// directionality, then the behavioural rules of the string class on the resulting string, and
// finally the empty-string check (RFC 8264 §5.1 / RFC 8265 §3.1: zero-length is invalid).
// The class is checked on the mapped result, so e.g. U+1F88 (Lt, not allowed in
// IdentifierClass) is accepted by UsernameCaseMapped, which lowercases it to U+1F80 (Ll).
std::optional<std::string> enforce_slow(std::string_view in, const profile& p) {
  if (!is_valid_utf8(in)) return std::nullopt;
  icu::UnicodeString s =
      icu::UnicodeString::fromUTF8(icu::StringPiece(in.data(), static_cast<int32_t>(in.size())));
  if (p.width_mapping) s = map_width(s);
  if (p.space_mapping) map_spaces(s);
  // RFC 8265 §3.3.2 step 3 (and RFC 8264 §9.3) name Unicode toLowerCase(), not case folding:
  // "ß" stays "ß" (RFC 7622 §3.5 keeps fussball and fußball apart). ICU's root-locale
  // toLower is that operation, Final_Sigma included ("ΣΑΣ" becomes "σας").
  if (p.case_mapping) s.toLower(icu::Locale::getRoot());
  UErrorCode ec = U_ZERO_ERROR;
  icu::UnicodeString normalized = nfc().normalize(s, ec);
  if (U_FAILURE(ec)) return std::nullopt;

  std::u32string cps;
  cps.reserve(static_cast<std::size_t>(normalized.length()));
  for (int32_t i = 0; i < normalized.length();) {
    const UChar32 c = normalized.char32At(i);
    i += U16_LENGTH(c);
    cps.push_back(static_cast<char32_t>(c));
  }
  if (cps.empty()) return std::nullopt;
  if (!conforms_to_class(cps, p.cls)) return std::nullopt;
  if (p.bidi_rule && !satisfies_bidi_rule(cps)) return std::nullopt;
  std::string out;
  normalized.toUTF8String(out);
  return out;
}

}  // namespace

// The fast paths below cover the common case, printable ASCII, without touching ICU: every
// mapping rule is the identity there (except ASCII lowercasing), ASCII is NFC, ASCII7 is
// PVALID in both classes and ASCII has no right-to-left code points.

std::optional<std::string> username_case_mapped(std::string_view in) {
  if (in.empty() || in.size() > k_max_input) return std::nullopt;
  bool ascii = true, upper = false;
  for (unsigned char c : in) {
    if (c < 0x21 || c > 0x7E) {
      ascii = false;
      break;
    }
    upper |= c >= 'A' && c <= 'Z';
  }
  if (!ascii) return enforce_slow(in, k_username_case_mapped);
  std::string out(in);
  if (upper) {
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::optional<std::string> username_case_preserved(std::string_view in) {
  if (in.empty() || in.size() > k_max_input) return std::nullopt;
  for (unsigned char c : in) {
    if (c < 0x21 || c > 0x7E) return enforce_slow(in, k_username_case_preserved);
  }
  return std::string(in);
}

std::optional<std::string> opaque_string(std::string_view in) {
  if (in.empty() || in.size() > k_max_input) return std::nullopt;
  // U+0020 is Zs, which FreeformClass allows (RFC 8264 §4.3.2).
  for (unsigned char c : in) {
    if (c < 0x20 || c > 0x7E) return enforce_slow(in, k_opaque_string);
  }
  return std::string(in);
}

}  // namespace starling::precis
