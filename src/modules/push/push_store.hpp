#pragma once
// Storage contract of XEP-0357 registrations: per account, the app servers (JID + node) to
// notify and the publish-options form each gave at enable time.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jid/jid.hpp"
#include "storage/storage.hpp"

namespace starling::storage {
class sqlite_database;
}

namespace starling::modules::push {

struct registration {
  std::string service;  // the app server's JID
  std::string node;
  std::string options;  // the publish-options <x/> as XML text, empty if none
};

enum class put_result { stored, full, failed };

class push_store {
 public:
  virtual ~push_store() = default;
  // nullopt on a storage failure.
  virtual boost::asio::awaitable<std::optional<std::vector<registration>>> list(jid bare) = 0;
  // Adds or replaces (same service and node); refuses a new one beyond `limit`.
  virtual boost::asio::awaitable<put_result> put(jid bare, registration r, uint32_t limit) = 0;
  // Removes the registration for `service` and `node`, or every node of `service` if node is
  // empty (XEP-0357 §6). False on a storage failure.
  virtual boost::asio::awaitable<bool> remove(jid bare, std::string service, std::string node) = 0;
};

std::vector<storage::migration> push_migrations();
std::unique_ptr<push_store> make_sqlite_push_store(storage::sqlite_database& db);

}  // namespace starling::modules::push
