#pragma once
// SCRAM (RFC 5802, RFC 7677) server side for SHA-1, SHA-256 and SHA-512 with optional channel
// binding (-PLUS: tls-exporter RFC 9266, tls-server-end-point RFC 5929) and the XEP-0474
// downgrade-protection attribute. The caller does I/O and credential lookup; this class is a
// pure state machine so that it can be unit-tested with the RFC test vectors.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sasl/sasl.hpp"

namespace starling::sasl {

enum class hash_alg { sha1, sha256, sha512 };
std::string_view to_string(hash_alg);  // "SHA-1", "SHA-256", "SHA-512"

// What the server stores per account and algorithm (RFC 5802 §3): never the password.
struct scram_credentials {
  hash_alg alg = hash_alg::sha256;
  std::string salt;  // raw bytes
  uint32_t iterations = 4096;
  std::string stored_key;  // raw bytes: H(ClientKey)
  std::string server_key;  // raw bytes: HMAC(SaltedPassword, "Server Key")
};

// Derives credentials from a password. `password` must already be prepared with the PRECIS
// OpaqueString profile (RFC 8265 §4.2), see prepare_password(). CPU-heavy (PBKDF2): run it
// off the network threads.
scram_credentials derive_credentials(hash_alg alg, std::string_view password, std::string_view salt,
                                     uint32_t iterations);
// Salt of 16 random bytes.
std::string new_salt();
// PRECIS OpaqueString enforcement of a password; nullopt if the password is not allowed.
std::optional<std::string> prepare_password(std::string_view password);
// Constant-time comparison.
bool equal_consttime(std::string_view a, std::string_view b);

// Cryptographic helpers used by SCRAM and by PLAIN verification against stored keys.
std::string hash(hash_alg alg, std::string_view data);
std::string hmac(hash_alg alg, std::string_view key, std::string_view data);

struct scram_client_first {
  std::string gs2_header;  // "n,,", "y,,", "p=tls-exporter,," ... (as received)
  char cb_flag = 'n';      // 'n', 'y' or 'p'
  std::string cb_type;     // with 'p'
  std::string authzid;     // decoded a=, may be empty
  std::string username;    // decoded saslname (=2C and =3D unescaped), not yet PRECIS-enforced
  std::string client_nonce;
  std::string bare;        // client-first-message-bare
};

// Server-side SCRAM exchange:
//   1. parse_client_first(initial response)      -> username to look up
//   2. server_first(credentials or nullopt)      -> challenge
//   3. client_final(response)                    -> success data (server-final) or failure
class scram_server {
 public:
  struct options {
    hash_alg alg = hash_alg::sha256;
    bool plus = false;  // the -PLUS variant was selected by the client
    // Channel-binding types this server offers on this connection (XEP-0440), and a callback
    // giving the binding data for a type (nullopt: cannot provide). Only consulted when the
    // connection offers channel binding at all (i.e. any -PLUS mechanism was advertised).
    std::vector<std::string> cb_types;
    std::function<std::optional<std::string>(std::string_view type)> cb_data;
    bool server_supports_plus = false;  // any -PLUS mechanism was advertised (for the 'y' flag)
    // XEP-0474: the mechanisms advertised, to compute the "h" attribute. Empty: no attribute.
    std::vector<std::string> advertised_mechanisms;
    bool advertised_cb_types = false;  // XEP-0440 element was sent (affects the SSDP hash)
  };

  explicit scram_server(options opts);

  // Step 1. On failure returns the condition (malformed_request, etc).
  std::optional<failure> parse_client_first(std::string_view msg);
  const scram_client_first& client_first() const { return first_; }

  // Step 2. With nullopt (unknown user) a plausible challenge is produced anyway, with a
  // deterministic fake salt, so that the exchange does not reveal whether the account exists;
  // the exchange then fails with not_authorized in step 3.
  std::string server_first(const std::optional<scram_credentials>& creds);

  // Step 3. Returns server-final-message ("v=...") on success.
  struct final_result {
    std::optional<failure> error;
    std::string server_final;
  };
  final_result client_final(std::string_view msg);

 private:
  options opts_;
  scram_client_first first_;
  std::optional<scram_credentials> creds_;
  std::string server_first_;
  std::string nonce_;  // combined nonce
};

// The XEP-0474 SSDP hash input: sorted mechanisms joined by 0x1E, then (if channel-binding
// types were advertised) 0x1F and the sorted types joined by 0x1E.
std::string ssdp_input(std::vector<std::string> mechanisms, std::vector<std::string> cb_types,
                       bool cb_advertised);

}  // namespace starling::sasl
