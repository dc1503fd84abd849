#pragma once
// Storage contract for privacy lists (XEP-0016) and the blocklist (XEP-0191): one data store
// for both protocols (XEP-0191 §6). The SQLite implementation is privacy_store_sqlite.cpp;
// another backend implements the same interface.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jid/jid.hpp"
#include "modules/privacy/privacy_engine.hpp"

namespace starling {
class server;
}

namespace starling::privacy {

// Everything stored for one account.
struct account_data {
  std::vector<list> lists;
  std::optional<std::string> default_list;
  std::vector<jid> blocklist;
};

// Every operation returns false (or nullopt) on a storage failure; exceptions never cross it.
class store {
 public:
  virtual ~store() = default;
  virtual boost::asio::awaitable<std::optional<account_data>> load(jid bare) = 0;
  // Creates or replaces a list (XEP-0016 §2.6: the whole list, not a delta).
  virtual boost::asio::awaitable<bool> put_list(jid bare, list l) = 0;
  virtual boost::asio::awaitable<bool> remove_list(jid bare, std::string name) = 0;
  // nullopt declines the default list (XEP-0016 §2.5).
  virtual boost::asio::awaitable<bool> set_default(jid bare, std::optional<std::string> name) = 0;
  virtual boost::asio::awaitable<bool> block(jid bare, std::vector<jid> items) = 0;
  // An empty vector unblocks everything (XEP-0191 §3.5).
  virtual boost::asio::awaitable<bool> unblock(jid bare, std::vector<jid> items) = 0;
};

// The SQLite store: registers its schema steps with the server (call from module::start()).
std::unique_ptr<store> make_sqlite_store(server& srv);

}  // namespace starling::privacy
