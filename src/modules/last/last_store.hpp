#pragma once
// Storage contract of last activity (XEP-0012): when each account's last session ended, and
// the status text of its last unavailable presence.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "jid/jid.hpp"
#include "storage/storage.hpp"

namespace starling::storage {
class sqlite_database;
}

namespace starling::modules {

struct last_record {
  int64_t logout = 0;  // unix seconds
  std::string status;
};

struct last_lookup {
  bool failed = false;
  std::optional<last_record> record;
};

class last_store {
 public:
  virtual ~last_store() = default;
  virtual boost::asio::awaitable<last_lookup> get(jid bare) = 0;
  // get() for several accounts in one read transaction (the offline contacts probed by one
  // login): the records found, by bare JID. Throws nothing; `failed` on a storage error.
  virtual boost::asio::awaitable<std::pair<bool /*failed*/, std::unordered_map<std::string, last_record>>>
  get_many(std::vector<jid> bare) = 0;
  virtual boost::asio::awaitable<bool> put(jid bare, last_record r) = 0;
  // put() that nobody waits for (the logout path): group-committed a little later; get() and
  // get_many() see it at once.
  virtual void put_later(jid bare, last_record r) = 0;
  // Writes what put_later() queued and waits for it (module stop). Not on the writer thread.
  virtual void close() {}
};

// The table of the SQLite implementation.
const std::vector<storage::migration>& sqlite_last_migrations();
// SQLite implementation; its rows are deleted with the account.
std::unique_ptr<last_store> make_sqlite_last_store(storage::sqlite_database& db);

}  // namespace starling::modules
