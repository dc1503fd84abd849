#include "util/random.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace starling::util {

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

std::string random_token(size_t n) {
  static constexpr char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string raw = random_bytes(n);
  std::string out(n, 'a');
  // 248 = 4 * 62: reject-free mapping would bias; the slight bias of modulo 62 over a byte is
  // irrelevant for identifiers that only need to be unique and unguessable, not uniform.
  for (size_t i = 0; i < n; ++i) out[i] = chars[static_cast<unsigned char>(raw[i]) % 62];
  return out;
}

}  // namespace starling::util
