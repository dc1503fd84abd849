// prepare_password: PRECIS OpaqueString (RFC 8265 §4.2) before SCRAM/PLAIN hashing.
#include <gtest/gtest.h>

#include "sasl/scram.hpp"

using starling::sasl::prepare_password;

TEST(prepare_password, ascii_unchanged) {
  EXPECT_EQ(prepare_password("pencil"), "pencil");
  EXPECT_EQ(prepare_password("Correct Horse"), "Correct Horse");
}

TEST(prepare_password, width_and_space_mapping) {
  // RFC 8265 §4.2.1: non-ASCII spaces map to U+0020; NFC applies (e + combining acute -> é).
  EXPECT_EQ(prepare_password("a\xC2\xA0" "b"), "a b");
  EXPECT_EQ(prepare_password("e\xCC\x81"), "\xC3\xA9");
}

TEST(prepare_password, disallowed) {
  EXPECT_FALSE(prepare_password(""));
  EXPECT_FALSE(prepare_password("tab\there"));  // control character
}
