// XEP-0215 credentials: fixed and TURN REST (coturn use-auth-secret). The expected password was
// computed independently with Python's hmac/hashlib/base64.
#include <gtest/gtest.h>

#include "modules/extdisco/extdisco_credentials.hpp"
#include "proto/data_form.hpp"

using namespace starling;
using namespace starling::modules;

TEST(extdisco, turn_rest_credentials) {
  config::external_service s;
  s.type = "turn";
  s.host = "turn.example.org";
  s.secret = "shared-secret";
  s.credential_lifetime = std::chrono::seconds(600);
  auto c = credentials_for(s, "alice@localhost", 1700000000);
  EXPECT_EQ(c.username, "1700000600:alice@localhost");
  EXPECT_EQ(c.password, "JMB4Gm/ou01YUUK9FB51CekQ9Rg=");
  ASSERT_TRUE(c.expires);
  EXPECT_EQ(*c.expires, 1700000600);
  EXPECT_EQ(proto::format_xep0082_datetime(*c.expires * 1000000), "2023-11-14T22:23:20Z");
}

TEST(extdisco, fixed_credentials) {
  config::external_service s;
  s.username = "u";
  s.password = "p";
  auto c = credentials_for(s, "alice@localhost", 1700000000);
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_FALSE(c.expires);
}
