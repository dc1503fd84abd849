#pragma once
// Base64 (RFC 4648 §4) as SASL (RFC 6120 §6.4.2) needs it: strict decoding, no line breaks.
#include <optional>
#include <string>
#include <string_view>

namespace starling::util {

std::string base64_encode(std::string_view data);
// Returns nullopt for anything that is not canonical base64 (bad characters, bad padding,
// whitespace), because RFC 6120 §6.4.2 requires <incorrect-encoding/> for such input.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace starling::util
