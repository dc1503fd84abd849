// RFC 6120 §6.5 failure names and RFC 4616 PLAIN parsing.
#include "sasl/sasl.hpp"

#include <gtest/gtest.h>

#include "sasl/utf8.hpp"

using namespace std::string_literals;
using starling::sasl::failure;
using starling::sasl::parse_plain;

TEST(sasl_failure, rfc6120_6_5_element_names) {
  EXPECT_EQ(to_string(failure::aborted), "aborted");
  EXPECT_EQ(to_string(failure::account_disabled), "account-disabled");
  EXPECT_EQ(to_string(failure::credentials_expired), "credentials-expired");
  EXPECT_EQ(to_string(failure::encryption_required), "encryption-required");
  EXPECT_EQ(to_string(failure::incorrect_encoding), "incorrect-encoding");
  EXPECT_EQ(to_string(failure::invalid_authzid), "invalid-authzid");
  EXPECT_EQ(to_string(failure::invalid_mechanism), "invalid-mechanism");
  EXPECT_EQ(to_string(failure::malformed_request), "malformed-request");
  EXPECT_EQ(to_string(failure::mechanism_too_weak), "mechanism-too-weak");
  EXPECT_EQ(to_string(failure::not_authorized), "not-authorized");
  EXPECT_EQ(to_string(failure::temporary_auth_failure), "temporary-auth-failure");
}

TEST(plain, rfc4616_without_authzid) {
  auto m = parse_plain("\0tim\0tanstaaftanstaaf"s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->authzid, "");
  EXPECT_EQ(m->authcid, "tim");
  EXPECT_EQ(m->password, "tanstaaftanstaaf");
}

TEST(plain, rfc4616_with_authzid) {
  auto m = parse_plain("Ursel\0Kurt\0xipj3plmq"s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->authzid, "Ursel");
  EXPECT_EQ(m->authcid, "Kurt");
  EXPECT_EQ(m->password, "xipj3plmq");
}

TEST(plain, utf8_fields_accepted) {
  auto m = parse_plain("\0j\xC3\xBCrgen\0p\xE2\x82\xAC\xF0\x9F\x94\x91"s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->authcid, "j\xC3\xBCrgen");
}

TEST(plain, wrong_number_of_nuls) {
  EXPECT_FALSE(parse_plain(""));
  EXPECT_FALSE(parse_plain("user"));
  EXPECT_FALSE(parse_plain("\0user"s));
  EXPECT_FALSE(parse_plain("\0user\0pass\0"s));
  EXPECT_FALSE(parse_plain("a\0user\0pa\0ss"s));
}

TEST(plain, empty_authcid_or_password) {
  EXPECT_FALSE(parse_plain("\0\0pass"s));
  EXPECT_FALSE(parse_plain("\0user\0"s));
  EXPECT_FALSE(parse_plain("\0\0"s));
}

TEST(plain, field_length_bound) {
  std::string ok(1023, 'x');
  EXPECT_TRUE(parse_plain("\0"s + ok + "\0"s + ok));
  EXPECT_TRUE(parse_plain(ok + "\0u\0p"s));
  std::string too_long(1024, 'x');
  EXPECT_FALSE(parse_plain("\0"s + too_long + "\0pass"s));
  EXPECT_FALSE(parse_plain("\0user\0"s + too_long));
  EXPECT_FALSE(parse_plain(too_long + "\0user\0pass"s));
}

TEST(plain, invalid_utf8_rejected) {
  EXPECT_FALSE(parse_plain("\0us\xFF" "er\0pass"s));        // invalid byte
  EXPECT_FALSE(parse_plain("\0user\0pa\xC3"s));             // truncated sequence
  EXPECT_FALSE(parse_plain("\xC0\xAF\0user\0pass"s));       // overlong '/'
  EXPECT_FALSE(parse_plain("\0user\0\xED\xA0\x80"s));       // surrogate U+D800
  EXPECT_FALSE(parse_plain("\0user\0\xF4\x90\x80\x80"s));   // above U+10FFFF
}

TEST(utf8, boundaries) {
  using starling::sasl::is_valid_utf8;
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("\x7F"));
  EXPECT_TRUE(is_valid_utf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));         // overlong
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));     // overlong
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF")); // overlong
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x28\xA1"));
}
