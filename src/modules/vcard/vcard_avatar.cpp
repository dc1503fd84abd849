#include "modules/vcard/vcard_avatar.hpp"

#include <openssl/sha.h>

#include <cctype>

#include "util/base64.hpp"

namespace starling::modules {

std::optional<std::string> avatar_hash(const xml::element& vcard) {
  const xml::element* photo = vcard.child("PHOTO", ns_vcard);
  if (!photo) return std::string();
  const xml::element* binval = photo->child("BINVAL", ns_vcard);
  if (!binval) return std::string();
  std::string b64;
  for (char c : binval->text())
    if (!std::isspace(static_cast<unsigned char>(c))) b64 += c;
  if (b64.empty()) return std::string();
  auto data = util::base64_decode(b64);
  if (!data) return std::nullopt;
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data->data()), data->size(), md);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

}  // namespace starling::modules
