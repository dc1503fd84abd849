#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "config/config.hpp"

namespace cfg = starling::config;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

namespace {

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "starling-bootstrap-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct x509_deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct pkey_deleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using x509_ptr = std::unique_ptr<X509, x509_deleter>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

x509_ptr read_cert(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "r");
  if (!f) return nullptr;
  x509_ptr x(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return x;
}

pkey_ptr read_key(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "r");
  if (!f) return nullptr;
  pkey_ptr k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  return k;
}

// The subjectAltName entries as "DNS:x", "IP:<n bytes>", "xmppAddr:x".
std::vector<std::string> alt_names(X509* x) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                                         ASN1_STRING_length(g->d.dNSName)));
    } else if (g->type == GEN_IPADD) {
      out.push_back("IP:" + std::to_string(ASN1_STRING_length(g->d.iPAddress)) + " bytes");
    } else if (g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_XmppAddr &&
               g->d.otherName->value->type == V_ASN1_UTF8STRING) {
      ASN1_UTF8STRING* s = g->d.otherName->value->value.utf8string;
      out.push_back("xmppAddr:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                              ASN1_STRING_length(s)));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every file under `dir` with its content and modification time.
std::map<fs::path, std::pair<std::string, fs::file_time_type>> snapshot(const fs::path& dir) {
  std::map<fs::path, std::pair<std::string, fs::file_time_type>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out[e.path()] = {e.is_regular_file() ? read_file(e.path()) : "", e.last_write_time()};
  return out;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

}  // namespace

TEST(Bootstrap, FirstRunCreatesConfigCertificateAndKey) {
  temp_dir tmp;
  fs::path config = tmp.path() / "etc" / "starling.toml";
  fs::path data = tmp.path() / "data";
  auto errors = cfg::bootstrap(config, data);
  ASSERT_TRUE(errors.empty()) << join(errors);

  ASSERT_TRUE(fs::exists(config));
  EXPECT_EQ(read_file(config), cfg::default_config_text(data));
  auto loaded = cfg::load(config);
  ASSERT_TRUE(loaded.config);
  EXPECT_EQ(loaded.config->data_dir, data);
  EXPECT_EQ(mode_of(data), 0700u);

  fs::path cert_file = data / "certs" / "localhost.crt";
  fs::path key_file = data / "certs" / "localhost.key";
  ASSERT_TRUE(fs::exists(cert_file));
  ASSERT_TRUE(fs::exists(key_file));
  EXPECT_EQ(mode_of(key_file), 0600u);
  EXPECT_EQ(mode_of(cert_file), 0644u);

  x509_ptr cert = read_cert(cert_file);
  ASSERT_TRUE(cert);
  pkey_ptr key = read_key(key_file);
  ASSERT_TRUE(key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);  // self-signed

  EXPECT_EQ(alt_names(cert.get()), (std::vector<std::string>{"DNS:localhost", "xmppAddr:localhost"}));
  EXPECT_EQ(X509_check_host(cert.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "example.org", 0, 0, nullptr), 0);

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "localhost");
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);  // an end-entity certificate
  EXPECT_TRUE(X509_get_extension_flags(cert.get()) & EXFLAG_BCONS);
  EXPECT_TRUE(X509_get_extended_key_usage(cert.get()) & XKU_SSL_SERVER);
  EXPECT_TRUE(X509_get_key_usage(cert.get()) & KU_DIGITAL_SIGNATURE);

  // Valid now, for about ten years.
  int days = 0, seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())), 1);
  EXPECT_GE(days, 3652);
  EXPECT_LE(days, 3654);
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(cert.get())), 0);
}

TEST(Bootstrap, SecondRunChangesNothing) {
  temp_dir tmp;
  fs::path config = tmp.path() / "starling.toml";
  fs::path data = tmp.path() / "data";
  ASSERT_TRUE(cfg::bootstrap(config, data).empty());
  auto before = snapshot(tmp.path());
  auto errors = cfg::bootstrap(config, data);
  EXPECT_TRUE(errors.empty()) << join(errors);
  EXPECT_EQ(snapshot(tmp.path()), before);  // same files, contents and times; no leftovers
}

TEST(Bootstrap, UsesAnExistingConfigAndCoversEveryHost) {
  temp_dir tmp;
  fs::path config = tmp.path() / "starling.toml";
  std::ofstream(config) << R"(
data_dir = "var"
[[host]]
name = "example.org"
[[host]]
name = "chat.example.org"
certificate = "chat/cert.pem"
key = "chat/key.pem"
[[host]]
name = "127.0.0.1"
[[listener]]
)";
  auto errors = cfg::bootstrap(config, tmp.path() / "ignored");
  ASSERT_TRUE(errors.empty()) << join(errors);
  // The default pair is named after the first host and covers all hosts.
  x509_ptr main = read_cert(tmp.path() / "var/certs/example.org.crt");
  ASSERT_TRUE(main);
  EXPECT_EQ(alt_names(main.get()),
            (std::vector<std::string>{"DNS:example.org", "xmppAddr:example.org", "DNS:chat.example.org",
                                      "xmppAddr:chat.example.org", "IP:4 bytes"}));
  EXPECT_EQ(X509_check_ip_asc(main.get(), "127.0.0.1", 0), 1);
  x509_ptr chat = read_cert(tmp.path() / "var/chat/cert.pem");
  ASSERT_TRUE(chat);
  EXPECT_EQ(alt_names(chat.get()), (std::vector<std::string>{"DNS:chat.example.org", "xmppAddr:chat.example.org"}));
  EXPECT_EQ(mode_of(tmp.path() / "var/chat/key.pem"), 0600u);
}

TEST(Bootstrap, NeverReplacesHalfAPair) {
  temp_dir tmp;
  fs::path config = tmp.path() / "starling.toml";
  fs::path data = tmp.path() / "data";
  ASSERT_TRUE(cfg::bootstrap(config, data).empty());
  fs::path key = data / "certs/localhost.key";
  std::string cert_pem = read_file(data / "certs/localhost.crt");
  fs::remove(key);
  auto errors = cfg::bootstrap(config, data);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("localhost.crt exists but"));
  EXPECT_FALSE(fs::exists(key));
  EXPECT_EQ(read_file(data / "certs/localhost.crt"), cert_pem);
}

TEST(Bootstrap, ReportsConfigErrors) {
  temp_dir tmp;
  fs::path config = tmp.path() / "starling.toml";
  std::ofstream(config) << "[limits]\nmax_depth = 1\n";
  auto errors = cfg::bootstrap(config, tmp.path() / "data");
  ASSERT_EQ(errors.size(), 3u) << join(errors);
  EXPECT_EQ(errors[0].rfind(config.string() + ":2:13: [limits] max_depth = 1 is out of range", 0), 0u)
      << errors[0];
  EXPECT_FALSE(fs::exists(tmp.path() / "data/certs/localhost.crt"));
}

TEST(MakeSelfSigned, RandomSerialsAndNoHosts) {
  temp_dir tmp;
  std::string error;
  ASSERT_TRUE(cfg::make_self_signed({"a.example"}, tmp.path() / "1.crt", tmp.path() / "1.key", error)) << error;
  ASSERT_TRUE(cfg::make_self_signed({"a.example"}, tmp.path() / "2.crt", tmp.path() / "2.key", error)) << error;
  x509_ptr one = read_cert(tmp.path() / "1.crt");
  x509_ptr two = read_cert(tmp.path() / "2.crt");
  ASSERT_TRUE(one && two);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(one.get()), X509_get0_serialNumber(two.get())), 0);
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(one.get()), nullptr);
  ASSERT_TRUE(serial);
  EXPECT_FALSE(BN_is_negative(serial));  // RFC 5280 §4.1.2.2: positive, at most 20 octets
  EXPECT_GE(BN_num_bytes(serial), 16);
  EXPECT_LE(BN_num_bytes(serial), 20);
  BN_free(serial);

  EXPECT_FALSE(cfg::make_self_signed({}, tmp.path() / "3.crt", tmp.path() / "3.key", error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(fs::exists(tmp.path() / "3.crt"));
}

TEST(MakeSelfSigned, LongHostNameGoesInTheSanOnly) {
  temp_dir tmp;
  std::string host = std::string(60, 'a') + ".example.org";  // longer than CN's 64 characters
  std::string error;
  ASSERT_TRUE(cfg::make_self_signed({host}, tmp.path() / "c.crt", tmp.path() / "c.key", error)) << error;
  x509_ptr cert = read_cert(tmp.path() / "c.crt");
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_host(cert.get(), host.c_str(), host.size(), 0, nullptr), 1);
}

TEST(MakeSelfSigned, ReportsUnwritablePaths) {
  std::string error;
  EXPECT_FALSE(cfg::make_self_signed({"a.example"}, "/proc/starling/c.crt", "/proc/starling/c.key", error));
  EXPECT_THAT(error, HasSubstr("/proc/starling"));
}
