#pragma once
// Storage contract of private XML storage (XEP-0049): per account, per namespace, the
// element(s) last set in that namespace, serialized.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "jid/jid.hpp"

namespace starling::storage {
class sqlite_database;
}

namespace starling::modules {

struct private_lookup {
  bool failed = false;
  std::optional<std::string> xml;  // nullopt: nothing stored for this namespace
};

enum class private_put_result { ok, quota_exceeded, failed };

class private_store {
 public:
  virtual ~private_store() = default;
  virtual boost::asio::awaitable<private_lookup> get(jid bare, std::string ns) = 0;
  // Replaces the data of `ns`; refused when the account's total would exceed `quota` bytes.
  virtual boost::asio::awaitable<private_put_result> put(jid bare, std::string ns, std::string xml,
                                                        size_t quota) = 0;
};

// SQLite implementation; its rows are deleted with the account.
std::unique_ptr<private_store> make_sqlite_private_store(storage::sqlite_database& db);

}  // namespace starling::modules
