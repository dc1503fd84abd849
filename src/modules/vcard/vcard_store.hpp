#pragma once
// Storage contract of the vcard-temp module (XEP-0054): one vCard per account, kept as the
// serialized <vCard/> element, with the XEP-0153 avatar hash computed when it was stored.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>

#include "jid/jid.hpp"

namespace starling::storage {
class sqlite_database;
}

namespace starling::modules {

struct vcard_record {
  std::string xml;         // the <vCard xmlns='vcard-temp'/> element as stored
  std::string photo_hash;  // XEP-0153 §4.1: hex SHA-1 of the PHOTO BINVAL; empty if no photo
};

// Looked-up value or a storage failure (exceptions never leave a store).
struct vcard_lookup {
  bool failed = false;
  std::optional<vcard_record> record;
};

class vcard_store {
 public:
  virtual ~vcard_store() = default;
  virtual boost::asio::awaitable<vcard_lookup> get(jid bare) = 0;
  // Replaces the account's vCard; false on a storage failure.
  virtual boost::asio::awaitable<bool> put(jid bare, vcard_record r) = 0;
};

// SQLite implementation; its rows are deleted with the account.
std::unique_ptr<vcard_store> make_sqlite_vcard_store(storage::sqlite_database& db);

}  // namespace starling::modules
