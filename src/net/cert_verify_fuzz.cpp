// libFuzzer target for the RFC 6125 name comparison in net/cert_verify and for the identity
// check on arbitrary DER certificates. Input: "<presented>\n<reference>" for dns_id_matches
// (checks: no crash; a match never needs a wildcard to cover more than one label; an exact
// non-wildcard match is symmetric), or DER bytes after a leading 0x00 for match_identity.
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/cert_verify.hpp"

namespace {
size_t count(std::string_view s, char c) {
  size_t n = 0;
  for (char x : s) n += x == c;
  return n;
}
std::string_view strip(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 0 && data[0] == 0) {
    const unsigned char* p = data + 1;
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(size - 1));
    if (x) {
      starling::net::match_identity(x, "example.org");
      X509_free(x);
    }
    return 0;
  }
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  if (nl == std::string_view::npos) return 0;
  std::string_view presented = in.substr(0, nl), reference = in.substr(nl + 1);
  bool m = starling::net::dns_id_matches(presented, reference);
  if (m) {
    // A wildcard stands for exactly one label: same label count either way.
    if (count(strip(presented), '.') != count(strip(reference), '.')) std::abort();
    if (presented.find('*') == std::string_view::npos &&
        !starling::net::dns_id_matches(reference, presented) && reference.find('*') == std::string_view::npos)
      std::abort();
  }
  return 0;
}
