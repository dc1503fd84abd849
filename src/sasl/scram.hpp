#pragma once
// SCRAM (RFC 5802, RFC 7677) server side for SHA-1, SHA-256 and SHA-512 with optional channel
// binding (-PLUS: tls-exporter RFC 9266, tls-server-end-point RFC 5929) and the XEP-0474
// downgrade-protection attribute. The caller does I/O and credential lookup; this class is a
// pure state machine so that it can be unit-tested with the RFC test vectors.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
// Output size in octets of the hash function: 20, 32 or 64.
size_t digest_size(hash_alg alg);
// RFC 5802 §2.2 Hi(): SaltedPassword = PBKDF2-HMAC(password, salt, iterations). `password` must
// be PRECIS-prepared. Clients cache the result per (salt, iterations) so reconnects skip it.
std::string salted_password(hash_alg alg, std::string_view password, std::string_view salt,
                            uint32_t iterations);
// RFC 5802 §3: StoredKey and ServerKey from an already salted password (what derive_credentials
// does after Hi()).
scram_credentials credentials_from_salted(hash_alg alg, std::string_view salted,
                                          std::string_view salt, uint32_t iterations);

// RFC 5802 §5.1 saslname: ',' -> "=2C", '=' -> "=3D".
std::string escape_saslname(std::string_view name);
// Inverse of escape_saslname; nullopt for any other '=' sequence, an empty result, a NUL, or
// invalid UTF-8 (RFC 5802 §7 saslname grammar).
std::optional<std::string> unescape_saslname(std::string_view text);
// RFC 5802 §7 gs2-header: flag 'n' or 'y' (cb_type ignored) or 'p' (cb_type required), and an
// optional authzid (escaped here): e.g. "n,,", "y,,", "p=tls-exporter,a=admin,".
std::string make_gs2_header(char cb_flag, std::string_view cb_type = {},
                            std::string_view authzid = {});

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
//
// Failure conditions (RFC 6120 §6.5) and the RFC 5802 §7 "e=" value kept in scram_error():
//   grammar violation (RFC 5802 §7), empty/overlong field, bad nonce  malformed_request  invalid-encoding
//   saslname with '=' not followed by 2C/3D, invalid UTF-8, NUL        malformed_request  invalid-username-encoding
//   reserved "m=" extension (RFC 5802 §5.1 "MUST fail")               malformed_request  extensions-not-supported
//   'p' with a non-PLUS mechanism                                       malformed_request  channel-binding-not-supported
//   'n' or 'y' with a -PLUS mechanism                                   malformed_request  other-error
//   'y' although -PLUS was advertised (RFC 5802 §6: downgrade)         not_authorized     server-does-support-channel-binding
//   'p' with a type not in cb_types                                     not_authorized     unsupported-channel-binding-type
//   'p' with a type whose cb_data is unavailable                        not_authorized     channel-binding-not-supported
//   c= or p= not canonical base64 (RFC 6120 §6.4.2)                     incorrect_encoding invalid-encoding
//   r= differs from the combined nonce                                  not_authorized     other-error
//   c= differs from gs2-header [+ channel-binding data]                 not_authorized     channel-bindings-dont-match
//   wrong proof, or unknown user                                        not_authorized     invalid-proof
//   any call after a failure or success (one attempt per exchange)     malformed_request  other-error
// Channel-binding problems are detected in step 1, before any account lookup, so they reveal
// nothing about accounts. server_first() called out of order, or with credentials of another
// algorithm, is a caller bug and throws std::logic_error.
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
    // Unknown users get a fake challenge: these iterations (use the server's configured count so
    // the value does not stand out) and a salt = HMAC(unknown_user_salt_key, username). An empty
    // key means a random per-process key; clustered servers should share a configured key so all
    // nodes answer alike.
    uint32_t unknown_user_iterations = 4096;
    std::string unknown_user_salt_key;
  };

  explicit scram_server(options opts);

  // Step 1. On failure returns the condition (malformed_request, etc).
  std::optional<failure> parse_client_first(std::string_view msg);
  const scram_client_first& client_first() const { return first_; }

  // Step 2. With nullopt (unknown user) a plausible challenge is produced anyway, with a
  // deterministic fake salt, so that the exchange does not reveal whether the account exists;
  // the exchange then fails with not_authorized in step 3.
  std::string server_first(const std::optional<scram_credentials>& creds);
  // Same, deriving an unknown user's fake salt from `account_key` (the PRECIS-enforced name the
  // lookup used, e.g. "juliet@example.org") instead of the raw username. Use this one in the
  // server: real accounts answer "Juliet" and "juliet" with the same salt, and so must unknown
  // ones, or comparing the two challenges would reveal whether the account exists.
  std::string server_first(const std::optional<scram_credentials>& creds,
                           std::string_view account_key);

  // Step 3. Returns server-final-message ("v=...") on success.
  struct final_result {
    std::optional<failure> error;
    std::string server_final;
  };
  final_result client_final(std::string_view msg);

  // RFC 5802 §7 server-error-value describing the last failure ("invalid-proof",
  // "channel-bindings-dont-match", ...), empty if none. For logs, or for a SASL profile that
  // carries "e=" to the client. An unknown user is reported as "invalid-proof", never as
  // "unknown-user", so that even this value does not reveal whether the account exists.
  std::string_view scram_error() const { return scram_error_; }

  // Test hook: use this server nonce part instead of 24 random characters, so the RFC example
  // exchanges can be replayed exactly. Must be printable ASCII without ','.
  void set_server_nonce_for_testing(std::string server_nonce) {
    test_server_nonce_ = std::move(server_nonce);
  }

 private:
  enum class state { initial, got_client_first, sent_server_first, done };
  std::optional<failure> fail(failure f, std::string_view scram_error);

  options opts_;
  state state_ = state::initial;
  scram_client_first first_;
  std::optional<scram_credentials> creds_;  // the account's, or fake ones for an unknown user
  bool unknown_user_ = false;
  std::string cb_data_;  // channel-binding data of first_.cb_type (with 'p')
  std::string server_first_;
  std::string nonce_;  // combined nonce
  std::string scram_error_;
  std::string test_server_nonce_;
};

// Client side of SCRAM, for the tests and the load generator. It keeps the exchange state:
//   client_first() -> handle_server_first() -> client_final() -> verify_server_final().
// PBKDF2 is not run here unless asked to: pass the cached SaltedPassword to client_final() the
// way real clients do on reconnect, or call client_final_with_password().
class scram_client {
 public:
  explicit scram_client(hash_alg alg) : alg_(alg) {}

  // client-first-message. `username` is escaped here (RFC 5802 §5.1); an empty `nonce` means
  // 24 random printable characters. `gs2_header` from make_gs2_header().
  std::string client_first(std::string_view username, std::string_view nonce = {},
                           std::string gs2_header = "n,,");

  // Parses server-first-message: r (must extend our nonce), s, i, optional h (XEP-0474).
  // Returns the failure to report (malformed_request, incorrect_encoding), nullopt if fine.
  std::optional<failure> handle_server_first(std::string_view msg);
  const std::string& salt() const { return salt_; }
  uint32_t iterations() const { return iterations_; }
  // XEP-0474: decoded "h" attribute if the server sent one.
  const std::optional<std::string>& ssdp_hash() const { return ssdp_hash_; }
  // XEP-0474 "Client Verifies The Downgrade Protection Hash": true if the server sent "h" and it
  // matches the mechanisms and channel-binding types this client saw advertised.
  bool ssdp_matches(std::vector<std::string> mechanisms, std::vector<std::string> cb_types,
                    bool cb_advertised) const;

  // Upper bound on a server's "i" (a hostile server could otherwise pin our CPU).
  void set_max_iterations(uint32_t n) { max_iterations_ = n; }

  // client-final-message from the SaltedPassword (see salted_password()) and, with 'p', the
  // channel-binding data. Extensions (e.g. "x=...") are inserted before the proof as given.
  std::string client_final(std::string_view salted, std::string_view cb_data = {},
                           std::string_view extensions = {});
  // Same, running Hi() on the PRECIS-prepared password first.
  std::string client_final_with_password(std::string_view password, std::string_view cb_data = {});

  // Checks server-final-message "v=..." in constant time. False for "e=..." (see server_error())
  // or anything else.
  bool verify_server_final(std::string_view msg);
  const std::string& server_error() const { return server_error_; }

 private:
  hash_alg alg_;
  std::string gs2_header_;
  std::string client_nonce_;
  std::string first_bare_;
  std::string server_first_;
  std::string nonce_;
  std::string salt_;
  uint32_t iterations_ = 0;
  uint32_t max_iterations_ = 10'000'000;
  std::optional<std::string> ssdp_hash_;
  std::string server_key_;
  std::string auth_message_;
  std::string server_error_;
};

// The XEP-0474 SSDP hash input: sorted mechanisms joined by 0x1E, then (if channel-binding
// types were advertised) 0x1F and the sorted types joined by 0x1E.
std::string ssdp_input(std::vector<std::string> mechanisms, std::vector<std::string> cb_types,
                       bool cb_advertised);

}  // namespace starling::sasl
