#pragma once
// Credentials for XEP-0215 external services: fixed ones from the configuration, or temporary
// TURN REST credentials (draft-uberti-behave-turn-rest §2.2, coturn's use-auth-secret):
//   username = "<expiry unix seconds>:<user>"
//   password = base64(HMAC-SHA1(secret, username))
// The TURN server recomputes the password with the shared secret and rejects expired names.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.hpp"

namespace starling::modules {

struct service_credentials {
  std::string username;
  std::string password;
  std::optional<int64_t> expires;  // unix seconds, temporary credentials only
};

service_credentials credentials_for(const config::external_service& s, const std::string& user, int64_t now);
int64_t unix_now();

}  // namespace starling::modules
