// SASL failure names (RFC 6120 §6.5) and the PLAIN mechanism (RFC 4616).
#include "sasl/sasl.hpp"

#include "sasl/utf8.hpp"

namespace starling::sasl {

std::string_view to_string(failure f) {
  switch (f) {
    case failure::aborted: return "aborted";
    case failure::account_disabled: return "account-disabled";
    case failure::credentials_expired: return "credentials-expired";
    case failure::encryption_required: return "encryption-required";
    case failure::incorrect_encoding: return "incorrect-encoding";
    case failure::invalid_authzid: return "invalid-authzid";
    case failure::invalid_mechanism: return "invalid-mechanism";
    case failure::malformed_request: return "malformed-request";
    case failure::mechanism_too_weak: return "mechanism-too-weak";
    case failure::not_authorized: return "not-authorized";
    case failure::temporary_auth_failure: return "temporary-auth-failure";
  }
  // Out-of-range enum value: a bug, but the least harmful answer on the wire is the generic one.
  return "not-authorized";
}

namespace {
// RFC 4616 §2 only requires servers to accept 255 octets per field; real passwords from password
// managers can be longer, so allow more, but keep a bound so that a hostile client cannot make
// us run PRECIS and hashing over megabytes.
constexpr size_t max_plain_field = 1023;

bool field_ok(std::string_view f) { return f.size() <= max_plain_field && is_valid_utf8(f); }
}  // namespace

std::optional<plain_message> parse_plain(std::string_view msg) {
  // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd. Exactly two NULs, since
  // none of the fields may contain one.
  size_t first = msg.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = msg.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (msg.find('\0', second + 1) != std::string_view::npos) return std::nullopt;

  std::string_view authzid = msg.substr(0, first);
  std::string_view authcid = msg.substr(first + 1, second - first - 1);
  std::string_view passwd = msg.substr(second + 1);
  // RFC 4616 §2: authcid = 1*SAFE, passwd = 1*SAFE; authzid may be absent (empty).
  if (authcid.empty() || passwd.empty()) return std::nullopt;
  if (!field_ok(authzid) || !field_ok(authcid) || !field_ok(passwd)) return std::nullopt;
  return plain_message{std::string(authzid), std::string(authcid), std::string(passwd)};
}

}  // namespace starling::sasl
