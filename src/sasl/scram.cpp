// SCRAM (RFC 5802, RFC 7677) server and client state machines with channel binding and the
// XEP-0474 downgrade-protection attribute. Implemented: SHA-1, SHA-256, SHA-512 (+ -PLUS).
// Not implemented: the reserved "m=" extension (RFC 5802 §5.1: the server must fail if present).
#include "sasl/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <stdexcept>

#include "sasl/utf8.hpp"
#include "util/base64.hpp"
#include "util/random.hpp"

namespace starling::sasl {
namespace {

using util::base64_decode;
using util::base64_encode;

// Bound on usernames, authzids and nonces so a hostile peer cannot make us hash or store
// megabytes; far above anything a real client sends.
constexpr size_t max_field = 1023;
// Raw bytes behind the server's nonce part: 18 bytes are 24 base64 characters, which are all
// printable and never ',' (RFC 5802 §7 printable), and carry 144 bits of randomness.
constexpr size_t server_nonce_bytes = 18;

const char* md_name(hash_alg alg) {
  switch (alg) {
    case hash_alg::sha1: return "SHA1";
    case hash_alg::sha256: return "SHA256";
    case hash_alg::sha512: return "SHA512";
  }
  throw std::invalid_argument("unknown hash_alg");
}

// Fetched once: with OpenSSL 3, EVP_sha1() and friends are placeholders that make every
// EVP_Digest/HMAC/PBKDF2 call look the implementation up again in the provider's method store
// (a lock and hash-table walks); a login hashes and MACs several times (issue 6).
const EVP_MD* md_of(hash_alg alg) {
  static EVP_MD* const mds[3] = {EVP_MD_fetch(nullptr, "SHA1", nullptr), EVP_MD_fetch(nullptr, "SHA256", nullptr),
                                 EVP_MD_fetch(nullptr, "SHA512", nullptr)};
  const EVP_MD* md = mds[static_cast<int>(alg)];
  if (!md) throw std::runtime_error(std::string("digest not available: ") + md_name(alg));
  return md;
}

// One HMAC context per thread and algorithm, its digest set once: HMAC() fetches the MAC and
// the digest by name and builds and frees a context on every call (OpenSSL 3). Re-keying an
// existing context with EVP_MAC_init is all RFC 2104 needs per message.
EVP_MAC_CTX* hmac_ctx(hash_alg alg) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  struct contexts {
    EVP_MAC_CTX* ctx[3] = {};
    ~contexts() {
      for (auto* c : ctx) EVP_MAC_CTX_free(c);
    }
  };
  thread_local contexts t;
  EVP_MAC_CTX*& ctx = t.ctx[static_cast<int>(alg)];
  if (!ctx && mac) {
    EVP_MAC_CTX* c = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(md_name(alg)), 0),
        OSSL_PARAM_construct_end()};
    if (c && EVP_MAC_CTX_set_params(c, params) == 1) ctx = c;
    else EVP_MAC_CTX_free(c);
  }
  if (!ctx) throw std::runtime_error("HMAC not available");
  return ctx;
}

std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(',', start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 5802 §7: attr-val = ALPHA "=" value; value = 1*value-char (UTF-8 except NUL and ',').
// Splitting on ',' already removed the commas.
bool is_attr_val(std::string_view t) {
  if (t.size() < 3 || !is_alpha(t[0]) || t[1] != '=') return false;
  std::string_view v = t.substr(2);
  return v.find('\0') == std::string_view::npos && is_valid_utf8(v);
}

// The value of attribute `name` ("r" for "r=..."), or nullopt if `t` is another attribute.
std::optional<std::string_view> attr(std::string_view t, char name) {
  if (t.size() < 2 || t[0] != name || t[1] != '=') return std::nullopt;
  return t.substr(2);
}

// RFC 5802 §7: printable = %x21-2B / %x2D-7E (no ','); c-nonce = 1*printable.
bool is_nonce(std::string_view n) {
  if (n.empty() || n.size() > max_field) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return c >= 0x21 && c <= 0x7E && c != ','; });
}

// RFC 5802 §7 / RFC 5056 §7: cb-name = 1*(ALPHA / DIGIT / "." / "-").
bool is_cb_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '-'; });
}

std::string xor_bytes(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

// Key for the fake salts of unknown users when the operator configured none: random per
// process, so the salts cannot be predicted offline yet stay stable while the process runs.
const std::string& process_salt_key() {
  static const std::string key = util::random_bytes(32);
  return key;
}

}  // namespace

std::string_view to_string(hash_alg alg) {
  switch (alg) {
    case hash_alg::sha1: return "SHA-1";
    case hash_alg::sha256: return "SHA-256";
    case hash_alg::sha512: return "SHA-512";
  }
  return "unknown";
}

size_t digest_size(hash_alg alg) {
  switch (alg) {
    case hash_alg::sha1: return 20;
    case hash_alg::sha256: return 32;
    case hash_alg::sha512: return 64;
  }
  throw std::invalid_argument("unknown hash_alg");
}

std::string hash(hash_alg alg, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md_of(alg), nullptr) != 1)
    throw std::runtime_error("EVP_Digest failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string hmac(hash_alg alg, std::string_view key, std::string_view data) {
  if (key.size() > INT_MAX) throw std::invalid_argument("HMAC key too long");
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  // A NULL key would keep the context's previous key (EVP_MAC_init only sets a key it is
  // given); an empty key is legitimate for HMAC (RFC 2104 pads it with zeros), so always pass
  // a valid pointer.
  static const unsigned char empty = 0;
  const auto* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  EVP_MAC_CTX* ctx = hmac_ctx(alg);
  if (EVP_MAC_init(ctx, k, key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx, out, &len, sizeof out) != 1)
    throw std::runtime_error("HMAC failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool equal_consttime(std::string_view a, std::string_view b) {
  // Lengths are public (digest sizes); only the contents must not leak through timing.
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string salted_password(hash_alg alg, std::string_view password, std::string_view salt,
                            uint32_t iterations) {
  // RFC 5802 §2.2: Hi() is PBKDF2 (RFC 2898) with HMAC as PRF and dkLen = hash output length.
  if (iterations == 0 || iterations > INT_MAX) throw std::invalid_argument("bad iteration count");
  if (password.size() > INT_MAX || salt.size() > INT_MAX)
    throw std::invalid_argument("password or salt too long");
  std::string out(digest_size(alg), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), md_of(alg),
                        static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1)
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  return out;
}

scram_credentials credentials_from_salted(hash_alg alg, std::string_view salted,
                                          std::string_view salt, uint32_t iterations) {
  // RFC 5802 §3: ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
  // ServerKey = HMAC(SaltedPassword, "Server Key").
  scram_credentials c;
  c.alg = alg;
  c.salt = std::string(salt);
  c.iterations = iterations;
  c.stored_key = hash(alg, hmac(alg, salted, "Client Key"));
  c.server_key = hmac(alg, salted, "Server Key");
  return c;
}

scram_credentials derive_credentials(hash_alg alg, std::string_view password, std::string_view salt,
                                     uint32_t iterations) {
  return credentials_from_salted(alg, salted_password(alg, password, salt, iterations), salt,
                                 iterations);
}

std::string new_salt() { return util::random_bytes(16); }

std::string escape_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == ',') out += "=2C";
    else if (c == '=') out += "=3D";
    else out += c;
  }
  return out;
}

std::optional<std::string> unescape_saslname(std::string_view text) {
  // RFC 5802 §7: saslname = 1*(value-safe-char / "=2C" / "=3D"); value-safe-char excludes NUL,
  // ',' and '='. RFC 5802 §5.1: "If the server receives a username that contains '=' not
  // followed by either '2C' or '3D', then the server MUST fail the authentication."
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      std::string_view esc = text.substr(i + 1, 2);
      if (esc == "2C") out += ',';
      else if (esc == "3D") out += '=';
      else return std::nullopt;
      i += 2;
    } else if (c == ',' || c == '\0') {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  if (out.empty() || out.size() > max_field || !is_valid_utf8(out)) return std::nullopt;
  return out;
}

std::string make_gs2_header(char cb_flag, std::string_view cb_type, std::string_view authzid) {
  std::string h;
  if (cb_flag == 'p') h = "p=" + std::string(cb_type);
  else h = std::string(1, cb_flag);
  h += ',';
  if (!authzid.empty()) h += "a=" + escape_saslname(authzid);
  h += ',';
  return h;
}

std::string ssdp_input(std::vector<std::string> mechanisms, std::vector<std::string> cb_types,
                       bool cb_advertised) {
  // XEP-0474 §"Server Sends Downgrade Protection Hash": "i;octet" collation (RFC 4790 §9.3).
  // std::char_traits<char>::lt compares as unsigned char, so std::sort on std::string is
  // exactly octet order.
  auto join = [](std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += '\x1E';
      s += v[i];
    }
    return s;
  };
  std::string s = join(mechanisms);
  if (cb_advertised) {
    s += '\x1F';
    s += join(cb_types);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// scram_server

scram_server::scram_server(options opts) : opts_(std::move(opts)) {}

std::optional<failure> scram_server::fail(failure f, std::string_view scram_error) {
  scram_error_ = std::string(scram_error);
  state_ = state::done;
  return f;
}

std::optional<failure> scram_server::parse_client_first(std::string_view msg) {
  if (state_ != state::initial) return fail(failure::malformed_request, "other-error");

  // RFC 5802 §7: client-first-message = gs2-header client-first-message-bare
  //   gs2-header = gs2-cbind-flag "," [ authzid ] ","
  size_t c1 = msg.find(',');
  if (c1 == std::string_view::npos) return fail(failure::malformed_request, "invalid-encoding");
  size_t c2 = msg.find(',', c1 + 1);
  if (c2 == std::string_view::npos) return fail(failure::malformed_request, "invalid-encoding");

  scram_client_first f;
  std::string_view flag = msg.substr(0, c1);
  if (flag == "n" || flag == "y") {
    f.cb_flag = flag[0];
  } else if (auto type = attr(flag, 'p')) {
    if (!is_cb_name(*type)) return fail(failure::malformed_request, "invalid-encoding");
    f.cb_flag = 'p';
    f.cb_type = std::string(*type);
  } else {
    return fail(failure::malformed_request, "invalid-encoding");
  }

  std::string_view authz = msg.substr(c1 + 1, c2 - c1 - 1);
  if (!authz.empty()) {
    auto a = attr(authz, 'a');
    if (!a) return fail(failure::malformed_request, "invalid-encoding");
    auto decoded = unescape_saslname(*a);
    if (!decoded) return fail(failure::malformed_request, "invalid-username-encoding");
    f.authzid = std::move(*decoded);
  }
  f.gs2_header = std::string(msg.substr(0, c2 + 1));
  f.bare = std::string(msg.substr(c2 + 1));

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  auto tokens = split_commas(f.bare);
  if (attr(tokens[0], 'm')) {
    // RFC 5802 §5.1: m= is reserved for a future mandatory extension that we cannot know;
    // "the server MUST fail the authentication".
    return fail(failure::malformed_request, "extensions-not-supported");
  }
  if (tokens.size() < 2) return fail(failure::malformed_request, "invalid-encoding");
  auto user = attr(tokens[0], 'n');
  auto nonce = attr(tokens[1], 'r');
  if (!user || !nonce) return fail(failure::malformed_request, "invalid-encoding");
  auto username = unescape_saslname(*user);
  if (!username) return fail(failure::malformed_request, "invalid-username-encoding");
  if (!is_nonce(*nonce)) return fail(failure::malformed_request, "invalid-encoding");
  for (size_t i = 2; i < tokens.size(); ++i) {
    // Optional extensions are allowed and ignored (RFC 5802 §5.1).
    if (!is_attr_val(tokens[i])) return fail(failure::malformed_request, "invalid-encoding");
  }
  f.username = std::move(*username);
  f.client_nonce = std::string(*nonce);

  // Channel-binding policy (RFC 5802 §6).
  if (f.cb_flag == 'p') {
    if (!opts_.plus) {
      // 'p' is only meaningful with a -PLUS mechanism: the client contradicts its own choice of
      // mechanism, which is a protocol violation rather than a credentials problem.
      return fail(failure::malformed_request, "channel-binding-not-supported");
    }
    if (std::find(opts_.cb_types.begin(), opts_.cb_types.end(), f.cb_type) == opts_.cb_types.end())
      return fail(failure::not_authorized, "unsupported-channel-binding-type");
    std::optional<std::string> data;
    if (opts_.cb_data) data = opts_.cb_data(f.cb_type);
    if (!data) return fail(failure::not_authorized, "channel-binding-not-supported");
    cb_data_ = std::move(*data);
  } else {
    if (opts_.plus) {
      // A -PLUS mechanism means the client does channel binding (RFC 5802 §6); 'n' or 'y'
      // contradicts that.
      return fail(failure::malformed_request, "other-error");
    }
    if (f.cb_flag == 'y' && opts_.server_supports_plus) {
      // RFC 5802 §6: 'y' says "I support channel binding but think you do not"; since we did
      // advertise -PLUS, someone stripped it from the feature list: a downgrade attack.
      return fail(failure::not_authorized, "server-does-support-channel-binding");
    }
  }

  first_ = std::move(f);
  state_ = state::got_client_first;
  return std::nullopt;
}

std::string scram_server::server_first(const std::optional<scram_credentials>& creds) {
  return server_first(creds, first_.username);
}

std::string scram_server::server_first(const std::optional<scram_credentials>& creds,
                                       std::string_view account_key) {
  if (state_ != state::got_client_first)
    throw std::logic_error("scram_server::server_first called out of order");
  const size_t dlen = digest_size(opts_.alg);
  if (creds) {
    if (creds->alg != opts_.alg || creds->iterations == 0 || creds->stored_key.size() != dlen ||
        creds->server_key.size() != dlen)
      throw std::logic_error("scram_server::server_first: credentials do not fit the mechanism");
    creds_ = *creds;
    unknown_user_ = false;
  } else {
    // Unknown user: answer like for a real account (same salt length, stable per username,
    // configured iteration count), and fail only at the proof check, so that the exchange does
    // not reveal which accounts exist. The keys are random; success is also vetoed by
    // unknown_user_.
    const std::string& key =
        opts_.unknown_user_salt_key.empty() ? process_salt_key() : opts_.unknown_user_salt_key;
    scram_credentials fake;
    fake.alg = opts_.alg;
    // Per mechanism, like real accounts, which get a fresh salt per algorithm.
    fake.salt =
        hmac(hash_alg::sha256, key, std::string(to_string(opts_.alg)) + '\0' + std::string(account_key))
            .substr(0, 16);
    fake.iterations = opts_.unknown_user_iterations ? opts_.unknown_user_iterations : 4096;
    fake.stored_key = util::random_bytes(dlen);
    fake.server_key = util::random_bytes(dlen);
    creds_ = std::move(fake);
    unknown_user_ = true;
  }

  std::string server_nonce = test_server_nonce_.empty()
                                 ? base64_encode(util::random_bytes(server_nonce_bytes))
                                 : test_server_nonce_;
  nonce_ = first_.client_nonce + server_nonce;
  // RFC 5802 §7: server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
  //   ["," extensions]
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(creds_->salt) +
                  ",i=" + std::to_string(creds_->iterations);
  if (!opts_.advertised_mechanisms.empty()) {
    // XEP-0474: h = base64(H(S)) with the hash of the mechanism in use; being part of the
    // AuthMessage it is signed by both proofs.
    std::vector<std::string> types;
    if (opts_.advertised_cb_types) types = opts_.cb_types;
    server_first_ += ",h=" + base64_encode(hash(
        opts_.alg, ssdp_input(opts_.advertised_mechanisms, std::move(types),
                              opts_.advertised_cb_types)));
  }
  state_ = state::sent_server_first;
  return server_first_;
}

scram_server::final_result scram_server::client_final(std::string_view msg) {
  auto failed = [&](failure f, std::string_view e) { return final_result{fail(f, e), {}}; };
  if (state_ != state::sent_server_first) return failed(failure::malformed_request, "other-error");
  state_ = state::done;  // one attempt per exchange, whatever happens

  // RFC 5802 §7: client-final-message = client-final-message-without-proof "," proof
  //   client-final-message-without-proof = channel-binding "," nonce ["," extensions]
  auto tokens = split_commas(msg);
  if (tokens.size() < 3) return failed(failure::malformed_request, "invalid-encoding");
  auto c = attr(tokens[0], 'c');
  auto r = attr(tokens[1], 'r');
  auto p = attr(tokens.back(), 'p');
  if (!c || !r || !p || c->empty() || p->empty() || r->empty())
    return failed(failure::malformed_request, "invalid-encoding");
  for (size_t i = 2; i + 1 < tokens.size(); ++i) {
    // Extensions before the proof are covered by the proof and otherwise ignored.
    if (!is_attr_val(tokens[i])) return failed(failure::malformed_request, "invalid-encoding");
  }
  auto cbind = base64_decode(*c);
  auto proof = base64_decode(*p);
  if (!cbind || !proof) return failed(failure::incorrect_encoding, "invalid-encoding");

  if (*r != nonce_) {
    // RFC 5802 §5.1: the nonce must be the one we sent; anything else is a replay or a bug.
    return failed(failure::not_authorized, "other-error");
  }
  // RFC 5802 §7: cbind-input = gs2-header [ cbind-data ], cbind-data only with 'p'.
  std::string expected_cb = first_.gs2_header;
  if (first_.cb_flag == 'p') expected_cb += cb_data_;
  if (!equal_consttime(*cbind, expected_cb))
    return failed(failure::not_authorized, "channel-bindings-dont-match");

  const hash_alg alg = opts_.alg;
  if (proof->size() != digest_size(alg)) return failed(failure::not_authorized, "invalid-proof");

  // RFC 5802 §3: AuthMessage = client-first-message-bare "," server-first-message ","
  //   client-final-message-without-proof; ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage),
  //   valid iff H(ClientKey) == StoredKey.
  std::string_view without_proof = msg.substr(0, msg.size() - tokens.back().size() - 1);
  std::string auth_message = first_.bare + "," + server_first_ + "," + std::string(without_proof);
  std::string signature = hmac(alg, creds_->stored_key, auth_message);
  std::string client_key = xor_bytes(*proof, signature);
  bool ok = equal_consttime(hash(alg, client_key), creds_->stored_key);
  if (!ok || unknown_user_) return failed(failure::not_authorized, "invalid-proof");

  scram_error_.clear();
  return final_result{std::nullopt,
                      "v=" + base64_encode(hmac(alg, creds_->server_key, auth_message))};
}

// ---------------------------------------------------------------------------------------------
// scram_client

std::string scram_client::client_first(std::string_view username, std::string_view nonce,
                                       std::string gs2_header) {
  gs2_header_ = std::move(gs2_header);
  client_nonce_ = nonce.empty() ? base64_encode(util::random_bytes(server_nonce_bytes))
                                : std::string(nonce);
  first_bare_ = "n=" + escape_saslname(username) + ",r=" + client_nonce_;
  return gs2_header_ + first_bare_;
}

std::optional<failure> scram_client::handle_server_first(std::string_view msg) {
  if (client_nonce_.empty()) throw std::logic_error("scram_client: client_first not called");
  auto tokens = split_commas(msg);
  if (attr(tokens[0], 'm')) return failure::malformed_request;  // RFC 5802 §5.1
  if (tokens.size() < 3) return failure::malformed_request;
  auto r = attr(tokens[0], 'r');
  auto s = attr(tokens[1], 's');
  auto i = attr(tokens[2], 'i');
  if (!r || !s || !i || s->empty()) return failure::malformed_request;
  // RFC 5802 §5.1: the server's nonce starts with ours and adds its own part.
  if (r->size() <= client_nonce_.size() || r->substr(0, client_nonce_.size()) != client_nonce_ ||
      !is_nonce(*r))
    return failure::malformed_request;
  auto salt = base64_decode(*s);
  if (!salt) return failure::incorrect_encoding;
  // RFC 5802 §7: iteration-count = posit-number (no leading zero).
  uint32_t iter = 0;
  if (i->empty() || (*i)[0] == '0') return failure::malformed_request;
  auto [end, ec] = std::from_chars(i->data(), i->data() + i->size(), iter);
  if (ec != std::errc() || end != i->data() + i->size() || iter == 0 || iter > max_iterations_ ||
      iter > INT_MAX)
    return failure::malformed_request;
  std::optional<std::string> h;
  for (size_t k = 3; k < tokens.size(); ++k) {
    if (!is_attr_val(tokens[k])) return failure::malformed_request;
    if (auto hv = attr(tokens[k], 'h')) {
      h = base64_decode(*hv);
      if (!h) return failure::incorrect_encoding;
    }
  }
  server_first_ = std::string(msg);
  nonce_ = std::string(*r);
  salt_ = std::move(*salt);
  iterations_ = iter;
  ssdp_hash_ = std::move(h);
  return std::nullopt;
}

bool scram_client::ssdp_matches(std::vector<std::string> mechanisms,
                                std::vector<std::string> cb_types, bool cb_advertised) const {
  if (!ssdp_hash_) return false;
  return equal_consttime(
      *ssdp_hash_, hash(alg_, ssdp_input(std::move(mechanisms), std::move(cb_types), cb_advertised)));
}

std::string scram_client::client_final(std::string_view salted, std::string_view cb_data,
                                       std::string_view extensions) {
  if (nonce_.empty()) throw std::logic_error("scram_client: server-first not handled");
  std::string without_proof = "c=" + base64_encode(gs2_header_ + std::string(cb_data)) + ",r=" + nonce_;
  if (!extensions.empty()) without_proof += "," + std::string(extensions);
  auth_message_ = first_bare_ + "," + server_first_ + "," + without_proof;
  std::string client_key = hmac(alg_, salted, "Client Key");
  std::string signature = hmac(alg_, hash(alg_, client_key), auth_message_);
  server_key_ = hmac(alg_, salted, "Server Key");
  return without_proof + ",p=" + base64_encode(xor_bytes(client_key, signature));
}

std::string scram_client::client_final_with_password(std::string_view password,
                                                     std::string_view cb_data) {
  return client_final(salted_password(alg_, password, salt_, iterations_), cb_data);
}

bool scram_client::verify_server_final(std::string_view msg) {
  // RFC 5802 §7: server-final-message = (server-error / verifier) ["," extensions]
  if (auth_message_.empty()) return false;
  std::string_view first = msg.substr(0, msg.find(','));
  if (auto e = attr(first, 'e')) {
    server_error_ = std::string(*e);
    return false;
  }
  auto v = attr(first, 'v');
  if (!v) return false;
  auto sig = base64_decode(*v);
  if (!sig) return false;
  return equal_consttime(*sig, hmac(alg_, server_key_, auth_message_));
}

}  // namespace starling::sasl
