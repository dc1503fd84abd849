// RFC 5929 §4 tls-server-end-point channel binding (libcrypto only; tls-exporter is inline in the
// header because it needs libssl).
#include "sasl/channel_binding.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>

namespace starling::sasl {

namespace {
// RFC 5929 §4.1: the digest for the certificate's signature algorithm, nullptr if undefined.
const EVP_MD* end_point_digest(const X509* server_cert) {
  if (!server_cert) return nullptr;
  int md_nid = NID_undef;
  // X509_get_signature_info also resolves RSA-PSS, whose hash lives in the algorithm parameters
  // (OBJ_find_sigid_algs alone reports no hash for it). It takes a non-const pointer only
  // because it may fill OpenSSL's internal extension cache, which is done under a lock.
  if (X509_get_signature_info(const_cast<X509*>(server_cert), &md_nid, nullptr, nullptr,
                              nullptr) != 1)
    return nullptr;
  // RFC 5929 §4.1: "if the certificate's signatureAlgorithm uses a single hash function and that
  // hash function is either MD5 or SHA-1, then use SHA-256"; no single hash: undefined.
  if (md_nid == NID_undef) return nullptr;
  if (md_nid == NID_md5 || md_nid == NID_sha1) md_nid = NID_sha256;
  return EVP_get_digestbynid(md_nid);
}
}  // namespace

bool tls_server_end_point_defined(const X509* server_cert) {
  return end_point_digest(server_cert) != nullptr;
}

std::optional<std::string> tls_server_end_point(const X509* server_cert) {
  const EVP_MD* md = end_point_digest(server_cert);
  if (!md) return std::nullopt;
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // X509_digest hashes the DER encoding of the whole certificate, as §4.1 requires.
  if (X509_digest(server_cert, md, out, &len) != 1) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace starling::sasl
