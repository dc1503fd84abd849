// Self-signed certificates for first run, so that a fresh server speaks TLS at once (RFC 6120
// makes TLS mandatory-to-implement and Starling requires it before authentication). Clients
// will warn about the certificate; that is the point at which an operator installs a real one.
#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "config/config.hpp"
#include "config/domain_name.hpp"
#include "config/files.hpp"

namespace starling::config {
namespace {

template <auto fn>
struct deleter {
  template <class T>
  void operator()(T* p) const { fn(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES_free>>;
using gen_ptr = std::unique_ptr<GENERAL_NAME, deleter<GENERAL_NAME_free>>;

// Days in ten years, counting the leap days.
constexpr int validity_days = 3653;

std::string openssl_error(std::string_view what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();  // the rest of the queue belongs to this failure too
  if (code == 0) return std::string(what);
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return fmt::format("{}: {}", what, buf);
}

// subjectAltName entries for `hosts`: an iPAddress for IP literals; otherwise a dNSName (the
// DNS-ID clients check, RFC 6125 / RFC 7590) plus an id-on-xmppAddr otherName with the
// domain in UTF-8 (RFC 6120 §13.7.1.4), which older XMPP software looks for.
bool add_subject_alt_names(const std::vector<std::string>& hosts, GENERAL_NAMES* names,
                           std::string& error) {
  for (const auto& host : hosts) {
    std::string ip;
    if (parse_ip_literal(host, ip)) {
      gen_ptr gen(GENERAL_NAME_new());
      ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
      if (!gen || !octets ||
          !ASN1_OCTET_STRING_set(octets, reinterpret_cast<const unsigned char*>(ip.data()),
                                 static_cast<int>(ip.size()))) {
        ASN1_OCTET_STRING_free(octets);
        error = openssl_error("cannot build an iPAddress name");
        return false;
      }
      GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, octets);
      sk_GENERAL_NAME_push(names, gen.release());
      continue;
    }
    auto ascii = domain_to_ascii(host);
    if (!ascii) {
      error = fmt::format("cannot convert {} to its ASCII (A-label) form", host);
      return false;
    }
    gen_ptr dns(GENERAL_NAME_new());
    ASN1_IA5STRING* ia5 = ASN1_IA5STRING_new();
    if (!dns || !ia5 || !ASN1_STRING_set(ia5, ascii->data(), static_cast<int>(ascii->size()))) {
      ASN1_IA5STRING_free(ia5);
      error = openssl_error("cannot build a dNSName");
      return false;
    }
    GENERAL_NAME_set0_value(dns.get(), GEN_DNS, ia5);
    sk_GENERAL_NAME_push(names, dns.release());

    gen_ptr other(GENERAL_NAME_new());
    ASN1_TYPE* value = ASN1_TYPE_new();
    ASN1_UTF8STRING* utf8 = ASN1_UTF8STRING_new();
    if (!other || !value || !utf8 ||
        !ASN1_STRING_set(utf8, host.data(), static_cast<int>(host.size()))) {
      ASN1_TYPE_free(value);
      ASN1_UTF8STRING_free(utf8);
      error = openssl_error("cannot build an xmppAddr name");
      return false;
    }
    ASN1_TYPE_set(value, V_ASN1_UTF8STRING, utf8);
    if (!GENERAL_NAME_set0_othername(other.get(), OBJ_nid2obj(NID_XmppAddr), value)) {
      ASN1_TYPE_free(value);
      error = openssl_error("cannot build an xmppAddr name");
      return false;
    }
    sk_GENERAL_NAME_push(names, other.release());
  }
  return true;
}

bool add_extension(X509* cert, int nid, const char* value, std::string& error) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    error = openssl_error(fmt::format("cannot add extension {}", value));
    return false;
  }
  return true;
}

std::string to_pem(int (*write)(BIO*, void*), void* object) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) return {};
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

}  // namespace

bool make_self_signed(const std::vector<std::string>& hosts, const std::filesystem::path& cert,
                      const std::filesystem::path& key, std::string& error) {
  if (hosts.empty()) {
    error = "no host names for the certificate";
    return false;
  }
  // P-256: every TLS stack supports it, and key generation is instant, unlike RSA.
  pkey_ptr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) {
    error = openssl_error("cannot generate an EC P-256 key");
    return false;
  }
  x509_ptr x509(X509_new());
  if (!x509 || !X509_set_version(x509.get(), X509_VERSION_3)) {
    error = openssl_error("cannot create a certificate");
    return false;
  }

  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; random, so that two generated
  // certificates never share issuer and serial (browsers and NSS reject that).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) {
    error = openssl_error("cannot generate a serial number");
    return false;
  }
  serial[0] = (serial[0] & 0x7f) | 0x40;  // positive and never shortened to fewer octets
  bn_ptr bn(BN_bin2bn(serial, sizeof serial, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x509.get()))) {
    error = openssl_error("cannot set the serial number");
    return false;
  }

  // Valid from an hour ago, so a client whose clock is slightly behind accepts it.
  time_t now = std::time(nullptr);
  if (!ASN1_TIME_adj(X509_getm_notBefore(x509.get()), now, 0, -3600) ||
      !ASN1_TIME_adj(X509_getm_notAfter(x509.get()), now, validity_days, 0)) {
    error = openssl_error("cannot set the validity period");
    return false;
  }

  // CN is for humans reading the certificate (clients match the SAN); X.520 caps it at 64.
  X509_NAME* name = X509_get_subject_name(x509.get());
  auto cn = domain_to_ascii(hosts.front()).value_or(hosts.front());
  const char* field = cn.size() <= 64 ? "CN" : "O";
  const std::string& text = cn.size() <= 64 ? cn : std::string("Starling self-signed");
  if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(text.c_str()), -1, -1, 0) ||
      !X509_set_issuer_name(x509.get(), name) || !X509_set_pubkey(x509.get(), pkey.get())) {
    error = openssl_error("cannot set the certificate's names");
    return false;
  }

  // An end-entity certificate: it must not be usable to sign other certificates.
  // clientAuth besides serverAuth: servers present the same certificate when they connect
  // to peers (XEP-0178 SASL EXTERNAL for s2s).
  if (!add_extension(x509.get(), NID_basic_constraints, "critical,CA:FALSE", error) ||
      !add_extension(x509.get(), NID_key_usage, "critical,digitalSignature", error) ||
      !add_extension(x509.get(), NID_ext_key_usage, "serverAuth,clientAuth", error) ||
      !add_extension(x509.get(), NID_subject_key_identifier, "hash", error))
    return false;

  names_ptr names(sk_GENERAL_NAME_new_null());
  if (!names || !add_subject_alt_names(hosts, names.get(), error)) {
    if (error.empty()) error = openssl_error("cannot build subjectAltName");
    return false;
  }
  // Critical only when the subject is empty (RFC 5280 §4.2.1.6); ours never is.
  if (!X509_add1_ext_i2d(x509.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT)) {
    error = openssl_error("cannot add subjectAltName");
    return false;
  }

  if (!X509_sign(x509.get(), pkey.get(), EVP_sha256())) {
    error = openssl_error("cannot sign the certificate");
    return false;
  }

  std::string key_pem = to_pem(
      [](BIO* b, void* k) {
        return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0,
                                        nullptr, nullptr);
      },
      pkey.get());
  std::string cert_pem =
      to_pem([](BIO* b, void* c) { return PEM_write_bio_X509(b, static_cast<X509*>(c)); }, x509.get());
  if (key_pem.empty() || cert_pem.empty()) {
    error = openssl_error("cannot encode the certificate or key as PEM");
    return false;
  }
  // The key first: a certificate without its key is useless, and a crash between the two
  // writes should leave the state that bootstrap reports rather than silently accepts.
  bool ok = write_file_atomically(key, key_pem, 0600, error);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  return ok && write_file_atomically(cert, cert_pem, 0644, error);
}

}  // namespace starling::config
