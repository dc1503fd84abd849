// XEP-0215 service credentials (see extdisco_credentials.hpp).
#include "modules/extdisco/extdisco_credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "util/base64.hpp"

namespace starling::modules {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

service_credentials credentials_for(const config::external_service& s, const std::string& user, int64_t now) {
  service_credentials c;
  if (s.secret.empty()) {
    c.username = s.username;
    c.password = s.password;
    return c;
  }
  const int64_t expiry = now + s.credential_lifetime.count();
  c.username = std::to_string(expiry) + ":" + user;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // SHA-1 because that is what coturn (and the TURN REST draft) use for these passwords.
  if (!HMAC(EVP_sha1(), s.secret.data(), static_cast<int>(s.secret.size()),
            reinterpret_cast<const unsigned char*>(c.username.data()), c.username.size(), mac, &len))
    throw std::runtime_error("HMAC-SHA1 failed");
  c.password = util::base64_encode(std::string_view(reinterpret_cast<const char*>(mac), len));
  c.expires = expiry;
  return c;
}

}  // namespace starling::modules
