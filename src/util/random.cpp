#include "util/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <cstring>
#include <stdexcept>

namespace starling::util {

namespace {
// Small requests (ids, nonces: 12-32 bytes, several per routed message) are served from a
// per-thread block drawn from RAND_bytes 512 bytes at a time: each RAND_bytes call goes
// through OpenSSL 3's provider and DRBG locking (about as much CPU as the rest of archiving a
// message did, issue 6). The bytes are the same CSPRNG output; each is handed out once and
// wiped from the block when it is.
struct block {
  unsigned char bytes[512];
  size_t pos = sizeof bytes;  // empty
};
thread_local block tl_block;

// After fork() the child must not hand out the parent's bytes again: only the forking thread
// exists in the child, and this drops its block (starling-bench forks its generators).
void drop_block_in_child() { tl_block.pos = sizeof tl_block.bytes; }
const int atfork_registered = pthread_atfork(nullptr, nullptr, drop_block_in_child);

void fill(unsigned char* out, size_t n) {
  if (n == 0) return;
  if (n > sizeof(tl_block.bytes) / 8) {
    if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
    return;
  }
  block& b = tl_block;
  if (sizeof b.bytes - b.pos < n) {
    if (RAND_bytes(b.bytes, sizeof b.bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    b.pos = 0;
  }
  std::memcpy(out, b.bytes + b.pos, n);
  OPENSSL_cleanse(b.bytes + b.pos, n);
  b.pos += n;
}
}  // namespace

std::string random_bytes(size_t n) {
  (void)atfork_registered;
  std::string out(n, '\0');
  fill(reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

std::string random_token(size_t n) {
  static constexpr char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char raw[64];
  std::string out(n, 'a');
  for (size_t done = 0; done < n;) {
    const size_t k = std::min(n - done, sizeof raw);
    fill(raw, k);
    // 248 = 4 * 62: reject-free mapping would bias; the slight bias of modulo 62 over a byte is
    // irrelevant for identifiers that only need to be unique and unguessable, not uniform.
    for (size_t i = 0; i < k; ++i) out[done + i] = chars[raw[i] % 62];
    done += k;
  }
  return out;
}

}  // namespace starling::util
