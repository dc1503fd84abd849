#pragma once
// Account credential helpers shared by registration, XEP-0078, SASL PLAIN and starlingctl.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sasl/scram.hpp"

namespace starling {

// SCRAM credentials for every supported hash (SHA-1, SHA-256, SHA-512), each with its own
// salt, from a password already prepared with sasl::prepare_password. CPU-heavy (PBKDF2).
std::vector<sasl::scram_credentials> make_credentials(std::string_view prepared_password, uint32_t iterations);

// True if `prepared_password` matches the stored credentials (uses the strongest stored hash).
// CPU-heavy (PBKDF2).
bool verify_password(const std::vector<sasl::scram_credentials>& creds, std::string_view prepared_password);

}  // namespace starling
