#pragma once
// The Hashed Token SASL mechanism family (draft-schmaus-kitten-sasl-ht, the HT-* mechanisms
// XEP-0484 FAST uses): one round trip, a server-issued token as shared secret.
//   initial response  = authcid NUL HMAC(token, "Initiator" || cb-data)
//   success data      = HMAC(token, "Responder" || cb-data)
// cb-data is empty for -NONE, else the channel-binding data of the type the name selects
// (-ENDP tls-server-end-point, -EXPR tls-exporter, -UNIQ tls-unique). A pure module, so that
// it can be tested against independently computed values.
#include <optional>
#include <string>
#include <string_view>

#include "sasl/scram.hpp"

namespace starling::sasl {

struct ht_mechanism {
  hash_alg alg = hash_alg::sha256;
  std::string cb_type;  // "" for -NONE, else "tls-server-end-point", "tls-exporter", "tls-unique"
};

// "HT-SHA-256-NONE" -> {sha256, ""}; nullopt for anything else. Only SHA-256 is recognised:
// it is the hash XEP-0484 deployments use, and the at-rest key scheme below relies on its
// 64-byte block size.
std::optional<ht_mechanism> parse_ht_mechanism(std::string_view name);
std::string ht_mechanism_name(const ht_mechanism& m);

struct ht_initial_response {
  std::string authcid;
  std::string initiator_hash;  // raw bytes
};
// authcid NUL hash; nullopt (-> malformed-request) for another shape or an empty authcid.
std::optional<ht_initial_response> parse_ht_initial(std::string_view msg);

// HMAC over "Initiator"/"Responder" || cb_data with `key`. RFC 2104 §2: a key longer than the
// hash's block size is replaced by its hash, so for tokens longer than 64 bytes
// HMAC-SHA-256(token, m) == HMAC-SHA-256(SHA-256(token), m). The server therefore stores only
// ht_key(token) and never the token itself; ht_initiator(ht_key(t), cb) equals the client's
// HMAC(t, "Initiator" || cb).
std::string ht_key(hash_alg alg, std::string_view token);
std::string ht_initiator(hash_alg alg, std::string_view key, std::string_view cb_data);
std::string ht_responder(hash_alg alg, std::string_view key, std::string_view cb_data);
// Smallest token length (bytes) for which ht_key() is equivalent to the token.
size_t ht_min_token_length(hash_alg alg);

}  // namespace starling::sasl
