#pragma once
// SASL failure conditions (RFC 6120 §6.5) and the PLAIN mechanism (RFC 4616).
#include <optional>
#include <string>
#include <string_view>

namespace starling::sasl {

enum class failure {
  aborted,                 // §6.5.1
  account_disabled,        // §6.5.2
  credentials_expired,     // §6.5.3
  encryption_required,     // §6.5.4
  incorrect_encoding,      // §6.5.5
  invalid_authzid,         // §6.5.6
  invalid_mechanism,       // §6.5.7
  malformed_request,       // §6.5.8
  mechanism_too_weak,      // §6.5.9
  not_authorized,          // §6.5.10
  temporary_auth_failure,  // §6.5.11
};
// Element name of the condition, e.g. "not-authorized".
std::string_view to_string(failure f);

struct plain_message {
  std::string authzid;
  std::string authcid;
  std::string password;
};
// RFC 4616 §2: [authzid] NUL authcid NUL passwd. nullopt (-> malformed-request) if the message
// does not have exactly that shape, a field is too long, or authcid/password are empty.
std::optional<plain_message> parse_plain(std::string_view msg);

}  // namespace starling::sasl
