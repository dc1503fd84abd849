#pragma once
// Roster storage contract (RFC 6121 §2) and its SQLite implementation. Every write that changes
// what a client sees bumps the owner's roster version (RFC 6121 §2.6) in the same transaction.
// Rows with only a pending inbound request are kept hidden: RFC 6121 §3.1.3 keeps such a
// request out of the roster until the user answers it.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modules/roster/roster_api.hpp"
#include "modules/roster/subscription.hpp"

namespace starling::storage {
class sqlite_database;
struct migration;
}

namespace starling::roster {

struct pending_request {
  jid contact;
  std::string status;  // the <status/> of the stored subscribe request, if any
};

enum class set_status { ok, limit_reached };

struct set_result {
  set_status status = set_status::ok;
  item it;
  int64_t ver = 0;
};

struct removed_item {
  item it;  // as it was before removal
  int64_t ver = 0;
};

// RFC 6121 §2.6.3: what changed after a version the client holds, oldest change first.
struct roster_change {
  item it;
  bool removed = false;
  int64_t ver = 0;
};
struct roster_delta {
  std::vector<roster_change> changes;
  int64_t ver = 0;  // the current version
};

struct apply_result {
  transition t;
  item it;               // the row after the transition
  bool push = false;     // a visible change: push it (with `ver`)
  bool rejected = false; // a new row would exceed the size limit; nothing was changed
  int64_t ver = 0;
};

class roster_store {
 public:
  virtual ~roster_store() = default;
  // Visible items of `owner` (bare) and the current version.
  virtual boost::asio::awaitable<std::pair<std::vector<item>, int64_t>> roster(jid owner) = 0;
  virtual boost::asio::awaitable<int64_t> version(jid owner) = 0;
  // The row for `contact` (visible or not).
  virtual boost::asio::awaitable<std::optional<item>> get(jid owner, jid contact) = 0;
  // RFC 6121 §2.3: add or update name and groups (subscription state untouched).
  virtual boost::asio::awaitable<set_result> set(jid owner, item it, size_t max_items) = 0;
  // RFC 6121 §2.5: deletes the row; nullopt if there was no visible item.
  virtual boost::asio::awaitable<std::optional<removed_item>> remove(jid owner, jid contact) = 0;
  // RFC 6121 Appendix A: applies a subscription stanza in one transaction.
  virtual boost::asio::awaitable<apply_result> apply(jid owner, jid contact, sub_type type,
                                                     bool outbound, std::string status,
                                                     size_t max_items) = 0;
  // RFC 6121 §2.6.3: the changes since version `since`, or nullopt when they cannot be given
  // (unknown version, or removals older than the retained tombstones): send the full roster.
  virtual boost::asio::awaitable<std::optional<roster_delta>> delta(jid owner, int64_t since) = 0;
  // RFC 6121 §3.1.3: requests awaiting the user's answer.
  virtual boost::asio::awaitable<std::vector<pending_request>> pending(jid owner) = 0;
  // The local accounts (bare JIDs, any local host) whose roster has `contact` (bare) with
  // subscription 'from' or 'both': the accounts whose presence `contact` may see (RFC 6121
  // §4.3.2 rule 1). One query for all the probes of a login instead of one per contact.
  virtual boost::asio::awaitable<std::vector<std::string>> subscribers(jid contact) = 0;
  // The visible items of `owner` with a subscription other than 'none', contact and state only
  // (from a covering index: no table look-up per row, no JID parsing), ordered by contact.
  virtual boost::asio::awaitable<std::vector<contact_sub>> presence_contacts(jid owner) = 0;
  // What an initial presence reads (RFC 6121 §4.2.2 broadcast and probes, §3.1.3 pending
  // requests): presence_contacts() and pending() in one read transaction, so one snapshot and
  // one WAL read lock instead of two per login.
  struct initial_presence_data {
    std::vector<contact_sub> contacts;
    std::vector<pending_request> pending;
  };
  virtual boost::asio::awaitable<initial_presence_data> initial_presence(jid owner) = 0;
};

// Registers the schema (migrations) and the account-removal hook; call from module::start().
std::unique_ptr<roster_store> make_sqlite_roster_store(server& srv);
// The store alone, over an already migrated database (unit tests).
std::unique_ptr<roster_store> make_sqlite_roster_store(storage::sqlite_database& db);
const std::vector<storage::migration>& sqlite_roster_migrations();

}  // namespace starling::roster
