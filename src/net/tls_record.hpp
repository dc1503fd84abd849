#pragma once
// A user-space TLS 1.3 record layer for client streams, after the handshake.
//
// Why this exists: an idle authenticated c2s session kept OpenSSL's SSL object for its whole
// life, ~14 KiB per session even with SSL_MODE_RELEASE_BUFFERS, the largest single part of an
// idle session's memory. Kernel TLS (kTLS) would take the record state out of the process, but
// the kernels Starling runs on here have no `tls` ULP and cannot load modules. So this is the
// kTLS model in user space: OpenSSL does the whole handshake, then the traffic secrets are
// handed over (as OpenSSL would hand them to the kernel) and the SSL object is freed. What a
// session keeps is a few hundred bytes: traffic secrets, keys, IVs, sequence numbers, cipher.
// The AEAD contexts (EVP_CIPHER_CTX) are per thread and re-keyed when the session changes.
//
// Scope: the server side of TLS 1.3 only, cipher suites TLS_AES_128_GCM_SHA256,
// TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 (RFC 8446 §B.4). Anything else (TLS
// 1.2, CCM, s2s) keeps OpenSSL for the whole connection.
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace starling::net {

enum class tls13_cipher : uint8_t { aes_128_gcm, aes_256_gcm, chacha20_poly1305 };

// RFC 8446 §6.2 alert descriptions this layer sends.
enum class tls_alert : uint8_t {
  close_notify = 0,
  unexpected_message = 10,
  bad_record_mac = 20,
  record_overflow = 22,
  illegal_parameter = 47,
  decode_error = 50,
  internal_error = 80,
};

// What the handshake leaves behind (RFC 8446 §7.1): the application traffic secrets of both
// sides and the exporter master secret, all Hash.length bytes.
struct tls13_secrets {
  tls13_cipher cipher = tls13_cipher::aes_128_gcm;
  uint8_t hash_len = 0;  // 32 (SHA-256) or 48 (SHA-384)
  uint8_t client[48] = {};
  uint8_t server[48] = {};
  uint8_t exporter[48] = {};
  uint8_t have = 0;  // bit 0 client, bit 1 server, bit 2 exporter
};

// RFC 8446 §7.1 HKDF-Expand-Label with the suite's hash; false on an OpenSSL failure. Exposed
// for tests.
bool hkdf_expand_label(tls13_cipher cipher, const uint8_t* secret, size_t secret_len, std::string_view label,
                       std::string_view context, uint8_t* out, size_t out_len);

class tls13_record_layer {
 public:
  // `read_secret` protects what the peer sends, `write_secret` what we send (the server passes
  // the client's secret first; tests build the mirror image to play the client).
  tls13_record_layer(const tls13_secrets& s, bool server = true);
  ~tls13_record_layer();
  tls13_record_layer(const tls13_record_layer&) = delete;
  tls13_record_layer& operator=(const tls13_record_layer&) = delete;

  enum class state : uint8_t {
    open,    // keep reading
    closed,  // the peer sent close_notify (RFC 8446 §6.1): orderly end of its data
    failed,  // fatal: an alert was received, or ours is in `out`; close the connection
  };

  // Consumes all of `in` (a stretch of the TCP byte stream; it is modified: records are opened
  // in place). Complete records are opened and their application data appended to `plain`; a
  // record cut at the end of `in` is kept until the rest arrives (the only buffer this layer
  // holds, released as soon as the record is complete). Protected records to send in answer
  // (our KeyUpdate, a fatal alert) are appended to `out`. After `closed` or `failed` nothing
  // more is read.
  state read(char* in, size_t len, std::string& plain, std::string& out);

  // Protects application data into records of at most 2^14 plaintext bytes (RFC 8446 §5.1),
  // appended to `out`. Sends a KeyUpdate first when the key is close to its usage limit
  // (RFC 8446 §5.5).
  void write(std::string_view data, std::string& out);
  // An alert record (RFC 8446 §6); close_notify for an orderly close.
  void write_alert(tls_alert a, std::string& out);
  // One record with the given inner content type and zero padding (RFC 8446 §5.2, §5.4). For
  // tests and the fuzzer; write() and write_alert() use it.
  void write_record(uint8_t content_type, std::string_view content, size_t padding, std::string& out);
  // Our own KeyUpdate (RFC 8446 §4.6.3), then the next write key.
  void write_key_update(bool request_update, std::string& out);

  // RFC 8446 §7.5 exporter over the exporter master secret (RFC 9266 tls-exporter uses label
  // "EXPORTER-Channel-Binding", no context, 32 bytes).
  std::optional<std::string> export_keying_material(std::string_view label, std::string_view context,
                                                    size_t len) const;

  // Records per key before we update it (RFC 8446 §5.5); lowered by tests.
  void set_key_limit(uint64_t records) { key_limit_ = records; }
  uint64_t read_sequence() const { return read_.seq; }
  uint64_t write_sequence() const { return write_.seq; }
  size_t buffered() const { return partial_.size(); }
  state current_state() const { return state_; }
  tls_alert last_alert() const { return alert_; }

 private:
  struct direction {
    uint8_t secret[48];
    uint8_t key[32];
    uint8_t iv[12];
    uint64_t seq = 0;
    uint64_t key_id = 0;  // identifies the key in the per-thread cipher contexts
  };
  bool derive(direction& d);                    // key and iv from secret (RFC 8446 §7.3)
  bool next_generation(direction& d);           // RFC 8446 §7.2 "traffic upd"
  state open_record(char* rec, size_t len, std::string& plain, std::string& out);
  state handshake_bytes(const char* p, size_t n, std::string& out);
  state fail(tls_alert a, std::string& out);

  direction read_{};
  direction write_{};
  uint8_t exporter_[48];
  tls13_cipher cipher_;
  uint8_t hash_len_;
  state state_ = state::open;
  tls_alert alert_ = tls_alert::close_notify;
  bool update_requested_ = false;  // we asked the peer for a KeyUpdate and wait for it
  uint8_t hs_len_ = 0;             // bytes of a post-handshake message split over records
  uint8_t hs_[5] = {};
  uint64_t key_limit_;
  std::string partial_;  // an incomplete record; empty (no allocation) between records
};

// --- Handing a finished OpenSSL handshake over -------------------------------------------------
// Installs the key-log callback that collects the secrets (on every server context: SNI may
// switch an SSL to another one during the handshake). Sets no session tickets (RFC 8446 §4.6.1
// NewSessionTicket would be the first record under the server's application key, and Starling
// keeps no session cache anyway).
void tls_prepare_context(SSL_CTX* ctx);
// Before the handshake: where the key-log callback writes this SSL's secrets.
void tls_capture_secrets(SSL* ssl, tls13_secrets* into);
// After SSL_do_handshake returned 1 on the server: the record layer that continues the
// connection, or nullptr when this connection must stay with OpenSSL (not TLS 1.3, a suite we
// do not implement, a secret missing, or OpenSSL holding bytes it read but did not consume).
// Detaches the capture either way; the caller frees the SSL on success.
std::unique_ptr<tls13_record_layer> tls_take_over(SSL* ssl, tls13_secrets& secrets);

}  // namespace starling::net
