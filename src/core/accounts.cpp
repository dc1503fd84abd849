#include "core/accounts.hpp"

namespace starling {

std::vector<sasl::scram_credentials> make_credentials(std::string_view prepared_password, uint32_t iterations) {
  std::vector<sasl::scram_credentials> out;
  for (auto alg : {sasl::hash_alg::sha1, sasl::hash_alg::sha256, sasl::hash_alg::sha512})
    out.push_back(sasl::derive_credentials(alg, prepared_password, sasl::new_salt(), iterations));
  return out;
}

bool verify_password(const std::vector<sasl::scram_credentials>& creds, std::string_view prepared_password) {
  const sasl::scram_credentials* best = nullptr;
  for (const auto& c : creds)
    if (!best || static_cast<int>(c.alg) > static_cast<int>(best->alg)) best = &c;
  if (!best) return false;
  auto derived = sasl::derive_credentials(best->alg, prepared_password, best->salt, best->iterations);
  return sasl::equal_consttime(derived.stored_key, best->stored_key);
}

}  // namespace starling
