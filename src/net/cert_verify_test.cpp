// Tests for net/cert_verify: certificates are made in the test with the OpenSSL API (a test
// CA, leaves with each identifier type, expired and self-signed ones).
#include "net/cert_verify.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

using namespace starling::net;

namespace {

EVP_PKEY* new_key() { return EVP_EC_gen("P-256"); }

struct cert_spec {
  std::string cn;
  std::string san;  // OpenSSL v3 config syntax, e.g. "DNS:a.example, otherName:..."
  long not_before = -3600;
  long not_after = 86400;
  bool ca = false;
};

// Signs with (issuer, issuer_key); null issuer: self-signed.
X509* make_cert(const cert_spec& s, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), s.not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), s.not_after);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  if (!s.cn.empty())
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(s.cn.c_str()), -1,
                               -1, 0);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Starling test"), -1,
                             -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr) << value;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  };
  if (s.ca) {
    add(NID_basic_constraints, "critical,CA:TRUE");
    add(NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add(NID_basic_constraints, "CA:FALSE");
  }
  add(NID_subject_key_identifier, "hash");
  if (!s.san.empty()) add(NID_subject_alt_name, s.san);
  EXPECT_GT(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
  return x;
}

struct pki {
  EVP_PKEY* ca_key = new_key();
  X509* ca = nullptr;
  std::string dir;
  std::string ca_file;
  pki() {
    ca = make_cert(cert_spec{"Starling Test CA", "", -3600, 86400, true}, ca_key, nullptr, nullptr);
    char tmpl[] = "/tmp/starling-certs-XXXXXX";
    dir = mkdtemp(tmpl);
    ca_file = dir + "/ca.pem";
    FILE* f = fopen(ca_file.c_str(), "w");
    PEM_write_X509(f, ca);
    fclose(f);
  }
  ~pki() {
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    std::filesystem::remove_all(dir);
  }
  // A leaf signed by the CA; its key is returned in *key_out when given.
  X509* leaf(const cert_spec& s, EVP_PKEY** key_out = nullptr) {
    EVP_PKEY* k = new_key();
    X509* x = make_cert(s, k, ca, ca_key);
    if (key_out) *key_out = k;
    else EVP_PKEY_free(k);
    return x;
  }
};

struct x509_ptr {
  X509* p;
  explicit x509_ptr(X509* x) : p(x) {}
  ~x509_ptr() { X509_free(p); }
  operator X509*() const { return p; }
};

const std::string kSrv = "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:";
const std::string kXmpp = "otherName:1.3.6.1.5.5.7.8.5;UTF8:";

}  // namespace

TEST(DnsIdMatch, ExactAndCaseInsensitive) {
  EXPECT_TRUE(dns_id_matches("example.org", "example.org"));
  EXPECT_TRUE(dns_id_matches("Example.ORG", "example.org"));
  EXPECT_TRUE(dns_id_matches("example.org.", "example.org"));
  EXPECT_TRUE(dns_id_matches("example.org", "example.org."));
  EXPECT_FALSE(dns_id_matches("example.org", "example.com"));
  EXPECT_FALSE(dns_id_matches("xample.org", "example.org"));
  EXPECT_FALSE(dns_id_matches("", "example.org"));
  EXPECT_FALSE(dns_id_matches("exa mple.org", "exa mple.org"));
}

TEST(DnsIdMatch, WildcardOnlyWholeLeftMostLabel) {
  EXPECT_TRUE(dns_id_matches("*.example.org", "chat.example.org"));
  EXPECT_FALSE(dns_id_matches("*.example.org", "example.org"));         // needs one label
  EXPECT_FALSE(dns_id_matches("*.example.org", "a.chat.example.org"));  // only one label
  EXPECT_FALSE(dns_id_matches("c*.example.org", "chat.example.org"));   // partial
  EXPECT_FALSE(dns_id_matches("*t.example.org", "chat.example.org"));
  EXPECT_FALSE(dns_id_matches("chat.*.org", "chat.example.org"));       // not left-most
  EXPECT_FALSE(dns_id_matches("*.*.org", "a.example.org"));
  EXPECT_FALSE(dns_id_matches("*.org", "example.org"));                 // too broad
  EXPECT_FALSE(dns_id_matches("*", "example"));
  EXPECT_FALSE(dns_id_matches("*.example.org", ".example.org"));
}

TEST(CertIdentity, DnsId) {
  pki p;
  x509_ptr c(p.leaf({"ignored.example", "DNS:example.org, DNS:other.example"}));
  std::string m;
  EXPECT_TRUE(match_identity(c, "example.org", &m));
  EXPECT_EQ(m, "DNS-ID");
  EXPECT_TRUE(match_identity(c, "OTHER.example", &m));
  // A SAN of a known type exists: the CN is not consulted.
  EXPECT_FALSE(match_identity(c, "ignored.example"));
  EXPECT_FALSE(match_identity(c, "evil.example"));
}

TEST(CertIdentity, WildcardDnsId) {
  pki p;
  x509_ptr c(p.leaf({"", "DNS:*.example.org"}));
  EXPECT_TRUE(match_identity(c, "muc.example.org"));
  EXPECT_FALSE(match_identity(c, "example.org"));
  EXPECT_FALSE(match_identity(c, "a.muc.example.org"));
  x509_ptr partial(p.leaf({"", "DNS:m*.example.org"}));
  EXPECT_FALSE(match_identity(partial, "muc.example.org"));
}

TEST(CertIdentity, SrvId) {
  pki p;
  x509_ptr c(p.leaf({"", kSrv + "_xmpp-server.example.net"}));
  std::string m;
  EXPECT_TRUE(match_identity(c, "example.net", &m));
  EXPECT_EQ(m, "SRV-ID");
  EXPECT_FALSE(match_identity(c, "other.net"));
  // A client SRV-ID does not authenticate a server.
  x509_ptr client(p.leaf({"example.net", kSrv + "_xmpp-client.example.net"}));
  EXPECT_FALSE(match_identity(client, "example.net"));
}

TEST(CertIdentity, XmppAddr) {
  pki p;
  x509_ptr c(p.leaf({"", kXmpp + "example.com"}));
  std::string m;
  EXPECT_TRUE(match_identity(c, "example.com", &m));
  EXPECT_EQ(m, "XmppAddr");
  EXPECT_FALSE(match_identity(c, "example.org"));
  // A user's JID is not the server's identity.
  x509_ptr user(p.leaf({"", kXmpp + "alice@example.com"}));
  EXPECT_FALSE(match_identity(user, "example.com"));
}

TEST(CertIdentity, CnFallbackOnlyWithoutKnownSans) {
  pki p;
  x509_ptr cn_only(p.leaf({"example.org", ""}));
  std::string m;
  EXPECT_TRUE(match_identity(cn_only, "example.org", &m));
  EXPECT_EQ(m, "CN-ID");
  EXPECT_FALSE(match_identity(cn_only, "example.com"));
  // An IP SAN is not of a type used for domains: the CN still counts.
  x509_ptr ip(p.leaf({"example.org", "IP:127.0.0.1"}));
  EXPECT_TRUE(match_identity(ip, "example.org"));
  // An XmppAddr SAN for another domain disables the CN.
  x509_ptr x(p.leaf({"example.org", kXmpp + "example.net"}));
  EXPECT_FALSE(match_identity(x, "example.org"));
  // A URI SAN disables it too (RFC 6125 §6.4.4).
  x509_ptr uri(p.leaf({"example.org", "URI:xmpp:example.net"}));
  EXPECT_FALSE(match_identity(uri, "example.org"));
}

TEST(CertVerify, TrustedByConfiguredCaFile) {
  pki p;
  cert_verifier v({p.ca_file, "", false});
  ASSERT_EQ(v.error(), "");
  x509_ptr c(p.leaf({"", "DNS:example.org"}));
  auto r = v.verify(c, nullptr, "example.org");
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_TRUE(r.chain_ok);
  EXPECT_EQ(r.matched, "DNS-ID");
}

TEST(CertVerify, TrustedByConfiguredCaDir) {
  pki p;
  // OpenSSL hashed directory: <subject hash>.0
  char name[32];
  snprintf(name, sizeof name, "%08lx.0", X509_NAME_hash_ex(X509_get_subject_name(p.ca), nullptr, nullptr, nullptr));
  std::string hashdir = p.dir + "/hashed";
  std::filesystem::create_directory(hashdir);
  std::filesystem::copy_file(p.ca_file, hashdir + "/" + name);
  cert_verifier v({"", hashdir, false});
  ASSERT_EQ(v.error(), "");
  x509_ptr c(p.leaf({"", "DNS:example.org"}));
  auto r = v.verify(c, nullptr, "example.org");
  EXPECT_TRUE(r.ok) << r.reason;
}

TEST(CertVerify, WrongDomainFailsIdentityOnly) {
  pki p;
  cert_verifier v({p.ca_file, "", false});
  x509_ptr c(p.leaf({"", "DNS:example.org"}));
  auto r = v.verify(c, nullptr, "example.com");
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.chain_ok);
  EXPECT_FALSE(r.identity_ok);
  EXPECT_NE(r.reason.find("identity"), std::string::npos) << r.reason;
}

TEST(CertVerify, ExpiredCertificateFailsChain) {
  pki p;
  cert_verifier v({p.ca_file, "", false});
  x509_ptr c(p.leaf({"", "DNS:example.org", -7 * 86400, -86400}));
  auto r = v.verify(c, nullptr, "example.org");
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.chain_ok);
  EXPECT_TRUE(r.identity_ok);
  EXPECT_NE(r.reason.find("expired"), std::string::npos) << r.reason;
}

TEST(CertVerify, NotYetValidFailsChain) {
  pki p;
  cert_verifier v({p.ca_file, "", false});
  x509_ptr c(p.leaf({"", "DNS:example.org", 86400, 7 * 86400}));
  auto r = v.verify(c, nullptr, "example.org");
  EXPECT_FALSE(r.chain_ok);
  EXPECT_NE(r.reason.find("not yet valid"), std::string::npos) << r.reason;
}

TEST(CertVerify, SelfSignedIsUntrusted) {
  pki p;
  cert_verifier v({p.ca_file, "", true});  // system store too: still not trusted
  EVP_PKEY* k = new_key();
  x509_ptr c(make_cert({"example.org", "DNS:example.org"}, k, nullptr, nullptr));
  EVP_PKEY_free(k);
  auto r = v.verify(c, nullptr, "example.org");
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.chain_ok);
  EXPECT_TRUE(r.identity_ok);
  EXPECT_NE(r.reason.find("self-signed"), std::string::npos) << r.reason;
}

TEST(CertVerify, UnknownCaIsUntrusted) {
  pki p, other;
  cert_verifier v({p.ca_file, "", false});
  x509_ptr c(other.leaf({"", "DNS:example.org"}));
  auto r = v.verify(c, nullptr, "example.org");
  EXPECT_FALSE(r.chain_ok);
  EXPECT_FALSE(r.ok);
}

TEST(CertVerify, IntermediateFromPeerChain) {
  pki p;
  EVP_PKEY* ik = new_key();
  X509* inter = make_cert({"Intermediate", "", -3600, 86400, true}, ik, p.ca, p.ca_key);
  EVP_PKEY* lk = new_key();
  x509_ptr leaf(make_cert({"", "DNS:example.org"}, lk, inter, ik));
  cert_verifier v({p.ca_file, "", false});
  auto r = v.verify(leaf, nullptr, "example.org");
  EXPECT_FALSE(r.chain_ok);  // intermediate missing
  STACK_OF(X509)* chain = sk_X509_new_null();
  sk_X509_push(chain, inter);
  r = v.verify(leaf, chain, "example.org");
  EXPECT_TRUE(r.ok) << r.reason;
  sk_X509_free(chain);
  X509_free(inter);
  EVP_PKEY_free(ik);
  EVP_PKEY_free(lk);
}

TEST(CertVerify, BadCaFileReported) {
  cert_verifier v({"/nonexistent/ca.pem", "", false});
  EXPECT_NE(v.error(), "");
}

TEST(CertVerify, NullCertificate) {
  cert_verifier v({"", "", false});
  auto r = v.verify(nullptr, nullptr, "example.org");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "no certificate");
}

namespace {
// Runs a TLS handshake between two in-memory endpoints (a BIO pair); the server asks for the
// client's certificate the way an s2s listener must (accept anything, decide afterwards).
struct tls_pair {
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* server = nullptr;
  SSL* client = nullptr;
  tls_pair(X509* scert, EVP_PKEY* skey, X509* ccert, EVP_PKEY* ckey) {
    SSL_CTX_use_certificate(sctx, scert);
    SSL_CTX_use_PrivateKey(sctx, skey);
    SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    SSL_CTX_use_certificate(cctx, ccert);
    SSL_CTX_use_PrivateKey(cctx, ckey);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    server = SSL_new(sctx);
    client = SSL_new(cctx);
    BIO *a = nullptr, *b = nullptr;
    BIO_new_bio_pair(&a, 0, &b, 0);
    SSL_set_bio(server, a, a);
    SSL_set_bio(client, b, b);
    SSL_set_accept_state(server);
    SSL_set_connect_state(client);
  }
  bool handshake() {
    for (int i = 0; i < 100; ++i) {
      int c = SSL_do_handshake(client);
      int s = SSL_do_handshake(server);
      if (c == 1 && s == 1) return true;
    }
    return false;
  }
  ~tls_pair() {
    SSL_free(server);
    SSL_free(client);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
  }
};
}  // namespace

TEST(CertVerify, VerifyPeerOnBothSidesOfAHandshake) {
  // Incoming s2s: the server side sees the connecting domain's certificate; OpenSSL leaves
  // the leaf out of the server side's peer chain, verify_peer must still find it.
  pki p;
  EVP_PKEY *sk = nullptr, *ck = nullptr;
  x509_ptr scert(p.leaf({"", "DNS:receiving.example"}, &sk));
  x509_ptr ccert(p.leaf({"", kSrv + "_xmpp-server.initiating.example"}, &ck));
  tls_pair t(scert, sk, ccert, ck);
  ASSERT_TRUE(t.handshake());
  cert_verifier v({p.ca_file, "", false});
  auto at_server = v.verify_peer(t.server, "initiating.example");
  EXPECT_TRUE(at_server.ok) << at_server.reason;
  EXPECT_EQ(at_server.matched, "SRV-ID");
  auto at_client = v.verify_peer(t.client, "receiving.example");
  EXPECT_TRUE(at_client.ok) << at_client.reason;
  EXPECT_FALSE(v.verify_peer(t.server, "receiving.example").ok);
  EVP_PKEY_free(sk);
  EVP_PKEY_free(ck);
}

TEST(CertVerify, VerifyPeerWithoutClientCertificate) {
  pki p;
  EVP_PKEY* sk = nullptr;
  x509_ptr scert(p.leaf({"", "DNS:receiving.example"}, &sk));
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  SSL* s = SSL_new(sctx);
  cert_verifier v({p.ca_file, "", false});
  auto r = v.verify_peer(s, "initiating.example");  // no handshake: no peer certificate
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "no certificate");
  SSL_free(s);
  SSL_CTX_free(sctx);
  EVP_PKEY_free(sk);
}
