// XMPP addresses, RFC 7622. Splitting (§3.1), then per part: domainpart (§3.2, IDNA2008 via
// precis::domain), localpart (§3.3, UsernameCaseMapped plus the §3.3.1 exclusions),
// resourcepart (§3.4, OpaqueString).
//
// On one point this follows the normative text over an example: RFC 7622 §3.5 lists
// "juliet@example.com/ foo" (leading space in the resourcepart) as invalid, but OpaqueString
// (RFC 8265 §4.2) allows U+0020 anywhere and neither RFC 7622 nor RFC 8265 has a rule against
// leading or trailing spaces, so such resources are accepted, as other servers do.
#include "jid/jid.hpp"

#include "precis/precis.hpp"

namespace starling {
namespace {

// RFC 7622 §3.1: each part is 1..1023 octets after preparation and enforcement.
constexpr std::size_t k_max_part = 1023;
// Enforcement can shrink a string (a fullwidth letter is 3 octets, its mapping 1; NFC composes
// at most three code points into one), by no more than 3:1, so raw parts over four times the
// limit are rejected before any Unicode work is done on them.
constexpr std::size_t k_max_raw_part = 4 * k_max_part;

// RFC 7622 §3.3.1: code points allowed by UsernameCaseMapped but not in localparts. Checked
// after enforcement, since width mapping can produce them (U+FF20 FULLWIDTH COMMERCIAL AT).
bool has_localpart_exclusion(std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '"': case '&': case '\'': case '/': case ':': case '<': case '>': case '@':
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

std::optional<std::string> jid::enforce_localpart(std::string_view in) {
  if (in.empty() || in.size() > k_max_raw_part) return std::nullopt;
  std::optional<std::string> out = precis::username_case_mapped(in);
  if (!out || out->size() > k_max_part || has_localpart_exclusion(*out)) return std::nullopt;
  return out;
}

std::optional<std::string> jid::enforce_domainpart(std::string_view in) {
  if (in.empty() || in.size() > k_max_raw_part) return std::nullopt;
  std::optional<std::string> out = precis::domain(in);
  if (!out || out->empty() || out->size() > k_max_part) return std::nullopt;
  return out;
}

std::optional<std::string> jid::enforce_resourcepart(std::string_view in) {
  if (in.empty() || in.size() > k_max_raw_part) return std::nullopt;
  std::optional<std::string> out = precis::opaque_string(in);
  if (!out || out->size() > k_max_part) return std::nullopt;
  return out;
}

std::optional<jid> jid::parse(std::string_view text) {
  // RFC 7622 §3.1: separators are found before any mapping (a fullwidth '@' never splits),
  // first the resourcepart from the first '/' on (it may itself hold '/' and '@'), then the
  // localpart up to the first '@' of what is left; the rest is the domainpart.
  std::string_view rest = text;
  std::string_view local, resource;
  bool has_slash = false, has_at = false;
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    has_slash = true;
    resource = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    has_at = true;
    local = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  // A separator with nothing on its side is an empty part, not an absent one ("@example.com",
  // "example.com/"), and RFC 7622 §3.3 / §3.4 require at least one octet.
  if ((has_at && local.empty()) || (has_slash && resource.empty())) return std::nullopt;

  jid j;
  std::optional<std::string> d = enforce_domainpart(rest);
  if (!d) return std::nullopt;
  j.domain_ = std::move(*d);
  if (has_at) {
    std::optional<std::string> l = enforce_localpart(local);
    if (!l) return std::nullopt;
    j.local_ = std::move(*l);
  }
  if (has_slash) {
    std::optional<std::string> r = enforce_resourcepart(resource);
    if (!r) return std::nullopt;
    j.resource_ = std::move(*r);
  }
  return j;
}

std::optional<jid> jid::from_parts(std::string_view local, std::string_view domain,
                                   std::string_view resource) {
  jid j;
  std::optional<std::string> d = enforce_domainpart(domain);
  if (!d) return std::nullopt;
  j.domain_ = std::move(*d);
  if (!local.empty()) {
    std::optional<std::string> l = enforce_localpart(local);
    if (!l) return std::nullopt;
    j.local_ = std::move(*l);
  }
  if (!resource.empty()) {
    std::optional<std::string> r = enforce_resourcepart(resource);
    if (!r) return std::nullopt;
    j.resource_ = std::move(*r);
  }
  return j;
}

jid jid::bare() const {
  jid j;
  j.local_ = local_;
  j.domain_ = domain_;
  return j;
}

jid jid::with_resource(std::string_view enforced_resource) const {
  jid j = bare();
  j.resource_ = std::string(enforced_resource);
  return j;
}

const std::string& jid::bare_into(std::string& buf) const {
  buf.clear();
  buf.reserve(local_.size() + 1 + domain_.size());
  if (!local_.empty()) {
    buf += local_;
    buf += '@';
  }
  buf += domain_;
  return buf;
}

std::string jid::bare_str() const {
  std::string out;
  bare_into(out);
  return out;
}

std::string jid::str() const {
  std::string out = bare_str();
  if (!resource_.empty()) {
    out.reserve(out.size() + 1 + resource_.size());
    out += '/';
    out += resource_;
  }
  return out;
}

}  // namespace starling
