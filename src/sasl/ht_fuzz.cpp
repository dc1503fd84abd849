// libFuzzer target: arbitrary HT initial responses and mechanism names (XEP-0484 FAST). A
// parsed response must round-trip its fields, and nothing may crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sasl/ht.hpp"

namespace sasl = starling::sasl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto m = sasl::parse_ht_mechanism(in)) {
    if (sasl::ht_mechanism_name(*m) != in) std::abort();
  }
  if (auto r = sasl::parse_ht_initial(in)) {
    if (r->authcid.empty() || r->authcid.size() + 1 + r->initiator_hash.size() != in.size()) std::abort();
    // The verification path a server runs on it.
    auto key = sasl::ht_key(sasl::hash_alg::sha256, "t");
    (void)sasl::equal_consttime(sasl::ht_initiator(sasl::hash_alg::sha256, key, r->authcid), r->initiator_hash);
  }
  return 0;
}
