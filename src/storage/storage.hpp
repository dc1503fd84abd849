#pragma once
// Storage contract. Network threads never touch the disk: every call is an awaitable that runs
// on the storage's own worker thread and resumes the caller on its own executor.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sasl/scram.hpp"

namespace starling::storage {

template <class T>
using awaitable = boost::asio::awaitable<T>;

struct account {
  std::string host;
  std::string user;  // PRECIS-enforced localpart
  std::vector<sasl::scram_credentials> credentials;  // one per algorithm
  int64_t created = 0;  // unix seconds
};

enum class write_result { ok, exists, not_found, error };

class account_store {
 public:
  virtual ~account_store() = default;
  virtual awaitable<std::optional<account>> get(std::string host, std::string user) = 0;
  // Fails with `exists` if the account is there already (atomic: no check-then-insert race).
  virtual awaitable<write_result> create(account acc) = 0;
  virtual awaitable<write_result> set_credentials(std::string host, std::string user,
                                                  std::vector<sasl::scram_credentials> creds) = 0;
  // Removes the account and (through the remove hook of each module's store) its data.
  virtual awaitable<write_result> remove(std::string host, std::string user) = 0;
  virtual awaitable<std::vector<std::string>> list(std::string host) = 0;
};

// A versioned schema step for one module's tables (applied in order, once, in a transaction).
struct migration {
  std::string module;
  int version;
  std::string sql;
};

class database {
 public:
  virtual ~database() = default;
  virtual account_store& accounts() = 0;
  // Applies pending migrations (the core's and those passed here). Called once at start-up.
  virtual bool migrate(const std::vector<migration>& extra, std::string& error) = 0;
  // Blocks until queued work is done and closes the database.
  virtual void close() = 0;
};

// Opens (creating if needed) an SQLite database in WAL mode and applies the core migrations.
std::unique_ptr<database> open_sqlite(const std::filesystem::path& file, std::string& error);

}  // namespace starling::storage
