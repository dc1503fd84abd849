#pragma once
// XEP-0153: vCard-Based Avatars — the avatar hash the server announces for a user.
#include <optional>
#include <string>

#include "xml/element.hpp"

namespace starling::modules {

inline constexpr std::string_view ns_vcard = "vcard-temp";
inline constexpr std::string_view ns_vcard_update = "vcard-temp:x:update";

// XEP-0153 §3.1: the hex-encoded SHA-1 of the image data (the base64-decoded PHOTO/BINVAL).
// Empty if the vCard has no PHOTO with BINVAL (an EXTVAL photo has no hash to announce);
// nullopt if BINVAL is not base64. Whitespace inside BINVAL is ignored: vCards wrap it.
std::optional<std::string> avatar_hash(const xml::element& vcard);

}  // namespace starling::modules
