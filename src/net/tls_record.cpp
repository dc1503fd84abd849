#include "net/tls_record.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace starling::net {
namespace {

constexpr uint8_t ct_alert = 21;
constexpr uint8_t ct_handshake = 22;
constexpr uint8_t ct_application_data = 23;
constexpr uint8_t hs_key_update = 24;
constexpr size_t header_len = 5;
constexpr size_t tag_len = 16;                                   // all three suites (RFC 5116, RFC 8439)
constexpr size_t max_plaintext = 16384;                          // 2^14, RFC 8446 §5.1
constexpr size_t max_inner_plaintext = max_plaintext + 1;        // + content type, RFC 8446 §5.2
constexpr size_t max_ciphertext = max_plaintext + 256;           // RFC 8446 §5.2
constexpr uint8_t alert_user_canceled = 90;

const char* digest_name(tls13_cipher c) { return c == tls13_cipher::aes_256_gcm ? "SHA384" : "SHA256"; }
size_t key_len(tls13_cipher c) { return c == tls13_cipher::aes_128_gcm ? 16 : 32; }

const EVP_MD* digest(tls13_cipher c) {
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  return c == tls13_cipher::aes_256_gcm ? sha384 : sha256;
}

// Explicitly fetched once: OpenSSL 3 would otherwise look the implementation up on every init.
const EVP_CIPHER* aead(tls13_cipher c) {
  static EVP_CIPHER* ciphers[3] = {EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr),
                                   EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr),
                                   EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr)};
  return ciphers[static_cast<int>(c)];
}

// Every derived key gets a process-wide id, so a thread's cipher context knows whether it holds
// this key already (a session sending several records in a row is keyed once).
std::atomic<uint64_t> next_key_id{1};

// One encryption and one decryption context per thread instead of per session: a context with
// its key schedule costs more than the whole rest of this layer's per-session state, and
// re-keying (key expansion, GHASH table) is cheap next to a record's AEAD work.
struct thread_cipher {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  uint64_t key_id = 0;
  ~thread_cipher() { EVP_CIPHER_CTX_free(ctx); }
};
thread_local thread_cipher enc_ctx;
thread_local thread_cipher dec_ctx;

// RFC 8446 §5.3: the 64-bit sequence number, big-endian and left-padded to iv_length, XORed
// with the static IV.
void make_nonce(const uint8_t iv[12], uint64_t seq, uint8_t nonce[12]) {
  std::memcpy(nonce, iv, 12);
  for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(seq >> (8 * i));
}

EVP_CIPHER_CTX* keyed(thread_cipher& t, tls13_cipher c, const uint8_t* key, uint64_t key_id, const uint8_t nonce[12],
                      int enc) {
  int ok = t.key_id == key_id ? EVP_CipherInit_ex2(t.ctx, nullptr, nullptr, nonce, enc, nullptr)
                              : EVP_CipherInit_ex2(t.ctx, aead(c), key, nonce, enc, nullptr);
  if (ok != 1) {
    t.key_id = 0;
    return nullptr;
  }
  t.key_id = key_id;
  return t.ctx;
}

size_t be16(const char* p) {
  return (static_cast<size_t>(static_cast<uint8_t>(p[0])) << 8) | static_cast<uint8_t>(p[1]);
}

// RFC 8446 §5.1, §5.2: after the handshake every record the peer sends is protected, so its
// outer type is application_data (legacy_record_version is ignored); its length is bounded
// before we wait for (and buffer) the body.
std::optional<tls_alert> check_header(const char* h) {
  if (static_cast<uint8_t>(h[0]) != ct_application_data) return tls_alert::unexpected_message;
  if (be16(h + 3) > max_ciphertext) return tls_alert::record_overflow;
  return std::nullopt;
}

}  // namespace

bool hkdf_expand_label(tls13_cipher cipher, const uint8_t* secret, size_t secret_len, std::string_view label,
                       std::string_view context, uint8_t* out, size_t out_len) {
  // RFC 8446 §7.1: HkdfLabel = uint16 length || opaque label<7..255> ("tls13 " + Label) ||
  // opaque context<0..255>.
  static constexpr std::string_view prefix = "tls13 ";
  if (prefix.size() + label.size() > 255 || context.size() > 255 || out_len > 0xffff) return false;
  uint8_t info[2 + 1 + 255 + 1 + 255];
  size_t n = 0;
  info[n++] = static_cast<uint8_t>(out_len >> 8);
  info[n++] = static_cast<uint8_t>(out_len);
  info[n++] = static_cast<uint8_t>(prefix.size() + label.size());
  std::memcpy(info + n, prefix.data(), prefix.size());
  n += prefix.size();
  std::memcpy(info + n, label.data(), label.size());
  n += label.size();
  info[n++] = static_cast<uint8_t>(context.size());
  std::memcpy(info + n, context.data(), context.size());
  n += context.size();

  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (!kdf) return false;
  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(kdf);
  if (!kctx) return false;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;  // the secret already is a PRK (RFC 5869 §2.3)
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest_name(cipher)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret), secret_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
      OSSL_PARAM_construct_end(),
  };
  bool ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(kctx);
  return ok;
}

tls13_record_layer::tls13_record_layer(const tls13_secrets& s, bool server)
    : cipher_(s.cipher), hash_len_(s.hash_len) {
  // RFC 8446 §5.5: AES-GCM is good for 2^24.5 full-size records per key; we update at 2^24.
  // ChaCha20-Poly1305 would wrap the 64-bit sequence number first (§5.3 forbids wrapping).
  key_limit_ = cipher_ == tls13_cipher::chacha20_poly1305 ? (uint64_t{1} << 62) : (uint64_t{1} << 24);
  std::memcpy(read_.secret, server ? s.client : s.server, sizeof read_.secret);
  std::memcpy(write_.secret, server ? s.server : s.client, sizeof write_.secret);
  std::memcpy(exporter_, s.exporter, sizeof exporter_);
  if (hash_len_ != (cipher_ == tls13_cipher::aes_256_gcm ? 48 : 32) || !derive(read_) || !derive(write_))
    state_ = state::failed;
}

tls13_record_layer::~tls13_record_layer() {
  OPENSSL_cleanse(&read_, sizeof read_);
  OPENSSL_cleanse(&write_, sizeof write_);
  OPENSSL_cleanse(exporter_, sizeof exporter_);
}

// RFC 8446 §7.3: [sender]_write_key = HKDF-Expand-Label(Secret, "key", "", key_length),
// [sender]_write_iv = HKDF-Expand-Label(Secret, "iv", "", iv_length); sequence numbers restart
// at 0 with every key (§5.3).
bool tls13_record_layer::derive(direction& d) {
  d.seq = 0;
  d.key_id = next_key_id.fetch_add(1, std::memory_order_relaxed);
  return hkdf_expand_label(cipher_, d.secret, hash_len_, "key", "", d.key, key_len(cipher_)) &&
         hkdf_expand_label(cipher_, d.secret, hash_len_, "iv", "", d.iv, sizeof d.iv);
}

// RFC 8446 §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd",
// "", Hash.length); the old secret and keys are deleted.
bool tls13_record_layer::next_generation(direction& d) {
  uint8_t next[48];
  if (!hkdf_expand_label(cipher_, d.secret, hash_len_, "traffic upd", "", next, hash_len_)) return false;
  std::memcpy(d.secret, next, hash_len_);
  OPENSSL_cleanse(next, sizeof next);
  return derive(d);
}

tls13_record_layer::state tls13_record_layer::fail(tls_alert a, std::string& out) {
  // RFC 8446 §6.2: fatal errors are reported with an alert, then the connection closes.
  if (state_ == state::open) write_alert(a, out);
  alert_ = a;
  state_ = state::failed;
  return state_;
}

tls13_record_layer::state tls13_record_layer::read(char* in, size_t len, std::string& plain, std::string& out) {
  if (state_ != state::open) return state_;
  if (!partial_.empty()) {
    // Complete the record begun in an earlier read: first its header, then its body.
    if (partial_.size() < header_len) {
      size_t take = std::min(header_len - partial_.size(), len);
      partial_.append(in, take);
      in += take;
      len -= take;
      if (partial_.size() < header_len) return state_;
      if (auto a = check_header(partial_.data())) return fail(*a, out);
      partial_.reserve(header_len + be16(partial_.data() + 3));
    }
    size_t total = header_len + be16(partial_.data() + 3);
    size_t take = std::min(total - partial_.size(), len);
    partial_.append(in, take);
    in += take;
    len -= take;
    if (partial_.size() < total) return state_;
    std::string rec;
    rec.swap(partial_);  // partial_ owns nothing again once this record is done
    if (open_record(rec.data(), rec.size(), plain, out) != state::open) return state_;
  }
  while (len > 0) {
    if (len >= header_len) {
      if (auto a = check_header(in)) return fail(*a, out);
      size_t total = header_len + be16(in + 3);
      if (len >= total) {
        if (open_record(in, total, plain, out) != state::open) return state_;
        in += total;
        len -= total;
        continue;
      }
      partial_.reserve(total);
    }
    partial_.assign(in, len);  // the rest of this record comes with a later read
    break;
  }
  return state_;
}

tls13_record_layer::state tls13_record_layer::open_record(char* rec, size_t len, std::string& plain,
                                                          std::string& out) {
  const size_t body = len - header_len;
  // Too short to hold a tag: it cannot authenticate (RFC 8446 §5.2, bad_record_mac).
  if (body < tag_len) return fail(tls_alert::bad_record_mac, out);
  if (read_.seq == UINT64_MAX) return fail(tls_alert::internal_error, out);  // §5.3: never wrap
  uint8_t nonce[12];
  make_nonce(read_.iv, read_.seq, nonce);
  auto* p = reinterpret_cast<uint8_t*>(rec);
  EVP_CIPHER_CTX* ctx = keyed(dec_ctx, cipher_, read_.key, read_.key_id, nonce, 0);
  if (!ctx) return fail(tls_alert::internal_error, out);
  int n = 0;
  const int clen = static_cast<int>(body - tag_len);
  // RFC 8446 §5.2: additional_data is the record header; opened in place.
  if (EVP_DecryptUpdate(ctx, nullptr, &n, p, header_len) != 1 ||
      (clen > 0 && EVP_DecryptUpdate(ctx, p + header_len, &n, p + header_len, clen) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tag_len, p + header_len + clen) != 1 ||
      EVP_DecryptFinal_ex(ctx, p + header_len + clen, &n) != 1) {
    return fail(tls_alert::bad_record_mac, out);
  }
  ++read_.seq;
  size_t inner = static_cast<size_t>(clen);
  if (inner > max_inner_plaintext) return fail(tls_alert::record_overflow, out);
  // RFC 8446 §5.4: the content type is the last non-zero byte; all-zero is unexpected_message.
  const char* content = rec + header_len;
  while (inner > 0 && content[inner - 1] == 0) --inner;
  if (inner == 0) return fail(tls_alert::unexpected_message, out);
  const uint8_t type = static_cast<uint8_t>(content[inner - 1]);
  const size_t n_content = inner - 1;
  // RFC 8446 §5.1: handshake messages split over records must not be interleaved with others.
  if (hs_len_ != 0 && type != ct_handshake) return fail(tls_alert::unexpected_message, out);
  switch (type) {
    case ct_application_data:
      plain.append(content, n_content);  // zero-length application data is allowed (§5.1)
      break;
    case ct_alert: {
      // RFC 8446 §6: one alert per record, two bytes (level, description).
      if (n_content != 2) return fail(tls_alert::decode_error, out);
      const uint8_t what = static_cast<uint8_t>(content[1]);
      if (what == static_cast<uint8_t>(tls_alert::close_notify)) {
        // §6.1: orderly close; anything after it is ignored.
        state_ = state::closed;
        return state_;
      }
      if (what == alert_user_canceled) break;  // §6.1: a closure alert; close_notify follows
      // §6: every other alert is an error alert, whatever its level; no alert in answer.
      state_ = state::failed;
      alert_ = static_cast<tls_alert>(what);
      return state_;
    }
    case ct_handshake:
      if (n_content == 0) return fail(tls_alert::unexpected_message, out);  // §5.1
      return handshake_bytes(content, n_content, out);
    default:
      return fail(tls_alert::unexpected_message, out);
  }
  // §5.5: ask the peer for a new key before its records approach the AEAD limit.
  if (read_.seq >= key_limit_ && !update_requested_) {
    write_key_update(true, out);
    update_requested_ = true;
  }
  return state_;
}

tls13_record_layer::state tls13_record_layer::handshake_bytes(const char* p, size_t n, std::string& out) {
  // After the handshake a client may only send KeyUpdate (RFC 8446 §4.6.3): we send no
  // CertificateRequest (§4.6.2) and a client never sends NewSessionTicket (§4.6.1). Everything
  // else is unexpected_message (§4). The message is 5 bytes, possibly split over records.
  while (n > 0) {
    hs_[hs_len_++] = static_cast<uint8_t>(*p++);
    --n;
    if (hs_len_ == 1 && hs_[0] != hs_key_update) return fail(tls_alert::unexpected_message, out);
    if (hs_len_ == 4 && (hs_[1] != 0 || hs_[2] != 0 || hs_[3] != 1)) return fail(tls_alert::decode_error, out);
    if (hs_len_ < 5) continue;
    hs_len_ = 0;
    // §5.1: a message preceding a key change must end its record.
    if (n > 0) return fail(tls_alert::unexpected_message, out);
    const uint8_t request = hs_[4];
    if (request > 1) return fail(tls_alert::illegal_parameter, out);  // §4.6.3
    if (!next_generation(read_)) return fail(tls_alert::internal_error, out);
    update_requested_ = false;
    // §4.6.3: update_requested: send our own KeyUpdate (update_not_requested) before our next
    // application data; we send it at once, then switch our write key.
    if (request == 1) write_key_update(false, out);
  }
  return state_;
}

void tls13_record_layer::write(std::string_view data, std::string& out) {
  while (!data.empty()) {
    if (write_.seq >= key_limit_) write_key_update(false, out);  // RFC 8446 §5.5
    size_t n = std::min(data.size(), max_plaintext);
    write_record(ct_application_data, data.substr(0, n), 0, out);
    data.remove_prefix(n);
  }
}

void tls13_record_layer::write_alert(tls_alert a, std::string& out) {
  // RFC 8446 §6: close_notify is a warning; error alerts are fatal (level is ignored on receipt).
  const char alert[2] = {static_cast<char>(a == tls_alert::close_notify ? 1 : 2), static_cast<char>(a)};
  write_record(ct_alert, std::string_view(alert, 2), 0, out);
}

void tls13_record_layer::write_key_update(bool request_update, std::string& out) {
  // RFC 8446 §4 handshake header (type, uint24 length) + KeyUpdateRequest; §4.6.3: the
  // KeyUpdate itself goes under the old key, everything after it under the next one.
  const char msg[5] = {static_cast<char>(hs_key_update), 0, 0, 1, static_cast<char>(request_update ? 1 : 0)};
  write_record(ct_handshake, std::string_view(msg, 5), 0, out);
  if (!next_generation(write_)) state_ = state::failed;
}

void tls13_record_layer::write_record(uint8_t content_type, std::string_view content, size_t padding,
                                      std::string& out) {
  // RFC 8446 §5.2: TLSInnerPlaintext = content || ContentType || zeros, sealed with the
  // header as additional data; the outer type is application_data, the version 0x0303.
  const size_t inner = content.size() + 1 + padding;
  const size_t body = inner + tag_len;
  const size_t at = out.size();
  out.resize(at + header_len + body);
  auto* h = reinterpret_cast<uint8_t*>(out.data() + at);
  h[0] = ct_application_data;
  h[1] = 3;
  h[2] = 3;
  h[3] = static_cast<uint8_t>(body >> 8);
  h[4] = static_cast<uint8_t>(body);
  uint8_t nonce[12];
  make_nonce(write_.iv, write_.seq, nonce);
  EVP_CIPHER_CTX* ctx = keyed(enc_ctx, cipher_, write_.key, write_.key_id, nonce, 1);
  uint8_t* p = h + header_len;
  int n = 0;
  bool ok = ctx && EVP_EncryptUpdate(ctx, nullptr, &n, h, header_len) == 1;
  if (ok && !content.empty()) {
    ok = EVP_EncryptUpdate(ctx, p, &n, reinterpret_cast<const uint8_t*>(content.data()),
                           static_cast<int>(content.size())) == 1;
    p += content.size();
  }
  static constexpr uint8_t zeros[256] = {};
  uint8_t type = content_type;
  ok = ok && EVP_EncryptUpdate(ctx, p, &n, &type, 1) == 1;
  ++p;
  for (size_t left = padding; ok && left > 0;) {
    int step = static_cast<int>(std::min(left, sizeof zeros));
    ok = EVP_EncryptUpdate(ctx, p, &n, zeros, step) == 1;
    p += step;
    left -= static_cast<size_t>(step);
  }
  ok = ok && EVP_EncryptFinal_ex(ctx, p, &n) == 1 && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tag_len, p) == 1;
  if (!ok) {
    // Never put an unprotected record on the wire.
    out.resize(at);
    state_ = state::failed;
    alert_ = tls_alert::internal_error;
    return;
  }
  ++write_.seq;
}

std::optional<std::string> tls13_record_layer::export_keying_material(std::string_view label,
                                                                      std::string_view context, size_t len) const {
  // RFC 8446 §7.5: TLS-Exporter(label, context_value, key_length) =
  //   HKDF-Expand-Label(Derive-Secret(exporter_master_secret, label, ""), "exporter",
  //                     Hash(context_value), key_length)
  // with Derive-Secret(S, L, M) = HKDF-Expand-Label(S, L, Transcript-Hash(M), Hash.length) (§7.1).
  uint8_t empty_hash[EVP_MAX_MD_SIZE], context_hash[EVP_MAX_MD_SIZE], derived[48];
  unsigned hl = 0, cl = 0;
  if (EVP_Digest("", 0, empty_hash, &hl, digest(cipher_), nullptr) != 1 ||
      EVP_Digest(context.data(), context.size(), context_hash, &cl, digest(cipher_), nullptr) != 1)
    return std::nullopt;
  std::string out(len, '\0');
  bool ok = hkdf_expand_label(cipher_, exporter_, hash_len_, label,
                              std::string_view(reinterpret_cast<char*>(empty_hash), hl), derived, hash_len_) &&
            hkdf_expand_label(cipher_, derived, hash_len_, "exporter",
                              std::string_view(reinterpret_cast<char*>(context_hash), cl),
                              reinterpret_cast<uint8_t*>(out.data()), len);
  OPENSSL_cleanse(derived, sizeof derived);
  if (!ok) return std::nullopt;
  return out;
}

// --- Handover from OpenSSL ---------------------------------------------------------------------

namespace {
int capture_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// OpenSSL reports each secret as an NSS key-log line: "<LABEL> <client_random hex> <secret hex>".
void on_keylog(const SSL* ssl, const char* line) {
  auto* s = static_cast<tls13_secrets*>(SSL_get_ex_data(ssl, capture_index()));
  if (!s) return;  // not a connection we take over (s2s, TLS 1.2 ...)
  std::string_view l(line);
  size_t sp1 = l.find(' ');
  size_t sp2 = sp1 == l.npos ? l.npos : l.find(' ', sp1 + 1);
  if (sp2 == l.npos) return;
  std::string_view label = l.substr(0, sp1), hex = l.substr(sp2 + 1);
  uint8_t* into = nullptr;
  uint8_t bit = 0;
  if (label == "CLIENT_TRAFFIC_SECRET_0") into = s->client, bit = 1;
  else if (label == "SERVER_TRAFFIC_SECRET_0") into = s->server, bit = 2;
  else if (label == "EXPORTER_SECRET") into = s->exporter, bit = 4;
  if (!into || hex.size() % 2 != 0 || hex.size() / 2 > 48) return;
  size_t n = hex.size() / 2;
  for (size_t i = 0; i < n; ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return;
    into[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (s->have != 0 && s->hash_len != n) return;  // inconsistent: leave incomplete, no takeover
  s->hash_len = static_cast<uint8_t>(n);
  s->have |= bit;
}
}  // namespace

void tls_prepare_context(SSL_CTX* ctx) {
  SSL_CTX_set_keylog_callback(ctx, &on_keylog);
  SSL_CTX_set_num_tickets(ctx, 0);
}

void tls_capture_secrets(SSL* ssl, tls13_secrets* into) { SSL_set_ex_data(ssl, capture_index(), into); }

std::unique_ptr<tls13_record_layer> tls_take_over(SSL* ssl, tls13_secrets& s) {
  SSL_set_ex_data(ssl, capture_index(), nullptr);
  std::unique_ptr<tls13_record_layer> layer;
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl);
  bool ok = SSL_version(ssl) == TLS1_3_VERSION && SSL_is_init_finished(ssl) && c != nullptr && s.have == 7 &&
            // Bytes OpenSSL read from the socket but did not process yet would be lost.
            !SSL_has_pending(ssl) && SSL_pending(ssl) == 0 &&
            SSL_get_early_data_status(ssl) != SSL_EARLY_DATA_ACCEPTED;
  if (ok) {
    // RFC 8446 §B.4 values; CCM suites (0x1304, 0x1305) stay with OpenSSL.
    switch (SSL_CIPHER_get_protocol_id(c)) {
      case 0x1301: s.cipher = tls13_cipher::aes_128_gcm; break;
      case 0x1302: s.cipher = tls13_cipher::aes_256_gcm; break;
      case 0x1303: s.cipher = tls13_cipher::chacha20_poly1305; break;
      default: ok = false;
    }
  }
  if (ok) {
    layer = std::make_unique<tls13_record_layer>(s, true);
    if (layer->current_state() != tls13_record_layer::state::open) layer.reset();
  }
  OPENSSL_cleanse(&s, sizeof s);
  return layer;
}

}  // namespace starling::net
