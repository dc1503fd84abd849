#pragma once
// TLS server contexts (RFC 7590): TLS 1.2+ only, one context per virtual host chosen by SNI,
// reloadable at run time (SIGHUP) without touching established sessions, which keep a
// reference to the context they started with.
#include <openssl/ssl.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace starling::net {

struct tls_identity {
  std::string host;         // "" for the default identity
  std::string certificate;  // PEM file path
  std::string key;          // PEM file path
};

struct tls_options {
  int min_version = TLS1_2_VERSION;
  std::string ciphers;  // TLS 1.2 list; empty: a strong AEAD-only default
};

class tls_store {
 public:
  // Loads all identities; on failure returns false with a message and keeps the old set.
  bool load(const std::vector<tls_identity>& ids, const tls_options& opts, std::string& error);
  // Context for a new connection (the default one; SNI switches to a host's context during
  // the handshake). The returned pointer holds its own reference: release with SSL_CTX_free.
  SSL_CTX* acquire_default() const;

 private:
  struct set {
    std::map<std::string, SSL_CTX*> by_host;
    SSL_CTX* fallback = nullptr;
    ~set();
  };
  static int on_servername(SSL* ssl, int* alert, void* arg);
  mutable std::mutex mutex_;
  std::shared_ptr<set> current_;
};

}  // namespace starling::net
