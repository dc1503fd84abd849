#pragma once
// Channel-binding data for SCRAM -PLUS (RFC 5056): tls-exporter (RFC 9266) and
// tls-server-end-point (RFC 5929 §4). tls_exporter() is inline because it needs libssl, which the
// SASL library does not link; only its callers (the network layer) do.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <optional>
#include <string>

namespace starling::sasl {

// RFC 5929 §4.1: hash of the server's DER certificate with the hash function of the certificate's
// signature algorithm, MD5 and SHA-1 replaced by SHA-256. nullopt when that is undefined: the
// signature uses no single hash (Ed25519, Ed448) or its algorithm is unknown. Do not advertise
// tls-server-end-point then.
std::optional<std::string> tls_server_end_point(const X509* server_cert);
// Whether tls_server_end_point() is defined for this certificate, without hashing it. Advertising
// the channel-binding types happens for every stream (features, each SASL step); the data itself
// is only needed when a client picks a -PLUS mechanism, so only that pays for the digest.
bool tls_server_end_point_defined(const X509* server_cert);

// RFC 9266 §2: 32 bytes of exporter keying material with label "EXPORTER-Channel-Binding" and
// an empty context. Only offered for TLS 1.3 (RFC 9266 §3: with TLS 1.2 it is only safe with the
// extended master secret, which is simpler not to depend on), so nullopt otherwise. Valid only
// after the handshake has completed.
inline bool tls_exporter_available(SSL* ssl) {
  return ssl && SSL_version(ssl) == TLS1_3_VERSION && SSL_is_init_finished(ssl);
}
inline std::optional<std::string> tls_exporter(SSL* ssl) {
  static constexpr char label[] = "EXPORTER-Channel-Binding";
  if (!tls_exporter_available(ssl)) return std::nullopt;
  std::string out(32, '\0');
  // use_context = 0: RFC 9266 §2 specifies "no context" (in TLS 1.3 the same as an empty one).
  if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                 label, sizeof(label) - 1, nullptr, 0, 0) != 1)
    return std::nullopt;
  return out;
}

}  // namespace starling::sasl
