#pragma once
// XEP-0313 user archives: the store interface and its SQLite implementation.
//
// Layout (designed for millions of rows per account):
//  - mam_messages: rowid `seq` is the archive order and the message's timestamp in µs since
//    the epoch, strictly increasing over the whole server (assigned on the writer thread). New
//    rows append at the end of the table's b-tree; retention by age is a rowid range delete.
//    `uid` is the public archive id (random, unpredictable, never reused: XEP-0313 §5.2).
//  - (host, user) and (host, user, with_bare) indexes: SQLite appends the rowid to every index
//    entry, so both are ordered by seq within an account: a page is one index range scan in
//    either direction (checked with EXPLAIN QUERY PLAN in mam_test.cpp).
//  - mam_archives: per-account message count, so that the size cap is O(1) to check.
//  - mam_prefs: XEP-0441 preferences.
// Every table references accounts with ON DELETE CASCADE: an archive goes with its account.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/sqlite.hpp"

namespace starling::modules {

struct mam_entry {
  std::string host, user;   // the archive (account)
  int64_t received_us = 0;  // receipt time; the stored seq is max(this, previous seq + 1)
  std::string uid;
  std::string with_bare, with_full;  // the remote JID (to for outgoing, from for incoming)
  bool outgoing = false;
  std::string stanza;  // serialized <message/>
};

struct mam_record {
  int64_t seq = 0;  // also the timestamp (µs)
  std::string uid;
  std::string stanza;
};

// What a query selects (XEP-0313 §4.1) — form filters, already resolved to the archive.
struct mam_filter {
  std::optional<std::string> with_bare;
  std::optional<std::string> with_full;  // set only for a full-JID 'with'
  int64_t min_seq = 0;                   // start, and the retention cut-off
  int64_t max_seq = INT64_MAX;           // end
  std::optional<std::string> after_id, before_id;  // exclusive (#extended)
  std::vector<std::string> ids;                     // only these (#extended)
};

// How the page is taken (XEP-0059).
struct mam_page_request {
  uint64_t max = 50;
  bool backward = false;                   // RSM <before/>: the page at the end
  std::optional<std::string> after_uid;    // RSM <after/>
  std::optional<std::string> before_uid;   // RSM <before>UID</before>
  std::optional<uint64_t> index;           // RSM <index/>
};

struct mam_page {
  std::vector<mam_record> items;  // chronological
  bool complete = false;          // XEP-0313 §4.3.2: nothing more in the paging direction
  uint64_t count = 0;             // items matching the filter (XEP-0059 <count/>)
  uint64_t first_index = 0;       // position of items.front() in that set
};

enum class mam_status { ok, item_not_found, failed };

struct mam_prefs_row {
  std::string host, user;
  std::string default_mode;  // always, never, roster
  std::vector<std::string> always, never;
};

struct mam_limits {
  int64_t max_messages_per_user = 0;  // 0: no cap; past it the oldest go (XEP-0313 §3.2)
};

// The SQL of a page (or count) query; exposed for the query-plan test.
std::string mam_page_sql(bool with_bare, bool with_full, bool ascending, bool count);

class mam_store {
 public:
  explicit mam_store(storage::sqlite_database& db) : db_(db) {}

  static std::vector<storage::migration> migrations();

  // --- on the writer thread (inside run()), for batching by the module ---
  // Appends entries (for accounts that exist; others are skipped), enforces the size cap.
  // `last_seq` is the writer's high-water mark (0: read it from the table first).
  static void insert_batch(storage::connection& c, std::vector<mam_entry>& batch, int64_t& last_seq,
                           const mam_limits& limits);
  // Removes messages older than `cutoff_seq`, at most `limit` rows; returns rows removed.
  static int64_t expire(storage::connection& c, int64_t cutoff_seq, int64_t limit);
  // A page of the archive. Runs on any connection.
  static mam_status query(storage::connection& c, const std::string& host, const std::string& user,
                          const mam_filter& f, const mam_page_request& p, mam_page& out);
  // First and last message of the archive at or after `min_seq` (XEP-0313 §5).
  static std::optional<std::pair<mam_record, mam_record>> bounds(storage::connection& c, const std::string& host,
                                                                 const std::string& user, int64_t min_seq);
  static std::vector<mam_prefs_row> load_prefs(storage::connection& c);
  static void save_prefs(storage::connection& c, const mam_prefs_row& p);

 private:
  storage::sqlite_database& db_;
};

}  // namespace starling::modules
