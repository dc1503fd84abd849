// The generator's TLS client context (client.cpp): its cheap certificate path (legacy EC
// decoder behind an ENGINE, no chain building) must still complete real handshakes and must
// still reject a bad ECDSA signature.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include <string>

#include "bench/client.hpp"
#include "net/test_identity.hpp"

namespace starling::bench {
namespace {

struct identity {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = test_support::self_signed_certificate(key, 7);
  ~identity() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// Moves whatever `from` wrote into `to`'s read BIO.
void pump(SSL* from, SSL* to) {
  char buf[16384];
  BIO* w = SSL_get_wbio(from);
  int n;
  while ((n = BIO_read(w, buf, sizeof buf)) > 0) BIO_write(SSL_get_rbio(to), buf, n);
}

SSL* with_mem_bios(SSL* s) {
  SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
  return s;
}

// Handshake in memory; true when both ends finished.
bool handshake(SSL* client, SSL* server) {
  for (int round = 0; round < 20; ++round) {
    int c = SSL_do_handshake(client);
    pump(client, server);
    int s = SSL_do_handshake(server);
    pump(server, client);
    if (c == 1 && s == 1) return true;
  }
  return false;
}

TEST(BenchTls, HandshakeWithLegacyEcKeyAndSignatureStillChecked) {
  identity id;
  SSL_CTX* cctx = make_client_tls_context(true);
  ASSERT_NE(cctx, nullptr);
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  ASSERT_EQ(SSL_CTX_use_certificate(sctx, id.cert), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(sctx, id.key), 1);
  SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);

  SSL* client = with_mem_bios(SSL_new(cctx));
  SSL* server = with_mem_bios(SSL_new(sctx));
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  ASSERT_TRUE(handshake(client, server));
  EXPECT_EQ(SSL_version(client), TLS1_3_VERSION);

  // Application data both ways after the ECDSA-authenticated handshake.
  ASSERT_EQ(SSL_write(client, "<stream/>", 9), 9);
  pump(client, server);
  char buf[64];
  ASSERT_EQ(SSL_read(server, buf, sizeof buf), 9);
  EXPECT_EQ(std::string(buf, 9), "<stream/>");

  // The client read the server's key through the legacy decoder (a provider-decoded key has a
  // provider): this is the ~20 % of a login the ENGINE saves.
  X509* peer = SSL_get0_peer_certificate(client);
  ASSERT_NE(peer, nullptr);
  EVP_PKEY* pub = X509_get0_pubkey(peer);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(EVP_PKEY_get0_provider(pub), nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);

  // That key still tells a good ECDSA signature from a bad one.
  const unsigned char data[] = "TLS 1.3, server CertificateVerify";
  unsigned char sig[128];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, id.key), 1);
  ASSERT_EQ(EVP_DigestSign(md, sig, &sig_len, data, sizeof data), 1);
  auto verify = [&](const unsigned char* msg) {
    EVP_MD_CTX_reset(md);
    if (EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, pub) != 1) return false;
    return EVP_DigestVerify(md, sig, sig_len, msg, sizeof data) == 1;
  };
  EXPECT_TRUE(verify(data));
  unsigned char other[sizeof data];
  std::copy(std::begin(data), std::end(data), other);
  other[0] ^= 1;
  EXPECT_FALSE(verify(other));
  EVP_MD_CTX_free(md);

  SSL_free(client);
  SSL_free(server);
  SSL_CTX_free(sctx);
  SSL_CTX_free(cctx);
}

}  // namespace
}  // namespace starling::bench
