#include "config/domain_name.hpp"

#include <arpa/inet.h>


#include "precis/precis.hpp"

namespace starling::config {

bool parse_ip_literal(std::string_view domain, std::string& address_bytes) {
  unsigned char buf[16];
  if (domain.size() > 2 && domain.front() == '[' && domain.back() == ']') {
    std::string inner(domain.substr(1, domain.size() - 2));
    if (inet_pton(AF_INET6, inner.c_str(), buf) != 1) return false;
    address_bytes.assign(reinterpret_cast<char*>(buf), 16);
    return true;
  }
  std::string s(domain);
  if (inet_pton(AF_INET, s.c_str(), buf) != 1) return false;
  address_bytes.assign(reinterpret_cast<char*>(buf), 4);
  return true;
}

// RFC 7622 §3.2 preparation, the same the JID type applies, so that a configured host and
// the 'to' of a stream compare equal.
std::optional<std::string> prepare_domain(std::string_view in) { return precis::domain(in); }

std::optional<std::string> domain_to_ascii(std::string_view prepared) { return precis::domain_to_ascii(prepared); }

}  // namespace starling::config
