#pragma once
// XMPP addresses (RFC 7622): localpart@domainpart/resourcepart, each part prepared and enforced
// with its PRECIS profile, each part at most 1023 octets (RFC 7622 §3.1).
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace starling {

class jid {
 public:
  jid() = default;
  // Parses and enforces (RFC 7622 §3.1 splitting rules, then §3.2-3.4 per part). nullopt for
  // any invalid address: callers answer <jid-malformed/>.
  static std::optional<jid> parse(std::string_view text);
  // Builds from separate parts, each enforced; an empty local/resource means "absent".
  static std::optional<jid> from_parts(std::string_view local, std::string_view domain,
                                       std::string_view resource = {});

  // Per-part preparation and enforcement (RFC 7622 §3.2-3.4, including the extra localpart
  // exclusions of §3.3.1 and the 1..1023-octet bound of §3.1); nullopt when invalid or empty.
  // For callers that hold one part alone, e.g. a registration username or a resource to bind.
  static std::optional<std::string> enforce_localpart(std::string_view in);
  static std::optional<std::string> enforce_domainpart(std::string_view in);
  static std::optional<std::string> enforce_resourcepart(std::string_view in);

  const std::string& local() const { return local_; }
  const std::string& domain() const { return domain_; }
  const std::string& resource() const { return resource_; }
  bool has_local() const { return !local_.empty(); }
  bool has_resource() const { return !resource_.empty(); }
  bool is_bare() const { return resource_.empty(); }
  bool is_domain() const { return local_.empty() && resource_.empty(); }
  bool empty() const { return domain_.empty(); }

  jid bare() const;
  jid with_resource(std::string_view enforced_resource) const;  // resource already enforced
  std::string str() const;       // full form
  std::string bare_str() const;  // local@domain or domain
  // The bare form written into the caller's buffer (replacing its content), for hot look-ups
  // that keep one buffer per thread and so allocate nothing per call (issue 6). Each caller
  // owns its buffer, so a key held across other calls is never overwritten under it.
  const std::string& bare_into(std::string& buf) const;

  bool operator==(const jid&) const = default;
  auto operator<=>(const jid&) const = default;

 private:
  std::string local_;
  std::string domain_;
  std::string resource_;
};

}  // namespace starling

template <>
struct std::hash<starling::jid> {
  size_t operator()(const starling::jid& j) const noexcept {
    size_t h = std::hash<std::string>{}(j.local());
    h = h * 31 + std::hash<std::string>{}(j.domain());
    return h * 31 + std::hash<std::string>{}(j.resource());
  }
};
