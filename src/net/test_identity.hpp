#pragma once
// For GoogleTest targets only: a throwaway self-signed ECDSA P-256 certificate (CN=localhost)
// and its key in PEM files, made once per test process (ctest runs a file's tests in parallel
// processes, so the file names carry the process id) and removed at exit.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace starling::test_support {

// A self-signed certificate for `key` (CN=localhost, valid for an hour); the caller frees it.
inline X509* self_signed_certificate(EVP_PKEY* key, long serial = 1) {
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                             0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  return x;
}

struct test_identity {
  std::string cert_path, key_path;
  test_identity() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = self_signed_certificate(key);
    const std::string base = ::testing::TempDir() + "/starling_test_identity." + std::to_string(getpid());
    cert_path = base + ".crt.pem";
    key_path = base + ".key.pem";
    FILE* f = fopen(cert_path.c_str(), "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
  }
  ~test_identity() {
    std::remove(cert_path.c_str());
    std::remove(key_path.c_str());
  }
  test_identity(const test_identity&) = delete;
  test_identity& operator=(const test_identity&) = delete;
};

// The process's identity, made on first use.
inline const test_identity& identity() {
  static test_identity id;
  return id;
}

}  // namespace starling::test_support
