#include "net/tls_store.hpp"

#include <openssl/err.h>

#include "net/tls_record.hpp"

namespace starling::net {
namespace {

std::string last_ssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Forward secrecy and AEAD only for TLS 1.2 (RFC 7525 §4.2); TLS 1.3 suites are OpenSSL's.
constexpr const char* default_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// TLS 1.3 suites in the server's order (SSL_OP_CIPHER_SERVER_PREFERENCE). OpenSSL's default
// order starts with TLS_AES_256_GCM_SHA384, whose key schedule and transcript hash run SHA-384
// in software, where SHA-256 runs on the CPU's SHA extensions, and whose AES needs 14 rounds
// per block instead of 10. TLS_AES_128_GCM_SHA256 is the suite RFC 8446 §9.1 makes mandatory
// and the one RFC 9325 §4.2 lists first. SSL_OP_PRIORITIZE_CHACHA (below): a client that lists
// ChaCha20-Poly1305 first, typically one without AES instructions, still gets it.
constexpr const char* tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";

SSL_CTX* make_context(const tls_identity& id, const tls_options& opts, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    error = last_ssl_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, opts.min_version);
  // No renegotiation (it would let SSL_write need a read mid-stream), no compression (CRIME),
  // server cipher preference. Release buffers keeps idle sessions small.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_TICKET);
  // NO_AUTO_CHAIN: the chain is the configured file's (use_certificate_chain_file below), so
  // OpenSSL need not search the trust store to build one at every handshake (issue 6).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Client streams on TLS 1.3 leave OpenSSL after the handshake (net/tls_record): collect the
  // traffic secrets, and send no NewSessionTicket (we keep no session cache, and a ticket would
  // be a record under the application key that the record layer must not have missed).
  tls_prepare_context(ctx);
  const std::string& ciphers = opts.ciphers.empty() ? std::string(default_ciphers) : opts.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1 || SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, id.certificate.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, id.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    error = (id.host.empty() ? std::string("default certificate") : "certificate for " + id.host) + " (" +
            id.certificate + ", " + id.key + "): " + last_ssl_error();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

tls_store::set::~set() {
  for (auto& [_, ctx] : by_host) SSL_CTX_free(ctx);
  if (fallback) SSL_CTX_free(fallback);
}

bool tls_store::load(const std::vector<tls_identity>& ids, const tls_options& opts, std::string& error) {
  auto fresh = std::make_shared<set>();
  for (const auto& id : ids) {
    SSL_CTX* ctx = make_context(id, opts, error);
    if (!ctx) return false;
    if (id.host.empty()) {
      if (fresh->fallback) SSL_CTX_free(fresh->fallback);
      fresh->fallback = ctx;
    } else {
      fresh->by_host[id.host] = ctx;
    }
  }
  if (!fresh->fallback) {
    if (fresh->by_host.empty()) {
      error = "no TLS certificate configured";
      return false;
    }
    fresh->fallback = fresh->by_host.begin()->second;
    SSL_CTX_up_ref(fresh->fallback);
  }
  // The SNI callback looks the name up in the set it was installed with; the set lives as long
  // as any context of it (arg is a raw pointer kept alive by the ex-data reference below).
  for (SSL_CTX* ctx : {fresh->fallback}) {
    SSL_CTX_set_tlsext_servername_callback(ctx, &tls_store::on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, fresh.get());
  }
  std::lock_guard lock(mutex_);
  // Old sets stay alive while connections use their contexts: each SSL holds an SSL_CTX
  // reference, but the set object must outlive SNI callbacks of handshakes in progress, so
  // sets are never freed (reloads are rare; each costs a few KiB).
  static std::vector<std::shared_ptr<set>> retired;
  if (current_) retired.push_back(current_);
  current_ = std::move(fresh);
  return true;
}

SSL_CTX* tls_store::acquire_default() const {
  std::lock_guard lock(mutex_);
  if (!current_) return nullptr;
  SSL_CTX_up_ref(current_->fallback);
  return current_->fallback;
}

int tls_store::on_servername(SSL* ssl, int* /*alert*/, void* arg) {
  auto* s = static_cast<set*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name) return SSL_TLSEXT_ERR_NOACK;
  std::string host(name);
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = s->by_host.find(host);
  if (it != s->by_host.end() && it->second != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, it->second);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace starling::net
