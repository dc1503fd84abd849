// RFC 5929 §4.1 tls-server-end-point on certificates generated here with OpenSSL.
#include "sasl/channel_binding.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

using starling::sasl::tls_server_end_point;
using starling::sasl::tls_server_end_point_defined;

namespace {

struct pkey_free {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

pkey_ptr ec_key() { return pkey_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

// Self-signed certificate for CN=example.org; `sign` signs it (returns false on failure).
template <class Sign>
x509_ptr make_cert(EVP_PKEY* key, Sign sign) {
  x509_ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("example.org"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  if (!sign(cert.get())) return nullptr;
  return cert;
}

x509_ptr signed_with(EVP_PKEY* key, const EVP_MD* md) {
  return make_cert(key, [&](X509* c) { return X509_sign(c, key, md) > 0; });
}

// Independent computation: digest of the i2d DER encoding.
std::string digest_of_der(X509* cert, const EVP_MD* md) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  EXPECT_GT(len, 0);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  EXPECT_EQ(EVP_Digest(der, static_cast<size_t>(len), out, &out_len, md, nullptr), 1);
  OPENSSL_free(der);
  return std::string(reinterpret_cast<const char*>(out), out_len);
}

}  // namespace

TEST(tls_server_end_point, ecdsa_sha256_uses_sha256) {
  auto key = ec_key();
  ASSERT_TRUE(key);
  auto cert = signed_with(key.get(), EVP_sha256());
  ASSERT_TRUE(cert);
  auto cb = tls_server_end_point(cert.get());
  ASSERT_TRUE(cb);
  EXPECT_EQ(cb->size(), 32u);
  EXPECT_EQ(*cb, digest_of_der(cert.get(), EVP_sha256()));
  EXPECT_TRUE(tls_server_end_point_defined(cert.get()));
}

TEST(tls_server_end_point, ecdsa_sha384_uses_sha384) {
  auto key = ec_key();
  auto cert = signed_with(key.get(), EVP_sha384());
  ASSERT_TRUE(cert);
  auto cb = tls_server_end_point(cert.get());
  ASSERT_TRUE(cb);
  EXPECT_EQ(*cb, digest_of_der(cert.get(), EVP_sha384()));
}

TEST(tls_server_end_point, sha1_signature_replaced_by_sha256) {
  // RFC 5929 §4.1: MD5 and SHA-1 are upgraded to SHA-256.
  auto key = ec_key();
  auto cert = signed_with(key.get(), EVP_sha1());
  ASSERT_TRUE(cert);
  auto cb = tls_server_end_point(cert.get());
  ASSERT_TRUE(cb);
  EXPECT_EQ(*cb, digest_of_der(cert.get(), EVP_sha256()));
  EXPECT_NE(*cb, digest_of_der(cert.get(), EVP_sha1()));
}

TEST(tls_server_end_point, rsa_pss_hash_from_parameters) {
  // RSA-PSS carries its hash in the algorithm parameters, not in the OID.
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  ASSERT_TRUE(key);
  auto cert = make_cert(key.get(), [&](X509* c) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    bool ok = EVP_DigestSignInit(ctx, &pctx, EVP_sha512(), nullptr, key.get()) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
              X509_sign_ctx(c, ctx) > 0;
    EVP_MD_CTX_free(ctx);
    return ok;
  });
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_rsassaPss);
  auto cb = tls_server_end_point(cert.get());
  ASSERT_TRUE(cb);
  EXPECT_EQ(*cb, digest_of_der(cert.get(), EVP_sha512()));
}

TEST(tls_server_end_point, ed25519_is_undefined) {
  // RFC 5929 §4.1: no single hash function in the signature algorithm -> undefined.
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(key);
  auto cert = signed_with(key.get(), nullptr);
  ASSERT_TRUE(cert);
  EXPECT_FALSE(tls_server_end_point(cert.get()));
  EXPECT_FALSE(tls_server_end_point_defined(cert.get()));  // not advertised then
}

TEST(tls_server_end_point, null_certificate) {
  EXPECT_FALSE(tls_server_end_point(nullptr));
  EXPECT_FALSE(tls_server_end_point_defined(nullptr));
}
