#include "net/cert_verify.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace starling::net {

namespace {

// RFC 4985 id-on-dnsSRV and RFC 6120 §13.7.1.4 id-on-xmppAddr.
constexpr const char* kOidDnsSrv = "1.3.6.1.5.5.7.8.7";
constexpr const char* kOidXmppAddr = "1.3.6.1.5.5.7.8.5";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view strip_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}

// An ASN.1 string as text; empty when it holds a NUL (a classic way to smuggle a second
// name past a C-string comparison).
std::string_view asn1_text(const ASN1_STRING* s) {
  if (!s) return {};
  std::string_view v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  if (v.find('\0') != std::string_view::npos) return {};
  return v;
}

bool oid_is(const ASN1_OBJECT* obj, const char* oid) {
  char buf[80];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return n > 0 && static_cast<size_t>(n) < sizeof buf && std::string_view(buf, static_cast<size_t>(n)) == oid;
}

bool valid_dns_chars(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool dns_id_matches(std::string_view presented, std::string_view reference) {
  presented = strip_dot(presented);
  reference = strip_dot(reference);
  if (presented.empty() || reference.empty()) return false;
  if (presented.find("..") != std::string_view::npos || presented.front() == '.') return false;
  if (presented.find('*') == std::string_view::npos) {
    return valid_dns_chars(presented) && iequals(presented, reference);
  }
  // RFC 6125 §6.4.3 with the strict choices: the wildcard is the whole left-most label.
  if (presented.size() < 2 || presented[0] != '*' || presented[1] != '.') return false;
  std::string_view rest = presented.substr(2);  // "example.org"
  if (rest.find('*') != std::string_view::npos || !valid_dns_chars(rest)) return false;
  if (rest.find('.') == std::string_view::npos) return false;  // "*.org": too broad
  auto dot = reference.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;  // the wildcard needs one label
  std::string_view ref_rest = reference.substr(dot + 1);
  return iequals(rest, ref_rest);
}

bool match_identity(X509* cert, std::string_view domain, std::string* matched) {
  domain = strip_dot(domain);
  if (!cert || domain.empty()) return false;
  auto set = [&](const char* what) {
    if (matched) *matched = what;
    return true;
  };
  bool known_san = false;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> guard(names, GENERAL_NAMES_free);
  bool dns = false, srv = false, xmpp = false;
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
      switch (gn->type) {
        case GEN_DNS:
          known_san = true;
          if (dns_id_matches(asn1_text(gn->d.dNSName), domain)) dns = true;
          break;
        case GEN_URI:
          known_san = true;  // URI-ID (RFC 6125): not used by XMPP, but it disables CN-ID
          break;
        case GEN_OTHERNAME: {
          const OTHERNAME* on = gn->d.otherName;
          if (oid_is(on->type_id, kOidDnsSrv)) {
            known_san = true;
            // RFC 4985: IA5String "_Service.Name".
            if (on->value && on->value->type == V_ASN1_IA5STRING) {
              std::string_view v = asn1_text(on->value->value.ia5string);
              constexpr std::string_view prefix = "_xmpp-server.";
              if (v.size() > prefix.size() && iequals(v.substr(0, prefix.size()), prefix) &&
                  valid_dns_chars(v.substr(prefix.size())) &&
                  iequals(strip_dot(v.substr(prefix.size())), domain))
                srv = true;
            }
          } else if (oid_is(on->type_id, kOidXmppAddr)) {
            known_san = true;
            // RFC 6120 §13.7.1.4: UTF8String holding a JID; for a server, its domain.
            if (on->value && on->value->type == V_ASN1_UTF8STRING &&
                iequals(strip_dot(asn1_text(on->value->value.utf8string)), domain))
              xmpp = true;
          }
          break;
        }
        default:
          break;
      }
    }
  }
  // Report the most specific identifier that matched.
  if (srv) return set("SRV-ID");
  if (xmpp) return set("XmppAddr");
  if (dns) return set("DNS-ID");
  if (known_san) return false;
  // RFC 6125 §6.4.4: CN-ID only without any subjectAltName of a supported type; the most
  // specific (last) CN is used.
  X509_NAME* subject = X509_get_subject_name(cert);
  int idx = -1, last = -1;
  while ((idx = X509_NAME_get_index_by_NID(subject, NID_commonName, idx)) >= 0) last = idx;
  if (last < 0) return false;
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, cn);
  if (len < 0) return false;
  std::string_view text(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  bool ok = text.find('\0') == std::string_view::npos && dns_id_matches(text, domain);
  OPENSSL_free(utf8);
  return ok ? set("CN-ID") : false;
}

cert_verifier::cert_verifier(const cert_verify_options& opts) {
  store_ = X509_STORE_new();
  if (!store_) {
    error_ = "out of memory";
    return;
  }
  if (opts.use_system_store && X509_STORE_set_default_paths(store_) != 1) {
    error_ = "cannot load the system CA store";
  }
  if (!opts.ca_file.empty() || !opts.ca_dir.empty()) {
    const char* file = opts.ca_file.empty() ? nullptr : opts.ca_file.c_str();
    const char* dir = opts.ca_dir.empty() ? nullptr : opts.ca_dir.c_str();
    if (X509_STORE_load_locations(store_, file, dir) != 1) {
      error_ = "cannot load CA locations (file '" + opts.ca_file + "', dir '" + opts.ca_dir + "')";
    }
  }
  ERR_clear_error();
}

cert_verifier::~cert_verifier() {
  if (store_) X509_STORE_free(store_);
}

cert_result cert_verifier::verify(X509* leaf, STACK_OF(X509) * untrusted, std::string_view domain) const {
  cert_result r;
  if (!leaf) {
    r.reason = "no certificate";
    return r;
  }
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  if (!ctx || !store_ || X509_STORE_CTX_init(ctx, store_, leaf, untrusted) != 1) {
    if (ctx) X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    r.reason = "cannot set up chain verification";
    return r;
  }
  int v = X509_verify_cert(ctx);
  if (v == 1) {
    r.chain_ok = true;
  } else {
    int err = X509_STORE_CTX_get_error(ctx);
    r.reason = X509_verify_cert_error_string(err);
  }
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  r.identity_ok = match_identity(leaf, domain, &r.matched);
  if (!r.identity_ok && r.reason.empty()) r.reason = "identity mismatch: certificate is not for " + std::string(domain);
  r.ok = r.chain_ok && r.identity_ok;
  return r;
}

cert_result cert_verifier::verify_peer(SSL* ssl, std::string_view domain) const {
  if (!ssl) return cert_result{false, false, false, "no TLS", {}};
  X509* leaf = SSL_get0_peer_certificate(ssl);
  return verify(leaf, SSL_get_peer_cert_chain(ssl), domain);
}

}  // namespace starling::net
