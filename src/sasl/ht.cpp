// Hashed Token SASL mechanisms (draft-schmaus-kitten-sasl-ht), see ht.hpp.
#include "sasl/ht.hpp"

namespace starling::sasl {

namespace {
struct cb_suffix {
  std::string_view suffix;
  std::string_view type;
};
constexpr cb_suffix suffixes[] = {
    {"NONE", ""},
    {"ENDP", "tls-server-end-point"},
    {"EXPR", "tls-exporter"},
    {"UNIQ", "tls-unique"},
};
constexpr std::string_view prefix = "HT-SHA-256-";
}  // namespace

std::optional<ht_mechanism> parse_ht_mechanism(std::string_view name) {
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = name.substr(prefix.size());
  for (const auto& s : suffixes)
    if (rest == s.suffix) return ht_mechanism{hash_alg::sha256, std::string(s.type)};
  return std::nullopt;
}

std::string ht_mechanism_name(const ht_mechanism& m) {
  for (const auto& s : suffixes)
    if (m.cb_type == s.type) return std::string(prefix) + std::string(s.suffix);
  return {};
}

std::optional<ht_initial_response> parse_ht_initial(std::string_view msg) {
  size_t nul = msg.find('\0');
  if (nul == std::string_view::npos || nul == 0) return std::nullopt;
  ht_initial_response r;
  r.authcid = std::string(msg.substr(0, nul));
  r.initiator_hash = std::string(msg.substr(nul + 1));
  if (r.authcid.size() > 1023) return std::nullopt;
  return r;
}

size_t ht_min_token_length(hash_alg alg) {
  // One more than the block size (RFC 2104 §2 hashes keys *longer* than B).
  return alg == hash_alg::sha512 ? 129 : 65;
}

std::string ht_key(hash_alg alg, std::string_view token) { return hash(alg, token); }

std::string ht_initiator(hash_alg alg, std::string_view key, std::string_view cb_data) {
  return hmac(alg, key, std::string("Initiator").append(cb_data));
}

std::string ht_responder(hash_alg alg, std::string_view key, std::string_view cb_data) {
  return hmac(alg, key, std::string("Responder").append(cb_data));
}

}  // namespace starling::sasl
