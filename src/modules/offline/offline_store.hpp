#pragma once
// XEP-0160 offline message storage: the store interface and its SQLite implementation.
// Messages are kept serialized (default namespace jabber:client), in arrival order, per
// account; rows go away with the account (cascading foreign key on accounts).
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/sqlite.hpp"

namespace starling::modules {

struct offline_message {
  int64_t id = 0;
  std::string stamp;   // XEP-0082 UTC, as in the message's <delay/>
  std::string sender;  // the message's 'from' (XEP-0013 header 'name')
  std::string stanza;  // serialized message; empty when only headers were asked for
};

enum class offline_store_result { stored, no_account, full, not_stored, failed };

// XEP-0013 node of a stored message: its stamp, then its id, so that dictionary order is
// arrival order. parse_offline_node() returns the id of a well-formed node.
std::string offline_node(const offline_message& m);
std::optional<int64_t> parse_offline_node(std::string_view node);

class offline_store {
 public:
  explicit offline_store(storage::sqlite_database& db) : db_(db) {}

  static std::vector<storage::migration> migrations();

  // Checks that the account exists (RFC 6121 §8.5.1), then stores unless `keep` is false or
  // the account already holds `quota` messages (XEP-0160 §3: full queue). Runs on the writer,
  // so calls complete in the order they were made.
  boost::asio::awaitable<offline_store_result> store(std::string host, std::string user, offline_message m,
                                                     int64_t quota, bool keep);
  boost::asio::awaitable<std::optional<int64_t>> count(std::string host, std::string user);
  // All messages, oldest first (with the stanza text unless headers_only).
  boost::asio::awaitable<std::optional<std::vector<offline_message>>> list(std::string host, std::string user,
                                                                          bool headers_only);
  // The messages with these ids; nullopt if any is missing (or on failure).
  boost::asio::awaitable<std::optional<std::vector<offline_message>>> get(std::string host, std::string user,
                                                                         std::vector<int64_t> ids);
  // Removes these ids. With `all_or_nothing`, removes nothing and returns false if any is
  // missing (XEP-0013 item-not-found).
  boost::asio::awaitable<bool> remove(std::string host, std::string user, std::vector<int64_t> ids,
                                      bool all_or_nothing);
  boost::asio::awaitable<bool> purge(std::string host, std::string user);
  // Whether the account holds any message, read at once on the calling thread (for the login
  // path: no hop to the writer). nullopt when that is not possible (in-memory database) or on
  // failure. Sees only completed store()s: the caller accounts for those in flight.
  std::optional<bool> any_now(const std::string& host, const std::string& user);

 private:
  storage::sqlite_database& db_;
};

}  // namespace starling::modules
