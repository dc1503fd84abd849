// Password preparation for SCRAM and PLAIN (RFC 8265 §4.2 OpaqueString).
// A translation unit of its own so that code which only needs the SCRAM arithmetic does not pull
// in the PRECIS/ICU objects.
#include "precis/precis.hpp"
#include "sasl/scram.hpp"

namespace starling::sasl {

std::optional<std::string> prepare_password(std::string_view password) {
  // RFC 7677 §4 / RFC 5802 §2.2: SCRAM normalizes passwords; with PRECIS (RFC 8265 §4.2) that is
  // the OpaqueString profile, which also rejects the empty string and control characters.
  return precis::opaque_string(password);
}

}  // namespace starling::sasl
