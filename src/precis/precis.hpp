#pragma once
// PRECIS (RFC 8264) profiles used by XMPP addresses (RFC 7622) and SASL (RFC 8265).
// Each function applies the profile's preparation and enforcement rules and returns the
// enforced string, or nullopt when the input is disallowed by the profile.
//
// Input is UTF-8; ill-formed UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated
// sequences) is always rejected. Inputs longer than k_max_input octets are rejected too: no
// protocol slot allows them, and the bound caps the work done for untrusted input.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace starling::precis {

inline constexpr std::size_t k_max_input = std::size_t{1} << 20;

// RFC 8265 §3.3 UsernameCaseMapped (XMPP localparts, RFC 7622 §3.3).
std::optional<std::string> username_case_mapped(std::string_view in);
// RFC 8265 §3.4 UsernameCasePreserved.
std::optional<std::string> username_case_preserved(std::string_view in);
// RFC 8265 §4.2 OpaqueString (XMPP resourceparts, RFC 7622 §3.4; passwords).
std::optional<std::string> opaque_string(std::string_view in);
// RFC 7622 §3.2 domainpart: IDNA2008 with UTS #46 mapping, returned as U-labels (lowercase,
// NFC), with a trailing dot removed; IP literals ([v6], v4) pass unchanged. nullopt if invalid.
std::optional<std::string> domain(std::string_view in);
// IDNA A-label (punycode) form of a prepared domain, for DNS and certificate matching.
std::optional<std::string> domain_to_ascii(std::string_view in);

// True when `in` is well-formed UTF-8 (RFC 3629 §4): no overlong forms, no surrogates, nothing
// above U+10FFFF.
bool is_valid_utf8(std::string_view in);

}  // namespace starling::precis
