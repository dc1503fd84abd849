#pragma once
// Cryptographically strong randomness (OpenSSL RAND_bytes) for nonces, salts, ids.
#include <string>

namespace starling::util {

std::string random_bytes(size_t n);
// n characters from [A-Za-z0-9]: stream ids, generated resources, stanza ids.
std::string random_token(size_t n);

}  // namespace starling::util
