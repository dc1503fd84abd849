// SCRAM server and client: RFC 5802 §5 and RFC 7677 §3 vectors, XEP-0474 example, channel
// binding, and every failure path of scram_server.
#include "sasl/scram.hpp"

#include <gtest/gtest.h>

#include <set>

#include "util/base64.hpp"

using namespace std::string_literals;
using starling::sasl::failure;
using starling::sasl::hash_alg;
using starling::sasl::scram_client;
using starling::sasl::scram_credentials;
using starling::sasl::scram_server;
using starling::util::base64_decode;
using starling::util::base64_encode;
namespace sasl = starling::sasl;

namespace {

std::string hex(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string b64d(std::string_view s) {
  auto d = base64_decode(s);
  EXPECT_TRUE(d) << s;
  return d.value_or("");
}

// RFC 5802 §5 account: user "user", password "pencil".
const scram_credentials& rfc5802_creds() {
  static const auto c =
      sasl::derive_credentials(hash_alg::sha1, "pencil", b64d("QSXCR+Q6sek8bf92"), 4096);
  return c;
}

// An SHA-256 account with a low iteration count to keep the tests fast.
constexpr uint32_t test_iterations = 64;
const scram_credentials& sha256_creds() {
  static const auto c = sasl::derive_credentials(hash_alg::sha256, "secret", "0123456789abcdef",
                                                 test_iterations);
  return c;
}

scram_server::options sha256_options() {
  scram_server::options o;
  o.alg = hash_alg::sha256;
  return o;
}

// Options for SCRAM-SHA-256-PLUS on a TLS 1.3 connection offering both binding types.
const std::string exporter_data = "\x01\x02\x03 exporter bytes \xff"s;
const std::string endpoint_data = "end-point hash"s;
scram_server::options plus_options() {
  scram_server::options o;
  o.alg = hash_alg::sha256;
  o.plus = true;
  o.server_supports_plus = true;
  o.cb_types = {"tls-exporter", "tls-server-end-point"};
  o.cb_data = [](std::string_view type) -> std::optional<std::string> {
    if (type == "tls-exporter") return exporter_data;
    if (type == "tls-server-end-point") return endpoint_data;
    return std::nullopt;
  };
  return o;
}

// Runs steps 1 and 2 for `first` and returns server-first (fails the test if step 1 fails).
std::string start(scram_server& server, std::string_view first,
                  const std::optional<scram_credentials>& creds) {
  auto err = server.parse_client_first(first);
  EXPECT_FALSE(err) << first << ": " << (err ? to_string(*err) : "");
  return server.server_first(creds);
}

// A complete client-final for an SHA-256 exchange with `password`; `mutate` may alter it.
struct exchange {
  scram_server server{sha256_options()};
  scram_client client{hash_alg::sha256};
  std::string client_final;

  explicit exchange(std::string_view password = "secret", std::string gs2 = "n,,",
                    scram_server::options opts = sha256_options(), std::string_view cb_data = {},
                    std::optional<scram_credentials> creds = sha256_creds())
      : server(std::move(opts)) {
    std::string first = client.client_first("juliet", {}, std::move(gs2));
    std::string sf = start(server, first, creds);
    EXPECT_FALSE(client.handle_server_first(sf));
    client_final = client.client_final_with_password(password, cb_data);
  }
};

void expect_failure(const scram_server::final_result& r, failure f, std::string_view e,
                    scram_server& server) {
  ASSERT_TRUE(r.error);
  EXPECT_EQ(to_string(*r.error), to_string(f));
  EXPECT_TRUE(r.server_final.empty());
  EXPECT_EQ(server.scram_error(), e);
}

}  // namespace

// ----------------------------------------------------------------------------------------------
// Primitives

TEST(scram_crypto, hash_alg_names) {
  EXPECT_EQ(to_string(hash_alg::sha1), "SHA-1");
  EXPECT_EQ(to_string(hash_alg::sha256), "SHA-256");
  EXPECT_EQ(to_string(hash_alg::sha512), "SHA-512");
}

TEST(scram_crypto, hash_known_answers) {
  // FIPS 180-4 examples for "abc".
  EXPECT_EQ(hex(sasl::hash(hash_alg::sha1, "abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sasl::hash(hash_alg::sha256, "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sasl::hash(hash_alg::sha512, "abc").size(), 64u);
  EXPECT_EQ(hex(sasl::hash(hash_alg::sha512, "abc")).substr(0, 16), "ddaf35a193617aba");
}

TEST(scram_crypto, hmac_rfc4231_case2) {
  EXPECT_EQ(hex(sasl::hmac(hash_alg::sha256, "Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(sasl::hmac(hash_alg::sha512, "Jefe", "what do ya want for nothing?")).substr(0, 32),
            "164b7a7bfcf819e2e395fbe73b56e0a3");
  // An empty key is valid HMAC input (RFC 2104 zero-pads it).
  EXPECT_EQ(sasl::hmac(hash_alg::sha1, "", "x").size(), 20u);
}

// hmac() reuses one context per thread and algorithm (issue 6): every call must use its own
// key, also an empty one right after a non-empty one (EVP_MAC_init keeps the old key when
// given none), a key longer than the block (RFC 2104 §2: hashed first), and calls of the
// three algorithms interleaved. Expected values from Python's hmac module.
TEST(scram_crypto, hmac_reused_context_takes_each_key) {
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(hex(sasl::hmac(hash_alg::sha1, "Jefe", "what do ya want for nothing?")),
              "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    EXPECT_EQ(hex(sasl::hmac(hash_alg::sha1, "", "x")), "6244e66451a1c8695db9731ce2c4fd5de25ccf87");
    EXPECT_EQ(hex(sasl::hmac(hash_alg::sha256, "Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hex(sasl::hmac(hash_alg::sha256, "", "")),
              "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    EXPECT_EQ(hex(sasl::hmac(hash_alg::sha512, std::string(200, 'k'), "long key")),
              "b5327f432e261bceec36a6ec6f54e7229bf4744ffc9c480303ddd27e8a22bd19"
              "b87f9e8a89d185de4995df9c735982a221d874c679ab05584a6fe2a165830f89");
  }
}

TEST(scram_crypto, equal_consttime) {
  EXPECT_TRUE(sasl::equal_consttime("", ""));
  EXPECT_TRUE(sasl::equal_consttime("abc", "abc"));
  EXPECT_FALSE(sasl::equal_consttime("abc", "abd"));
  EXPECT_FALSE(sasl::equal_consttime("abc", "ab"));
  EXPECT_FALSE(sasl::equal_consttime("", "a"));
}

TEST(scram_crypto, new_salt_is_random_16_bytes) {
  auto a = sasl::new_salt();
  auto b = sasl::new_salt();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
}

TEST(scram_crypto, rfc5802_keys) {
  // RFC 5802 §3 relations, checked against the independently computed salted password.
  const auto& c = rfc5802_creds();
  EXPECT_EQ(c.alg, hash_alg::sha1);
  EXPECT_EQ(c.iterations, 4096u);
  std::string salted = sasl::salted_password(hash_alg::sha1, "pencil", c.salt, 4096);
  EXPECT_EQ(hex(salted), "1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d");
  EXPECT_EQ(c.stored_key, sasl::hash(hash_alg::sha1, sasl::hmac(hash_alg::sha1, salted, "Client Key")));
  EXPECT_EQ(c.server_key, sasl::hmac(hash_alg::sha1, salted, "Server Key"));
}

TEST(scram_crypto, salted_password_rejects_zero_iterations) {
  EXPECT_THROW(sasl::salted_password(hash_alg::sha256, "p", "s", 0), std::invalid_argument);
}

TEST(scram_saslname, escape_and_unescape) {
  EXPECT_EQ(sasl::escape_saslname("a,b=c"), "a=2Cb=3Dc");
  EXPECT_EQ(sasl::unescape_saslname("a=2Cb=3Dc"), "a,b=c");
  EXPECT_EQ(sasl::unescape_saslname("j\xC3\xBCrgen"), "j\xC3\xBCrgen");
  EXPECT_FALSE(sasl::unescape_saslname(""));
  EXPECT_FALSE(sasl::unescape_saslname("a=2c"));  // escapes are upper-case hex (RFC 5802 §7)
  EXPECT_FALSE(sasl::unescape_saslname("a=41"));
  EXPECT_FALSE(sasl::unescape_saslname("a="));
  EXPECT_FALSE(sasl::unescape_saslname("a=2"));
  EXPECT_FALSE(sasl::unescape_saslname("a,b"));
  EXPECT_FALSE(sasl::unescape_saslname("a\0b"s));
  EXPECT_FALSE(sasl::unescape_saslname("a\xFF"));
  EXPECT_FALSE(sasl::unescape_saslname(std::string(1024, 'a')));
}

TEST(scram_saslname, gs2_header) {
  EXPECT_EQ(sasl::make_gs2_header('n'), "n,,");
  EXPECT_EQ(sasl::make_gs2_header('y'), "y,,");
  EXPECT_EQ(sasl::make_gs2_header('p', "tls-exporter"), "p=tls-exporter,,");
  EXPECT_EQ(sasl::make_gs2_header('n', {}, "ad,min"), "n,a=ad=2Cmin,");
}

// ----------------------------------------------------------------------------------------------
// Test vectors

TEST(scram_vectors, rfc5802_section5_sha1_server) {
  scram_server::options o;
  o.alg = hash_alg::sha1;
  scram_server server(o);
  server.set_server_nonce_for_testing("3rfcNHYJY1ZVvWVs7j");
  ASSERT_FALSE(server.parse_client_first("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"));
  EXPECT_EQ(server.client_first().username, "user");
  EXPECT_EQ(server.client_first().client_nonce, "fyko+d2lbbFgONRv9qkxdawL");
  EXPECT_EQ(server.client_first().gs2_header, "n,,");
  EXPECT_EQ(server.client_first().bare, "n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  EXPECT_EQ(server.server_first(rfc5802_creds()),
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  auto r = server.client_final(
      "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.server_final, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
  EXPECT_EQ(server.scram_error(), "");
}

TEST(scram_vectors, rfc5802_section5_sha1_client) {
  scram_client client(hash_alg::sha1);
  EXPECT_EQ(client.client_first("user", "fyko+d2lbbFgONRv9qkxdawL"),
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  ASSERT_FALSE(client.handle_server_first(
      "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"));
  EXPECT_EQ(client.iterations(), 4096u);
  EXPECT_EQ(base64_encode(client.salt()), "QSXCR+Q6sek8bf92");
  EXPECT_FALSE(client.ssdp_hash());
  EXPECT_EQ(client.client_final_with_password("pencil"),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
  EXPECT_TRUE(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="));
  EXPECT_FALSE(client.verify_server_final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ0"));
  EXPECT_FALSE(client.verify_server_final("v=AmF9pqV8S7suAoZWja4dJRkFsKQ="));
}

TEST(scram_vectors, rfc7677_section3_sha256) {
  auto creds =
      sasl::derive_credentials(hash_alg::sha256, "pencil", b64d("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
  scram_server server(sha256_options());
  server.set_server_nonce_for_testing("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  ASSERT_FALSE(server.parse_client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  EXPECT_EQ(server.server_first(creds),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
            "i=4096");
  const std::string final_msg =
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
  auto r = server.client_final(final_msg);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.server_final, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");

  scram_client client(hash_alg::sha256);
  EXPECT_EQ(client.client_first("user", "rOprNGfwEbeRWgbNEkqO"), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_FALSE(client.handle_server_first(
      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
  EXPECT_EQ(client.client_final_with_password("pencil"), final_msg);
  EXPECT_TRUE(client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
}

TEST(scram_vectors, xep0474_ssdp_input) {
  EXPECT_EQ(sasl::ssdp_input({"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"}, {"tls-server-end-point", "tls-exporter"},
                             true),
            "SCRAM-SHA-1\x1eSCRAM-SHA-1-PLUS\x1ftls-exporter\x1etls-server-end-point");
  // Without XEP-0440 no 0x1F part at all, even when types are passed.
  EXPECT_EQ(sasl::ssdp_input({"SCRAM-SHA-256", "PLAIN", "SCRAM-SHA-1"}, {"tls-exporter"}, false),
            "PLAIN\x1eSCRAM-SHA-1\x1eSCRAM-SHA-256");
  // XEP-0440 element sent but empty: the separator is still appended.
  EXPECT_EQ(sasl::ssdp_input({"SCRAM-SHA-1"}, {}, true), "SCRAM-SHA-1\x1f");
  // i;octet: upper case sorts before lower case, and bytes >= 0x80 after ASCII.
  EXPECT_EQ(sasl::ssdp_input({"b", "\xC3\xA4", "B", "a"}, {}, false), "B\x1e" "a\x1e" "b\x1e\xC3\xA4");
}

// XEP-0474 §"Full Example": SCRAM-SHA-1-PLUS with tls-exporter, an "x" extension before the
// proof and the h attribute for the list below.
TEST(scram_vectors, xep0474_full_example) {
  scram_server::options o;
  o.alg = hash_alg::sha1;
  o.plus = true;
  o.server_supports_plus = true;
  o.cb_types = {"tls-server-end-point", "tls-exporter"};
  o.cb_data = [](std::string_view type) -> std::optional<std::string> {
    if (type == "tls-exporter") return "THIS IS FAKE CB DATA"s;
    return std::nullopt;
  };
  o.advertised_mechanisms = {"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"};
  o.advertised_cb_types = true;
  scram_server server(o);
  server.set_server_nonce_for_testing("a09117a6-ac50-4f2f-93f1-93799c2bddf6");
  ASSERT_FALSE(server.parse_client_first(
      b64d("cD10bHMtZXhwb3J0ZXIsLG49dXNlcixyPTEyQzRDRDVDLUUzOEUtNEE5OC04RjZELTE1QzM4RjUxQ0NDNg==")));
  EXPECT_EQ(server.client_first().cb_flag, 'p');
  EXPECT_EQ(server.client_first().cb_type, "tls-exporter");
  EXPECT_EQ(server.server_first(rfc5802_creds()),
            "r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,"
            "s=QSXCR+Q6sek8bf92,i=4096,h=G6k/rBLDqgOhRRaCuuatSDFkJ08=");
  const std::string final_msg = b64d(
      "Yz1jRDEwYkhNdFpYaHdiM0owWlhJc0xGUklTVk1nU1ZNZ1JrRkxSU0JEUWlCRVFWUkIscj0xMkM0Q0Q1Qy1FMzhFLT"
      "RBOTgtOEY2RC0xNUMzOEY1MUNDQzZhMDkxMTdhNi1hYzUwLTRmMmYtOTNmMS05Mzc5OWMyYmRkZjYseD0xOUM2NTMy"
      "Ri0xQ0Y0LTRBMjctQTE4RC1EQzlDRUE0MUJCQjMscD1NL1NJRGpUK2RmY3hVaDg5alpFeXBSdkZ4QjQ9");
  auto r = server.client_final(final_msg);
  EXPECT_FALSE(r.error) << server.scram_error();
  EXPECT_EQ(r.server_final, "v=MQrMPvv7yv4x4Cq4W4Ih25EqS2c=");

  // The client side of the same example, including the SSDP verification.
  scram_client client(hash_alg::sha1);
  client.client_first("user", "12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6",
                      sasl::make_gs2_header('p', "tls-exporter"));
  ASSERT_FALSE(client.handle_server_first(
      "r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6a09117a6-ac50-4f2f-93f1-93799c2bddf6,"
      "s=QSXCR+Q6sek8bf92,i=4096,h=G6k/rBLDqgOhRRaCuuatSDFkJ08="));
  ASSERT_TRUE(client.ssdp_hash());
  EXPECT_TRUE(client.ssdp_matches({"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
                                  {"tls-exporter", "tls-server-end-point"}, true));
  // A MITM that stripped tls-exporter from the advertised list is detected.
  EXPECT_FALSE(client.ssdp_matches({"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"}, {"tls-server-end-point"}, true));
  EXPECT_FALSE(client.ssdp_matches({"SCRAM-SHA-1"}, {"tls-exporter", "tls-server-end-point"}, true));
  auto salted = sasl::salted_password(hash_alg::sha1, "pencil", client.salt(), client.iterations());
  EXPECT_EQ(client.client_final(salted, "THIS IS FAKE CB DATA", "x=19C6532F-1CF4-4A27-A18D-DC9CEA41BBB3"),
            final_msg);
  EXPECT_TRUE(client.verify_server_final("v=MQrMPvv7yv4x4Cq4W4Ih25EqS2c="));
}

TEST(scram_vectors, no_h_attribute_without_advertised_mechanisms) {
  scram_server server(sha256_options());
  std::string sf = start(server, "n,,n=user,r=abc", sha256_creds());
  EXPECT_EQ(sf.find(",h="), std::string::npos);
}

TEST(scram_vectors, h_attribute_without_xep0440) {
  auto o = sha256_options();
  o.advertised_mechanisms = {"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"};
  o.cb_types = {"tls-exporter"};  // offered internally, but not advertised with XEP-0440
  scram_server server(o);
  std::string sf = start(server, "n,,n=user,r=abc", sha256_creds());
  std::string expect =
      ",h=" + base64_encode(sasl::hash(hash_alg::sha256, "PLAIN\x1eSCRAM-SHA-1\x1eSCRAM-SHA-256"));
  ASSERT_GE(sf.size(), expect.size());
  EXPECT_EQ(sf.substr(sf.size() - expect.size()), expect);
}

// ----------------------------------------------------------------------------------------------
// Round trips

TEST(scram_round_trip, sha512_with_cached_salted_password) {
  auto creds = sasl::derive_credentials(hash_alg::sha512, "hunter2", sasl::new_salt(), test_iterations);
  std::string cached;
  std::set<std::string> server_firsts;
  for (int i = 0; i < 3; ++i) {
    scram_server::options o;
    o.alg = hash_alg::sha512;
    o.advertised_mechanisms = {"SCRAM-SHA-512", "SCRAM-SHA-256"};
    scram_server server(o);
    scram_client client(hash_alg::sha512);
    std::string first = client.client_first("romeo");
    std::string sf = start(server, first, creds);
    server_firsts.insert(sf);
    ASSERT_FALSE(client.handle_server_first(sf));
    EXPECT_TRUE(client.ssdp_matches({"SCRAM-SHA-256", "SCRAM-SHA-512"}, {}, false));
    // Reconnects reuse the SaltedPassword: PBKDF2 only runs once.
    if (cached.empty())
      cached = sasl::salted_password(hash_alg::sha512, "hunter2", client.salt(), client.iterations());
    auto r = server.client_final(client.client_final(cached));
    ASSERT_FALSE(r.error) << server.scram_error();
    EXPECT_TRUE(client.verify_server_final(r.server_final));
  }
  EXPECT_EQ(server_firsts.size(), 3u);  // fresh nonces every time
}

TEST(scram_round_trip, server_nonce_is_24_printable_chars_appended) {
  scram_server server(sha256_options());
  std::string sf = start(server, "n,,n=user,r=clientnonce", sha256_creds());
  ASSERT_EQ(sf.rfind("r=clientnonce", 0), 0u);
  std::string nonce = sf.substr(2, sf.find(',') - 2);
  EXPECT_EQ(nonce.size(), "clientnonce"s.size() + 24);
  for (char c : nonce) EXPECT_TRUE(c >= 0x21 && c <= 0x7e && c != ',');
}

TEST(scram_round_trip, username_and_authzid_escapes_and_extensions) {
  scram_server server(sha256_options());
  ASSERT_FALSE(server.parse_client_first("n,a=admin=2Cx=3D,n=ju=2Cli=3Det,r=abc,x=ignored,y=v=w"));
  EXPECT_EQ(server.client_first().username, "ju,li=et");
  EXPECT_EQ(server.client_first().authzid, "admin,x=");
  EXPECT_EQ(server.client_first().gs2_header, "n,a=admin=2Cx=3D,");
  EXPECT_EQ(server.client_first().bare, "n=ju=2Cli=3Det,r=abc,x=ignored,y=v=w");
}

TEST(scram_round_trip, y_flag_accepted_when_no_plus_offered) {
  exchange ex("secret", "y,,");
  auto r = ex.server.client_final(ex.client_final);
  EXPECT_FALSE(r.error) << ex.server.scram_error();
  EXPECT_TRUE(ex.client.verify_server_final(r.server_final));
}

TEST(scram_round_trip, plus_with_tls_exporter) {
  exchange ex("secret", "p=tls-exporter,,", plus_options(), exporter_data);
  auto r = ex.server.client_final(ex.client_final);
  ASSERT_FALSE(r.error) << ex.server.scram_error();
  EXPECT_TRUE(ex.client.verify_server_final(r.server_final));
  EXPECT_EQ(ex.server.client_first().cb_type, "tls-exporter");
}

TEST(scram_round_trip, plus_with_tls_server_end_point_and_authzid) {
  exchange ex("secret", sasl::make_gs2_header('p', "tls-server-end-point", "admin@example.org"),
              plus_options(), endpoint_data);
  auto r = ex.server.client_final(ex.client_final);
  ASSERT_FALSE(r.error) << ex.server.scram_error();
  EXPECT_EQ(ex.server.client_first().authzid, "admin@example.org");
}

TEST(scram_round_trip, extensions_before_proof_are_ignored) {
  scram_server server(sha256_options());
  scram_client client(hash_alg::sha256);
  std::string sf = start(server, client.client_first("juliet"), sha256_creds());
  ASSERT_FALSE(client.handle_server_first(sf));
  auto salted = sasl::salted_password(hash_alg::sha256, "secret", client.salt(), client.iterations());
  auto r = server.client_final(client.client_final(salted, {}, "x=1,q=a=b"));
  ASSERT_FALSE(r.error) << server.scram_error();
  EXPECT_TRUE(client.verify_server_final(r.server_final));
}

// ----------------------------------------------------------------------------------------------
// Failures in step 3

TEST(scram_failure, wrong_password) {
  exchange ex("wrong");
  expect_failure(ex.server.client_final(ex.client_final), failure::not_authorized, "invalid-proof",
                 ex.server);
}

TEST(scram_failure, unknown_user_indistinguishable_until_the_end) {
  // The fake challenge has the same shape as a real one: same salt size, configured iterations,
  // h attribute, and a salt that is stable per username.
  auto opts = sha256_options();
  opts.unknown_user_iterations = test_iterations;
  opts.advertised_mechanisms = {"SCRAM-SHA-256"};
  auto challenge = [&](std::string_view user, const std::optional<scram_credentials>& creds) {
    scram_server server(opts);
    server.set_server_nonce_for_testing("S");
    return start(server, "n,,n=" + std::string(user) + ",r=c", creds);
  };
  std::string real = challenge("juliet", sha256_creds());
  std::string fake = challenge("nobody", std::nullopt);
  auto shape = [](std::string s) {
    // Replace the salt by its decoded length.
    size_t a = s.find(",s=") + 3, b = s.find(',', a);
    return s.substr(0, a) + std::to_string(b64d(s.substr(a, b - a)).size()) + s.substr(b);
  };
  EXPECT_EQ(shape(real), shape(fake));
  EXPECT_EQ(challenge("nobody", std::nullopt), fake);                // deterministic
  EXPECT_NE(challenge("nobody2", std::nullopt), fake);               // per username
  auto other_alg = opts;
  other_alg.alg = hash_alg::sha1;
  {
    scram_server s1(other_alg);
    s1.set_server_nonce_for_testing("S");
    EXPECT_NE(start(s1, "n,,n=nobody,r=c", std::nullopt), fake);     // per mechanism
  }
  // A configured key makes it reproducible across processes (clusters).
  opts.unknown_user_salt_key = "cluster key";
  std::string keyed = challenge("nobody", std::nullopt);
  EXPECT_NE(keyed, fake);
  EXPECT_EQ(keyed.substr(keyed.find(",s=") + 3, 24),
            base64_encode(sasl::hmac(hash_alg::sha256, "cluster key", "SHA-256\0nobody"s).substr(0, 16)));

  // With the prepared account name, case variants of an unknown user get the same salt, just
  // as a real account found through PRECIS case mapping would.
  auto keyed_challenge = [&](std::string_view user, std::string_view account) {
    scram_server server(opts);
    server.set_server_nonce_for_testing("S");
    EXPECT_FALSE(server.parse_client_first("n,,n=" + std::string(user) + ",r=c"));
    std::string sf = server.server_first(std::nullopt, account);
    return sf.substr(sf.find(",s="));
  };
  EXPECT_EQ(keyed_challenge("Nobody", "nobody@example.org"),
            keyed_challenge("nobody", "nobody@example.org"));
  EXPECT_NE(keyed_challenge("nobody", "nobody@example.org"),
            keyed_challenge("nobody", "nobody@example.net"));

  // The exchange runs to the end and fails only at the proof, exactly like a wrong password.
  exchange ex("secret", "n,,", sha256_options(), {}, std::nullopt);
  expect_failure(ex.server.client_final(ex.client_final), failure::not_authorized, "invalid-proof",
                 ex.server);
}

TEST(scram_failure, wrong_nonce) {
  exchange ex;
  std::string msg = ex.client_final;
  size_t r = msg.find(",r=") + 3;
  msg[r + 5] = msg[r + 5] == 'A' ? 'B' : 'A';  // inside the client part of the nonce
  expect_failure(ex.server.client_final(msg), failure::not_authorized, "other-error", ex.server);
}

TEST(scram_failure, truncated_nonce) {
  exchange ex;
  std::string msg = ex.client_final;
  size_t r = msg.find(",r=") + 3;
  msg.erase(msg.find(',', r) - 1, 1);
  expect_failure(ex.server.client_final(msg), failure::not_authorized, "other-error", ex.server);
}

TEST(scram_failure, wrong_channel_binding_header) {
  // The client said "n" but claims "y" in c=: the gs2 header was tampered with.
  exchange ex;
  std::string msg = ex.client_final;
  ASSERT_EQ(msg.rfind("c=biws,", 0), 0u);
  msg.replace(0, 6, "c=eSws");
  expect_failure(ex.server.client_final(msg), failure::not_authorized,
                 "channel-bindings-dont-match", ex.server);
}

TEST(scram_failure, wrong_channel_binding_data) {
  // A MITM terminating TLS: the client's exporter value differs from the server's.
  exchange ex("secret", "p=tls-exporter,,", plus_options(), "other connection's exporter");
  expect_failure(ex.server.client_final(ex.client_final), failure::not_authorized,
                 "channel-bindings-dont-match", ex.server);
}

TEST(scram_failure, channel_binding_data_of_other_type) {
  exchange ex("secret", "p=tls-exporter,,", plus_options(), endpoint_data);
  expect_failure(ex.server.client_final(ex.client_final), failure::not_authorized,
                 "channel-bindings-dont-match", ex.server);
}

TEST(scram_failure, bad_base64) {
  for (auto mutate : {+[](std::string& m) { m.replace(2, 4, "b!ws"); },
                      +[](std::string& m) { m.replace(2, 4, "biw"); },
                      +[](std::string& m) { m.insert(m.find(",p=") + 3, " "); },
                      +[](std::string& m) { m.pop_back(); }}) {
    exchange ex;
    std::string msg = ex.client_final;
    mutate(msg);
    expect_failure(ex.server.client_final(msg), failure::incorrect_encoding, "invalid-encoding",
                   ex.server);
  }
}

TEST(scram_failure, proof_of_wrong_length) {
  exchange ex;
  std::string msg = ex.client_final.substr(0, ex.client_final.find(",p=")) + ",p=" +
                    base64_encode(std::string(20, 'x'));
  expect_failure(ex.server.client_final(msg), failure::not_authorized, "invalid-proof", ex.server);
}

TEST(scram_failure, malformed_client_final) {
  exchange probe;
  const std::string good = probe.client_final;
  const std::string c = good.substr(0, good.find(','));
  const std::string r = good.substr(c.size() + 1, good.find(",p=") - c.size() - 1);
  const std::string p = good.substr(good.find(",p=") + 1);
  const std::vector<std::string> cases = {
      "",
      c,
      c + "," + r,                          // no proof
      c + "," + p,                          // no nonce
      r + "," + p,                          // no channel binding
      r + "," + c + "," + p,                // wrong order
      c + "," + r + "," + p + ",x=1",       // proof not last
      c + "," + r + ",," + p,               // empty attribute
      c + "," + r + ",1=x," + p,            // extension name not ALPHA
      c + "," + r + ",x=," + p,             // empty extension value
      c + "," + r + ",xx=1," + p,           // multi-letter attribute name
      c + "," + r + ",x=\xff," + p,         // not UTF-8
      "c=," + r + "," + p,                  // empty c=
      c + ",r=," + p,                       // empty r=
      c + "," + r + ",p=",                  // empty p=
      c + "," + r + "," + p + ",",
  };
  for (const auto& msg : cases) {
    exchange ex;
    auto res = ex.server.client_final(msg);
    ASSERT_TRUE(res.error) << msg;
    EXPECT_EQ(*res.error, failure::malformed_request) << msg;
  }
}

TEST(scram_failure, one_attempt_per_exchange) {
  exchange ex;
  auto first = ex.server.client_final("garbage");
  ASSERT_TRUE(first.error);
  // Even the correct message is refused afterwards: no online guessing within one exchange.
  auto second = ex.server.client_final(ex.client_final);
  ASSERT_TRUE(second.error);
  EXPECT_EQ(*second.error, failure::malformed_request);
}

TEST(scram_failure, success_is_final) {
  exchange ex;
  ASSERT_FALSE(ex.server.client_final(ex.client_final).error);
  EXPECT_TRUE(ex.server.client_final(ex.client_final).error);
}

TEST(scram_failure, client_final_before_server_first) {
  scram_server server(sha256_options());
  EXPECT_TRUE(server.client_final("c=biws,r=abc,p=AAAA").error);
  scram_server server2(sha256_options());
  ASSERT_FALSE(server2.parse_client_first("n,,n=u,r=abc"));
  EXPECT_TRUE(server2.client_final("c=biws,r=abc,p=AAAA").error);
}

// ----------------------------------------------------------------------------------------------
// Failures in step 1

namespace {
struct first_case {
  std::string msg;
  failure expected;
  std::string scram_error;
};

void check_first(const scram_server::options& o, const first_case& c) {
  scram_server server(o);
  auto err = server.parse_client_first(c.msg);
  ASSERT_TRUE(err) << c.msg;
  EXPECT_EQ(to_string(*err), to_string(c.expected)) << c.msg;
  EXPECT_EQ(server.scram_error(), c.scram_error) << c.msg;
  // The exchange is over: nothing more is accepted.
  EXPECT_THROW(server.server_first(sha256_creds()), std::logic_error);
}
}  // namespace

TEST(scram_failure, malformed_client_first) {
  const std::vector<std::string> cases = {
      "",
      "n",
      "n,",
      "n,,",
      "x,,n=user,r=abc",            // unknown gs2-cbind-flag
      "N,,n=user,r=abc",
      "nn,,n=user,r=abc",
      "p,,n=user,r=abc",            // p without =name
      "p=,,n=user,r=abc",           // empty cb-name
      "p=tls exporter,,n=user,r=abc",
      "p=tls_exporter,,n=user,r=abc",
      "n,b=x,n=user,r=abc",         // authzid must be a=
      "n,,r=abc,n=user",            // wrong order
      "n,,n=user",                  // no nonce
      "n,,r=abc",                   // no username
      "n,,n=user,r=",               // empty nonce
      "n,,n=user,r=ab\x7f",         // nonce not printable
      "n,,n=user,r=ab c",
      "n,,n=user,r=abc,",           // empty extension
      "n,,n=user,r=abc,1=x",        // extension name not ALPHA
      "n,,n=user,r=abc,x=",         // empty extension value
      "n,,n=user,r=abc,x",
      "n,,u=user,r=abc",
      "n,,n=user,r=abc,x=\xc3",     // extension not UTF-8
      "n,,n=user,r=" + std::string(1024, 'a'),  // nonce too long
  };
  for (const auto& m : cases)
    check_first(sha256_options(), {m, failure::malformed_request, "invalid-encoding"});
}

TEST(scram_failure, bad_saslname_escape) {
  for (std::string m : {"n,,n=us=2cer,r=abc", "n,,n=us=er,r=abc", "n,,n=user=,r=abc",
                        "n,,n=user=2,r=abc", "n,,n=us=41er,r=abc", "n,,n=,r=abc",
                        "n,,n=us\xffr,r=abc", "n,a=ad=min,n=user,r=abc", "n,a=,n=user,r=abc"})
    check_first(sha256_options(), {m, failure::malformed_request, "invalid-username-encoding"});
  check_first(sha256_options(),
              {"n,,n=us\0er,r=abc"s, failure::malformed_request, "invalid-username-encoding"});
}

TEST(scram_failure, reserved_m_extension) {
  check_first(sha256_options(),
              {"n,,m=future,n=user,r=abc", failure::malformed_request, "extensions-not-supported"});
}

TEST(scram_failure, y_flag_when_server_supports_plus) {
  auto o = sha256_options();
  o.server_supports_plus = true;
  check_first(o, {"y,,n=user,r=abc", failure::not_authorized, "server-does-support-channel-binding"});
  // 'n' is fine: the client simply does not do channel binding.
  scram_server server(o);
  EXPECT_FALSE(server.parse_client_first("n,,n=user,r=abc"));
}

TEST(scram_failure, p_flag_on_non_plus_mechanism) {
  auto o = plus_options();
  o.plus = false;  // SCRAM-SHA-256 selected although -PLUS was offered
  check_first(o, {"p=tls-exporter,,n=user,r=abc", failure::malformed_request,
                  "channel-binding-not-supported"});
}

TEST(scram_failure, plus_mechanism_without_channel_binding) {
  check_first(plus_options(), {"n,,n=user,r=abc", failure::malformed_request, "other-error"});
  check_first(plus_options(), {"y,,n=user,r=abc", failure::malformed_request, "other-error"});
}

TEST(scram_failure, plus_with_unsupported_cb_type) {
  check_first(plus_options(), {"p=tls-unique,,n=user,r=abc", failure::not_authorized,
                               "unsupported-channel-binding-type"});
  auto o = plus_options();
  o.cb_types.clear();  // e.g. the connection offers no channel binding at all
  check_first(o, {"p=tls-exporter,,n=user,r=abc", failure::not_authorized,
                  "unsupported-channel-binding-type"});
}

TEST(scram_failure, plus_when_cb_data_unavailable) {
  auto o = plus_options();
  o.cb_data = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  check_first(o, {"p=tls-exporter,,n=user,r=abc", failure::not_authorized,
                  "channel-binding-not-supported"});
  o.cb_data = nullptr;
  check_first(o, {"p=tls-exporter,,n=user,r=abc", failure::not_authorized,
                  "channel-binding-not-supported"});
}

TEST(scram_failure, parse_client_first_twice) {
  scram_server server(sha256_options());
  ASSERT_FALSE(server.parse_client_first("n,,n=user,r=abc"));
  EXPECT_TRUE(server.parse_client_first("n,,n=user,r=abc"));
}

TEST(scram_misuse, server_first_checks_credentials) {
  scram_server server(sha256_options());
  EXPECT_THROW(server.server_first(sha256_creds()), std::logic_error);  // before step 1
  ASSERT_FALSE(server.parse_client_first("n,,n=user,r=abc"));
  EXPECT_THROW(server.server_first(rfc5802_creds()), std::logic_error);  // SHA-1 for SHA-256
}

// ----------------------------------------------------------------------------------------------
// scram_client parsing of server messages

TEST(scram_client_parse, server_first_validation) {
  auto check = [](std::string_view sf) {
    scram_client c(hash_alg::sha256);
    c.client_first("user", "abc");
    return c.handle_server_first(sf);
  };
  EXPECT_FALSE(check("r=abcdef,s=c2FsdA==,i=4096"));
  EXPECT_FALSE(check("r=abcdef,s=c2FsdA==,i=1,x=ext"));
  EXPECT_EQ(check("r=abc,s=c2FsdA==,i=4096"), failure::malformed_request);      // not extended
  EXPECT_EQ(check("r=xbcdef,s=c2FsdA==,i=4096"), failure::malformed_request);   // not our prefix
  EXPECT_EQ(check("m=x,r=abcdef,s=c2FsdA==,i=4096"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA=,i=4096"), failure::incorrect_encoding);
  EXPECT_EQ(check("r=abcdef,s=,i=4096"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=0"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=04096"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=-1"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=4096x"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=99999999999"), failure::malformed_request);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=10000001"), failure::malformed_request);  // too costly
  EXPECT_EQ(check("r=abcdef,s=c2FsdA==,i=4096,h=!!"), failure::incorrect_encoding);
  EXPECT_EQ(check("r=abcdef,s=c2FsdA=="), failure::malformed_request);
  EXPECT_EQ(check(""), failure::malformed_request);
}

TEST(scram_client_parse, server_final_error) {
  exchange ex("wrong");
  EXPECT_FALSE(ex.client.verify_server_final("e=invalid-proof"));
  EXPECT_EQ(ex.client.server_error(), "invalid-proof");
  EXPECT_FALSE(ex.client.verify_server_final(""));
  EXPECT_FALSE(ex.client.verify_server_final("v=!!!!"));
}
