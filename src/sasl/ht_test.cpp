// Hashed Token mechanism (draft-schmaus-kitten-sasl-ht) as used by XEP-0484 FAST. Expected
// values computed independently with Python's hmac/hashlib.
#include <gtest/gtest.h>

#include "sasl/ht.hpp"

using namespace starling::sasl;

namespace {
std::string hex(std::string_view raw) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}
}  // namespace

TEST(HashedToken, MechanismNames) {
  auto none = parse_ht_mechanism("HT-SHA-256-NONE");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->cb_type, "");
  EXPECT_EQ(parse_ht_mechanism("HT-SHA-256-EXPR")->cb_type, "tls-exporter");
  EXPECT_EQ(parse_ht_mechanism("HT-SHA-256-ENDP")->cb_type, "tls-server-end-point");
  EXPECT_EQ(parse_ht_mechanism("HT-SHA-256-UNIQ")->cb_type, "tls-unique");
  EXPECT_FALSE(parse_ht_mechanism("HT-SHA-256-FOO"));
  EXPECT_FALSE(parse_ht_mechanism("HT-SHA-512-NONE"));
  EXPECT_FALSE(parse_ht_mechanism("ht-sha-256-none"));
  EXPECT_FALSE(parse_ht_mechanism("SCRAM-SHA-256"));
  EXPECT_EQ(ht_mechanism_name(*parse_ht_mechanism("HT-SHA-256-ENDP")), "HT-SHA-256-ENDP");
}

TEST(HashedToken, InitialResponseShape) {
  auto r = parse_ht_initial(std::string("juliet\0\x01\x02", 9));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->authcid, "juliet");
  EXPECT_EQ(r->initiator_hash, std::string("\x01\x02", 2));
  EXPECT_FALSE(parse_ht_initial("juliet"));                      // no NUL
  EXPECT_FALSE(parse_ht_initial(std::string("\0abc", 4)));       // empty authcid
}

TEST(HashedToken, HmacValues) {
  // HMAC-SHA-256(b"short-token", b"Responder" + b"\x01\x02")
  EXPECT_EQ(hex(ht_responder(hash_alg::sha256, "short-token", "\x01\x02")),
            "bce2bab9fa14c7f3e5e332ed48029c290ba42c6a62fe4f299d5c977e6230d2d4");
}

TEST(HashedToken, StoredKeyIsEquivalentForLongTokens) {
  // RFC 2104 §2: keys longer than the block size are hashed first, so the server can keep
  // SHA-256(token) instead of the token. HMAC-SHA-256(b"T" * 80, b"Initiator"):
  const std::string token(80, 'T');
  ASSERT_GE(token.size(), ht_min_token_length(hash_alg::sha256));
  const std::string expected = "bff422da13a74e805de64a81ce66d6b5cd14543bde1b13287377e713a2cbdec2";
  EXPECT_EQ(hex(ht_initiator(hash_alg::sha256, token, "")), expected);
  EXPECT_EQ(hex(ht_initiator(hash_alg::sha256, ht_key(hash_alg::sha256, token), "")), expected);
  // Channel-binding data changes the value.
  EXPECT_NE(hex(ht_initiator(hash_alg::sha256, token, "cb")), expected);
}
