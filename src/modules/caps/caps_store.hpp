#pragma once
// Storage contract of the caps cache (XEP-0115 §5.4 step 3.8: verified results are cached
// globally): the disco#info <query/> of each verified (hash, ver), serialized.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

namespace starling::storage {
class sqlite_database;
}

namespace starling::modules {

class caps_store {
 public:
  virtual ~caps_store() = default;
  // The stored disco#info for (hash, ver); nullopt if unknown or on a storage failure (the
  // caller then asks the client again: a cache miss is never fatal).
  virtual boost::asio::awaitable<std::optional<std::string>> get(std::string hash, std::string ver) = 0;
  virtual boost::asio::awaitable<void> put(std::string hash, std::string ver, std::string info) = 0;
};

std::unique_ptr<caps_store> make_sqlite_caps_store(storage::sqlite_database& db);

}  // namespace starling::modules
