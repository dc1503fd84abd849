#include "config/domain_name.hpp"

#include <arpa/inet.h>

#include <type_traits>

#include "precis/precis.hpp"

// starling_precis (ICU, libidn2) is not among starling_config's link dependencies, so the
// config tests link without it, while starlingd always contains it (JIDs need it). Declaring
// the two functions weak lets this library use full RFC 7622 preparation whenever the program
// has it and fall back to a strict ASCII check otherwise, without a link-time dependency.
// The static_asserts turn a changed signature in precis.hpp into a compile error instead of
// a silent fallback.
namespace starling::precis {
[[gnu::weak]] std::optional<std::string> domain(std::string_view in);
[[gnu::weak]] std::optional<std::string> domain_to_ascii(std::string_view in);
}  // namespace starling::precis
static_assert(std::is_same_v<decltype(&starling::precis::domain),
                             std::optional<std::string> (*)(std::string_view)>);
static_assert(std::is_same_v<decltype(&starling::precis::domain_to_ascii),
                             std::optional<std::string> (*)(std::string_view)>);

namespace starling::config {
namespace {

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// Host names as RFC 1123 §2.1 / RFC 5890 §2.3.1 "LDH labels" allow them, lowercased.
std::optional<std::string> ascii_hostname(std::string_view in) {
  if (in.empty() || in.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(in.size());
  size_t label = 0;
  bool label_numeric = true;
  for (char c : in) {
    if (c == '.') {
      if (label == 0 || out.back() == '-') return std::nullopt;
      label = 0;
      label_numeric = true;
      out += c;
      continue;
    }
    bool digit = c >= '0' && c <= '9';
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!digit && !letter && c != '-') return std::nullopt;
    if (c == '-' && label == 0) return std::nullopt;
    if (++label > 63) return std::nullopt;
    label_numeric = label_numeric && digit;
    out += letter ? static_cast<char>(c | 0x20) : c;
  }
  if (label == 0 || out.back() == '-') return std::nullopt;
  // A numeric last label means a mistyped IP address ("10.0.0.256"); no TLD is numeric.
  if (label_numeric) return std::nullopt;
  return out;
}

}  // namespace

bool parse_ip_literal(std::string_view domain, std::string& address_bytes) {
  unsigned char buf[16];
  if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    std::string inner(domain.substr(1, domain.size() - 2));
    if (inet_pton(AF_INET6, inner.c_str(), buf) != 1) return false;
    address_bytes.assign(reinterpret_cast<char*>(buf), 16);
    return true;
  }
  std::string s(domain);
  if (inet_pton(AF_INET, s.c_str(), buf) != 1) return false;
  address_bytes.assign(reinterpret_cast<char*>(buf), 4);
  return true;
}

bool has_precis_domains() { return &precis::domain != nullptr; }

std::optional<std::string> prepare_domain(std::string_view in) {
  if (has_precis_domains()) return precis::domain(in);
  // RFC 7622 §3.2: a trailing dot is stripped before anything else.
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  std::string ip;
  if (parse_ip_literal(in, ip)) return std::string(in);
  if (!is_ascii(in)) return std::nullopt;  // IDNA needs PRECIS
  return ascii_hostname(in);
}

std::optional<std::string> domain_to_ascii(std::string_view prepared) {
  if (&precis::domain_to_ascii != nullptr) return precis::domain_to_ascii(prepared);
  if (!is_ascii(prepared)) return std::nullopt;
  return std::string(prepared);
}

}  // namespace starling::config
