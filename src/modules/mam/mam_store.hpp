#pragma once
// XEP-0313 user archives: the store interface and its SQLite implementation.
//
// Layout (designed for millions of rows per account; schema version 2, see migrations()):
//  - mam_messages: rowid `seq` is the archive order and the message's timestamp in µs since
//    the epoch, strictly increasing over the whole server (assigned when the message is
//    archived, mam_module). New rows append at the end of the table's b-tree; retention by age
//    is a rowid range delete. `owner` is the archive's integer id (mam_owners).
//    `uid` is the public archive id (unpredictable, never reused: XEP-0313 §5.2); it encodes
//    the seq (make_uid), so it needs no index: a lookup is a rowid lookup plus a comparison.
//  - (owner) and (owner, with_bare) indexes: SQLite appends the rowid to every index entry, so
//    both are ordered by seq within an archive: a page is one index range scan in either
//    direction (checked with EXPLAIN QUERY PLAN in mam_test.cpp).
//  - mam_owners: per-account id and message count (the size cap is O(1) to check).
//  - mam_prefs: XEP-0441 preferences.
// mam_owners and mam_prefs reference accounts with ON DELETE CASCADE; a trigger deletes an
// archive's messages with its mam_owners row: an archive goes with its account.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/sqlite.hpp"

namespace starling::modules {

struct mam_entry {
  std::string host, user;   // the archive (account)
  int64_t seq = 0;          // archive order and receipt time in µs; unique, see mam_module
  std::string uid;          // make_uid(seq)
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

// The writer thread's memo of archive ids (mam_owners.id by account), so that a batch finds
// its archives with one rowid update each. An entry is only a hint: every use checks the row
// still has that id, host and user (in the same UPDATE), so an archive removed with its account
// (also by starlingctl in another process) is never written through a stale entry. One cache
// per writer connection; not thread-safe (the writer thread only).
class mam_owner_cache {
 public:
  static constexpr size_t max_entries = 100000;  // then cleared: a miss costs one lookup
  std::optional<int64_t> find(std::string_view host, std::string_view user);
  void put(std::string_view host, std::string_view user, int64_t id);
  void forget(std::string_view host, std::string_view user);
  size_t size() const { return ids_.size(); }

 private:
  static std::string key(std::string_view host, std::string_view user);
  std::unordered_map<std::string, int64_t> ids_;  // "user\0host" -> id
};

// The SQL of a page (or count) query; exposed for the query-plan test.
std::string mam_page_sql(bool with_bare, bool with_full, bool ascending, bool count);

class mam_store {
 public:
  explicit mam_store(storage::sqlite_database& db) : db_(db) {}

  static std::vector<storage::migration> migrations();

  // The archive id of the entry with `seq`: "<seq in hex>-<12 random characters>".
  static std::string make_uid(int64_t seq);
  // The seq a uid made by make_uid() encodes; nullopt for anything else (version-1 uids).
  static std::optional<int64_t> uid_seq(std::string_view uid);
  // The highest seq ever stored that is still there (0: none).
  static int64_t last_seq(storage::connection& c);

  // --- on the writer thread (inside run()), for batching by the module ---
  // Appends entries (for accounts that exist; others are skipped), enforces the size cap.
  // Each entry's seq must be unique (not necessarily in batch order). `cache` (optional, kept
  // by the caller across batches on the same connection) saves the archive lookups.
  static void insert_batch(storage::connection& c, std::vector<mam_entry>& batch, const mam_limits& limits,
                           mam_owner_cache* cache = nullptr);
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
