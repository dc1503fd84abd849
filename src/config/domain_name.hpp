#pragma once
// Internal to starling_config: checking [[host]] names and spelling them for certificates.
#include <optional>
#include <string>
#include <string_view>

namespace starling::config {

// The RFC 7622 §3.2 prepared form of a domainpart, or nullopt when `in` is not a valid
// domain (starling::precis::domain).
std::optional<std::string> prepare_domain(std::string_view in);

// The ASCII (A-label) form of a prepared domain, as certificates carry it (RFC 6125 §6.4.2).
std::optional<std::string> domain_to_ascii(std::string_view prepared);

// IP literals as XMPP allows them in a domainpart (RFC 7622 §3.2.1): dotted IPv4 or a
// bracketed IPv6 address. On success writes the 4 or 16 address bytes.
bool parse_ip_literal(std::string_view domain, std::string& address_bytes);

}  // namespace starling::config
