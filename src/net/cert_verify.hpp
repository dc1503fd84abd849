#pragma once
// Verification of a peer server's certificate for an XMPP domain (RFC 6120 §13.7.2,
// RFC 6125), for s2s: chain validation against trust anchors, then the identity check.
//
// API
//   cert_verifier v(cert_verify_options{.ca_file = "...", .use_system_store = true});
//   if (!v.error().empty()) ...                      // a CA file/dir could not be loaded
//   cert_result r = v.verify_peer(ssl, "example.org"); // after the TLS handshake
//   cert_result r = v.verify(leaf, untrusted_chain, "example.org");
//   r.ok                      chain valid AND identity matches
//   r.chain_ok, r.identity_ok the two halves (dialback may still be used when !ok, XEP-0220)
//   r.reason                  why not (e.g. "certificate has expired", "identity mismatch")
//   r.matched                 which identifier matched: "DNS-ID", "SRV-ID", "XmppAddr", "CN-ID"
//
// For an incoming s2s stream the TLS server must ask for the peer's certificate
// (SSL_VERIFY_PEER with a verify callback that accepts everything, so that the handshake
// does not fail on an untrusted certificate and dialback stays possible); verify_peer() then
// decides. verify_peer works on both sides: OpenSSL leaves the leaf out of the server side's
// SSL_get_peer_cert_chain, so the leaf is taken from SSL_get0_peer_certificate.
//
// Identity (RFC 6125 §6, RFC 6120 §13.7.1.2), reference identifier = the peer's domain:
//   - DNS-ID: subjectAltName dNSName, ASCII case-insensitive; a wildcard is accepted only
//     as the complete left-most label ("*.example.org" matches "a.example.org", not
//     "example.org" nor "a.b.example.org"), never partial ("x*.example.org") and never
//     with fewer than two labels after it ("*.org");
//   - SRV-ID: otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7, IA5String), "_xmpp-server.<domain>"
//     (RFC 4985; no wildcards);
//   - XmppAddr: otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5, UTF8String) equal to the domain;
//   - CN-ID: the subject's last commonName, matched like a DNS-ID, only when the certificate
//     has no subjectAltName of a type this check knows (dNSName, SRV-ID, XmppAddr, URI)
//     (RFC 6125 §6.4.4).
// The reference domain is expected in its ASCII (A-label) form; a trailing dot is ignored.
// IP-address SANs never match a domain.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>
#include <string_view>

namespace starling::net {

struct cert_verify_options {
  std::string ca_file;            // PEM bundle of trusted CAs (optional)
  std::string ca_dir;             // OpenSSL hashed directory (optional)
  bool use_system_store = true;   // also trust the system's default store
};

struct cert_result {
  bool ok = false;
  bool chain_ok = false;
  bool identity_ok = false;
  std::string reason;
  std::string matched;
};

class cert_verifier {
 public:
  explicit cert_verifier(const cert_verify_options& opts);
  ~cert_verifier();
  cert_verifier(const cert_verifier&) = delete;
  cert_verifier& operator=(const cert_verifier&) = delete;

  // Empty when every configured location loaded.
  const std::string& error() const { return error_; }

  // leaf: the peer's certificate; untrusted: intermediates sent by the peer (may be null,
  // may contain the leaf). Thread-safe (the store is only read).
  cert_result verify(X509* leaf, STACK_OF(X509) * untrusted, std::string_view domain) const;
  cert_result verify_peer(SSL* ssl, std::string_view domain) const;

 private:
  X509_STORE* store_ = nullptr;
  std::string error_;
};

// The identity half alone (no chain check). `matched` receives the identifier type.
bool match_identity(X509* cert, std::string_view domain, std::string* matched = nullptr);

// RFC 6125 §6.4 DNS name comparison with the wildcard rules above; `presented` is a
// dNSName / CN, `reference` the domain. Exposed for tests and the fuzz target.
bool dns_id_matches(std::string_view presented, std::string_view reference);

}  // namespace starling::net
