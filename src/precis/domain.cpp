// RFC 7622 §3.2 domainparts: IP literals, and DNS names prepared with IDNA2008 (RFC 5890-5893)
// plus the UTS #46 mapping, through libidn2. Returned in U-label form, which is what XMPP
// compares (RFC 7622 §3.2.3); domain_to_ascii gives the A-label form for DNS and PKIX.
//
// Not implemented: IPvFuture literals ("[v1.x]", RFC 3986 §3.2.2) are rejected, and IP literals
// are returned as given, not canonicalised (so "[::1]" and "[0::1]" are different domains).
#include <arpa/inet.h>
#include <idn2.h>

#include <memory>
#include <string>
#include <utility>

#include "precis/precis.hpp"

namespace starling::precis {
namespace {

// DNS limits (RFC 1035 §2.3.4, RFC 5890 §2.3.2.1), applied to the A-label form: a label is at
// most 63 octets and a name at most 253 octets in presentation form without the root dot
// (255 on the wire). These are tighter than RFC 7622's 1023-octet bound on a domainpart,
// which must also be resolvable.
constexpr std::size_t k_max_label = 63;
constexpr std::size_t k_max_name = 253;
// RFC 7622 §3.2: at most 1023 octets, checked on the U-label form we return.
constexpr std::size_t k_max_domainpart = 1023;
// Untrusted input is bounded before libidn2 sees it. UTS #46 maps some code points to nothing
// (U+00AD, variation selectors), so a longer input could in theory still map to a valid name;
// such padding is rejected on purpose rather than processed.
constexpr std::size_t k_max_raw = 4 * k_max_domainpart;

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_lower_ldh(char c) {
  return (c >= 'a' && c <= 'z') || is_ascii_digit(c) || c == '-';
}

// RFC 3986 §3.2.2 IPv4address: four dec-octets 0..255 without leading zeros.
bool is_ipv4_literal(std::string_view s) {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t start = i;
    unsigned value = 0;
    while (i < s.size() && is_ascii_digit(s[i]) && i - start < 3) {
      value = value * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
    }
    const std::size_t len = i - start;
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return false;
    ++parts;
    if (parts == 4) return i == s.size();
    if (i == s.size() || s[i] != '.') return false;
    ++i;
  }
}

// RFC 3986 §3.2.2 IP-literal restricted to IPv6address (RFC 4291 §2.2 text form). No zone
// identifiers: RFC 7622 §3.2 refers to RFC 3986's grammar, which has none.
bool is_ipv6_literal(std::string_view s) {
  if (s.size() < 4 || s.front() != '[' || s.back() != ']') return false;
  std::string inner(s.substr(1, s.size() - 2));
  if (inner.size() > 45) return false;  // INET6_ADDRSTRLEN - 1
  for (char c : inner) {
    const bool ok = is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == ':' || c == '.';
    if (!ok) return false;  // also keeps NUL out of inet_pton
  }
  unsigned char buf[16];
  return inet_pton(AF_INET6, inner.c_str(), buf) == 1;
}

enum class ldh_result { ok, invalid, has_a_label };

// Checks a lowercase ASCII name against the LDH rules: RFC 5890 §2.3.1 NR-LDH labels (letters,
// digits, hyphens; no leading or trailing hyphen; "--" in positions 3-4 only in "xn--"
// A-labels, whose punycode the caller must verify), the DNS length limits, no empty labels,
// and RFC 3696 §2: the last label (a TLD) is never all-numeric, so "1.2.3.256" is neither an
// address nor a name.
ldh_result check_ldh_name(std::string_view name) {
  if (name.empty() || name.size() > k_max_name) return ldh_result::invalid;
  bool a_label = false;
  bool last_all_digits = true;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > k_max_label) return ldh_result::invalid;
    if (label.front() == '-' || label.back() == '-') return ldh_result::invalid;
    bool all_digits = true;
    for (char c : label) {
      if (!is_ascii_lower_ldh(c)) return ldh_result::invalid;
      all_digits &= is_ascii_digit(c);
    }
    if (label.size() >= 4 && label[2] == '-' && label[3] == '-') {
      if (label[0] != 'x' || label[1] != 'n') return ldh_result::invalid;  // R-LDH, not xn--
      a_label = true;
    }
    last_all_digits = all_digits;
    start = dot + 1;
  }
  if (last_all_digits) return ldh_result::invalid;
  return a_label ? ldh_result::has_a_label : ldh_result::ok;
}

struct idn2_deleter {
  void operator()(char* p) const { idn2_free(p); }
};
using idn2_string = std::unique_ptr<char, idn2_deleter>;

// IDNA2008 lookup with the UTS #46 non-transitional mapping (so "ß" stays "ß"). Deliberately
// without IDN2_USE_STD3_ASCII_RULES: libidn2 2.3 then silently drops "_" ("a_b" becomes "ab")
// instead of rejecting it; check_ldh_name on the result enforces STD3 instead.
std::optional<std::string> idna_to_ascii(const std::string& in) {
  char* out = nullptr;
  const int rc = idn2_to_ascii_8z(in.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  idn2_string holder(out);
  if (rc != IDN2_OK || out == nullptr) return std::nullopt;
  return std::string(out);
}

std::optional<std::string> idna_to_unicode(const std::string& in) {
  char* out = nullptr;
  const int rc = idn2_to_unicode_8z8z(in.c_str(), &out, 0);
  idn2_string holder(out);
  if (rc != IDN2_OK || out == nullptr) return std::nullopt;
  return std::string(out);
}

// RFC 7622 §3.2: "If the domainpart includes a final character considered to be a label
// separator (dot) by [RFC1034], this character MUST be stripped". Only one: "a.." stays invalid.
std::string_view strip_trailing_dot(std::string_view in, bool& stripped) {
  stripped = !in.empty() && in.back() == '.';
  if (stripped) in.remove_suffix(1);
  return in;
}

// The full IDNA path for names with non-ASCII code points or A-labels. The A-label form is
// decoded back to U-labels and encoded again: libidn2's to_unicode does not validate, so the
// round trip is what rejects A-labels that are not the canonical encoding of a valid U-label
// (e.g. punycode of upper case letters).
std::optional<std::string> prepare_idn(std::string_view in, bool already_stripped,
                                       std::string* ascii_out) {
  if (in.size() > k_max_raw || in.find('\0') != std::string_view::npos) return std::nullopt;
  if (!is_valid_utf8(in)) return std::nullopt;
  std::optional<std::string> ascii = idna_to_ascii(std::string(in));
  if (!ascii) return std::nullopt;
  // The mapping turns U+3002 and other full stops into '.', so a trailing ideographic full
  // stop only shows up now; still only one trailing dot is removed in all.
  if (!already_stripped && !ascii->empty() && ascii->back() == '.') ascii->pop_back();
  if (is_ipv4_literal(*ascii)) {  // e.g. fullwidth digits mapped to an address
    if (ascii_out) *ascii_out = *ascii;
    return ascii;
  }
  if (check_ldh_name(*ascii) == ldh_result::invalid) return std::nullopt;
  std::optional<std::string> unicode = idna_to_unicode(*ascii);
  if (!unicode || unicode->empty() || unicode->size() > k_max_domainpart) return std::nullopt;
  std::optional<std::string> again = idna_to_ascii(*unicode);
  if (!again || *again != *ascii) return std::nullopt;
  if (ascii_out) *ascii_out = std::move(*ascii);
  return unicode;
}

// Shared by domain() and domain_to_ascii(); sets *ascii_out to the A-label form when given.
std::optional<std::string> prepare_domain(std::string_view in, std::string* ascii_out) {
  bool stripped = false;
  in = strip_trailing_dot(in, stripped);
  if (in.empty()) return std::nullopt;
  if (in.front() == '[') {
    if (!is_ipv6_literal(in)) return std::nullopt;
    if (ascii_out) *ascii_out = std::string(in);
    return std::string(in);
  }
  // Fast path, the common case: an ASCII LDH name, lowercased here without libidn2 (UTS #46
  // maps ASCII only by lowercasing it, and every other ASCII character except '.' is
  // disallowed under STD3 rules).
  bool ascii = true;
  bool upper = false;
  for (char c : in) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
    upper |= c >= 'A' && c <= 'Z';
    const bool ldh = is_ascii_lower_ldh(c) || c == '.' || (c >= 'A' && c <= 'Z');
    if (!ldh) return std::nullopt;
  }
  if (ascii) {
    if (is_ipv4_literal(in)) {
      if (ascii_out) *ascii_out = std::string(in);
      return std::string(in);
    }
    std::string lower(in);
    if (upper) {
      for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
    }
    switch (check_ldh_name(lower)) {
      case ldh_result::invalid:
        return std::nullopt;
      case ldh_result::ok:
        if (ascii_out) *ascii_out = lower;
        return lower;
      case ldh_result::has_a_label:
        // RFC 7622 §3.2.1: A-labels are converted to U-labels.
        return prepare_idn(lower, true, ascii_out);
    }
  }
  return prepare_idn(in, stripped, ascii_out);
}

}  // namespace

std::optional<std::string> domain(std::string_view in) { return prepare_domain(in, nullptr); }

std::optional<std::string> domain_to_ascii(std::string_view in) {
  std::string ascii;
  if (!prepare_domain(in, &ascii)) return std::nullopt;
  return ascii;
}

}  // namespace starling::precis
