#pragma once
// XEP-0484 FAST token storage and the token rules that do not need the network.
//
// Per account and client installation (SASL2 <user-agent id>) there are two slots, as
// XEP-0484 §5 ("Server-side handling of multiple active tokens") suggests: 'current' (the token
// the client last used) and 'new' (issued, not used yet). A new token always goes into 'new';
// using the 'new' one moves it to 'current', dropping the old current token (§3.4: tokens
// issued earlier than the one used are invalidated). Only SHA-256(token) is stored (see
// sasl/ht.hpp for why that is enough to verify); rows go with the account (foreign key) and
// with every password change (trigger on the credentials table, so `starlingctl passwd` and
// XEP-0077 both revoke tokens in the same transaction that changes the password).
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sasl/sasl.hpp"
#include "storage/sqlite.hpp"

namespace starling::modules {

enum class fast_slot : int { current = 0, fresh = 1 };

struct fast_token {
  fast_slot slot = fast_slot::fresh;
  std::string mechanism;  // the mechanism the client asked the token for (§3.3: bound to it)
  std::string key;        // SHA-256(token)
  int64_t issued = 0;     // unix seconds
  int64_t expiry = 0;     // unix seconds
  int64_t count = 0;      // highest 'count' accepted so far (0: none)
};

// Which stored token (if any) the client proved. `proof_ok(key)` checks the client's HMAC
// against a stored key in constant time. Order and rules of XEP-0484 §5: 'new' first, then
// 'current'; the mechanism must be the token's; a token past its expiry fails with
// credentials-expired (§4.2: the server no longer trusts it); a 'count' not above the highest
// one seen for that token is a replay (§3.3) and fails.
struct fast_selection {
  std::optional<sasl::failure> failure;
  const fast_token* token = nullptr;
};
template <class ProofOk>
fast_selection select_fast_token(const std::vector<fast_token>& tokens, std::string_view mechanism,
                                 std::optional<int64_t> count, int64_t now, ProofOk proof_ok) {
  fast_selection out;
  out.failure = sasl::failure::not_authorized;
  for (fast_slot slot : {fast_slot::fresh, fast_slot::current}) {
    for (const auto& t : tokens) {
      if (t.slot != slot || t.mechanism != mechanism || !proof_ok(t.key)) continue;
      if (t.expiry <= now) {
        out.failure = sasl::failure::credentials_expired;
        return out;
      }
      if (count && *count <= t.count) return out;  // replayed
      out.failure.reset();
      out.token = &t;
      return out;
    }
  }
  return out;
}

class fast_store {
 public:
  explicit fast_store(storage::sqlite_database& db) : db_(db) {}
  static std::vector<storage::migration> migrations();

  using awaitable_tokens = boost::asio::awaitable<std::optional<std::vector<fast_token>>>;
  // nullopt on a database failure.
  awaitable_tokens load(std::string host, std::string user, std::string agent);
  // The client used `slot`'s token: a 'new' token becomes 'current' (the old current one is
  // dropped); `count`, if given, is remembered for replay detection.
  boost::asio::awaitable<bool> used(std::string host, std::string user, std::string agent, fast_slot slot,
                                    std::optional<int64_t> count);
  // Puts a freshly issued token into the 'new' slot, replacing an unused one (§3.4 SHOULD).
  boost::asio::awaitable<bool> issue(std::string host, std::string user, std::string agent, fast_token token);
  // XEP-0484 §3.5: the token the client authenticated with stops working.
  boost::asio::awaitable<bool> invalidate(std::string host, std::string user, std::string agent, fast_slot slot);

 private:
  storage::sqlite_database& db_;
};

}  // namespace starling::modules
