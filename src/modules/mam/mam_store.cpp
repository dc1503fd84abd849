#include "modules/mam/mam_store.hpp"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "util/random.hpp"

namespace starling::modules {
using storage::connection;

std::vector<storage::migration> mam_store::migrations() {
  return {{"mam", 1, R"sql(
CREATE TABLE mam_messages (
  seq INTEGER PRIMARY KEY,  -- archive order = timestamp in µs, strictly increasing, never reused
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  uid TEXT NOT NULL,        -- public archive id / XEP-0359 stanza-id
  with_bare TEXT NOT NULL,  -- remote party, bare
  with_full TEXT NOT NULL,  -- remote party as addressed (full or bare)
  outgoing INTEGER NOT NULL,
  stanza TEXT NOT NULL,     -- serialized <message/>, default namespace jabber:client
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
);
-- Index entries end with the rowid (seq): both are ordered by seq within an account.
CREATE INDEX mam_messages_owner ON mam_messages (host, user);
CREATE INDEX mam_messages_with ON mam_messages (host, user, with_bare);
CREATE UNIQUE INDEX mam_messages_uid ON mam_messages (host, user, uid);
CREATE TABLE mam_archives (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  count INTEGER NOT NULL,   -- rows in mam_messages, for the size cap
  PRIMARY KEY (host, user),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE mam_prefs (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  default_mode TEXT NOT NULL,  -- always, never, roster (XEP-0441 §2.1.1)
  always_jids TEXT NOT NULL,   -- newline-separated JIDs
  never_jids TEXT NOT NULL,
  PRIMARY KEY (host, user),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
) WITHOUT ROWID;
)sql"},
          // Version 2 (issue 6: archive CPU per message). Every row carried the owner as two
          // text columns in three indexes plus a foreign-key check against accounts; with
          // thousands of archives each row touched a different page of every index. Now:
          //  - mam_owners: one row per archive with an integer id (the only reference to
          //    accounts, ON DELETE CASCADE); rows and indexes carry that integer.
          //  - no uid index: new uids encode their seq (mam_store::make_uid), so a uid lookup
          //    is a rowid lookup. Uids of version-1 rows (no '-') stay findable through a
          //    partial index that new rows never enter.
          //  - no per-row foreign key: a trigger removes an archive's rows when its owner row
          //    goes (itself deleted by the cascade from accounts), so an archive still goes
          //    with its account (XEP-0313 §3.2 leaves retention to the server; a deleted
          //    account must not keep one).
          {"mam", 2, R"sql(
CREATE TABLE mam_owners (
  id INTEGER PRIMARY KEY,
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  count INTEGER NOT NULL,   -- rows in mam_messages, for the size cap
  UNIQUE (host, user),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
);
INSERT INTO mam_owners (host, user, count)
  SELECT host, user, count(*) FROM mam_messages GROUP BY host, user ORDER BY host, user;
CREATE TABLE mam_messages_v2 (
  seq INTEGER PRIMARY KEY,  -- archive order = timestamp in µs, strictly increasing, never reused
  owner INTEGER NOT NULL,   -- mam_owners.id
  uid TEXT NOT NULL,        -- public archive id / XEP-0359 stanza-id (see make_uid)
  with_bare TEXT NOT NULL,  -- remote party, bare
  with_full TEXT NOT NULL,  -- remote party as addressed (full or bare)
  outgoing INTEGER NOT NULL,
  stanza TEXT NOT NULL      -- serialized <message/>, default namespace jabber:client
);
INSERT INTO mam_messages_v2 (seq, owner, uid, with_bare, with_full, outgoing, stanza)
  SELECT m.seq, o.id, m.uid, m.with_bare, m.with_full, m.outgoing, m.stanza
  FROM mam_messages m JOIN mam_owners o ON o.host = m.host AND o.user = m.user ORDER BY m.seq;
DROP TABLE mam_messages;
DROP TABLE mam_archives;
ALTER TABLE mam_messages_v2 RENAME TO mam_messages;
-- Index entries end with the rowid (seq): both are ordered by seq within an archive.
CREATE INDEX mam_messages_owner ON mam_messages (owner);
CREATE INDEX mam_messages_with ON mam_messages (owner, with_bare);
-- Version-1 uids (random, without '-'): the only rows in this index.
CREATE UNIQUE INDEX mam_messages_uid_v1 ON mam_messages (owner, uid) WHERE instr(uid, '-') = 0;
CREATE TRIGGER mam_owner_removed AFTER DELETE ON mam_owners BEGIN
  DELETE FROM mam_messages WHERE owner = old.id;
END;
)sql"}};
}

std::string mam_store::make_uid(int64_t seq) {
  // XEP-0313 §3.1 / XEP-0359 §6: unique and never reused (the seq is), unpredictable (12
  // random characters of 62, ~71 bits: a client can derive when a message was archived from
  // its own ids, which it sees anyway, but cannot guess another archive entry's id).
  static constexpr char digits[] = "0123456789abcdef";
  char hex[16];
  size_t n = 0;
  auto v = static_cast<uint64_t>(seq);
  do {
    hex[sizeof hex - ++n] = digits[v & 15];
    v >>= 4;
  } while (v != 0);
  std::string uid;
  uid.reserve(n + 1 + 12);
  uid.append(hex + sizeof hex - n, n);
  uid += '-';
  uid += util::random_token(12);
  return uid;
}

std::optional<int64_t> mam_store::uid_seq(std::string_view uid) {
  auto dash = uid.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 16) return std::nullopt;
  uint64_t seq = 0;
  for (size_t i = 0; i < dash; ++i) {
    char ch = uid[i];
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    seq = seq * 16 + static_cast<uint64_t>(d);
  }
  if (seq > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(seq);
}

int64_t mam_store::last_seq(connection& c) {
  auto st = c.prepare("SELECT max(seq) FROM mam_messages");
  return st.step() && !st.column_is_null(0) ? st.column_int64(0) : 0;
}

std::string mam_owner_cache::key(std::string_view host, std::string_view user) {
  std::string k;
  k.reserve(user.size() + 1 + host.size());
  k.append(user);
  k += '\0';  // neither a localpart nor a domain contains NUL (RFC 7622)
  k.append(host);
  return k;
}

std::optional<int64_t> mam_owner_cache::find(std::string_view host, std::string_view user) {
  auto it = ids_.find(key(host, user));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

void mam_owner_cache::put(std::string_view host, std::string_view user, int64_t id) {
  if (ids_.size() >= max_entries) ids_.clear();
  ids_[key(host, user)] = id;
}

void mam_owner_cache::forget(std::string_view host, std::string_view user) { ids_.erase(key(host, user)); }

namespace {
struct owner_key_hash {
  size_t operator()(const std::pair<std::string_view, std::string_view>& k) const noexcept {
    size_t h = std::hash<std::string_view>{}(k.first);
    return h ^ (std::hash<std::string_view>{}(k.second) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};
}  // namespace

void mam_store::insert_batch(connection& c, std::vector<mam_entry>& batch, const mam_limits& limits,
                             mam_owner_cache* cache) {
  if (batch.empty()) return;
  storage::transaction tx(c);
  // Per archive in this batch: its id (0: no such account) and how many rows it gets. A batch
  // holds messages of many accounts (two per routed message): a few statements per archive,
  // before the rows.
  struct owner_state {
    std::string_view host, user;
    int64_t id = 0;
    int64_t added = 0;
    int64_t count = 0;
  };
  std::vector<owner_state> owners;
  std::vector<uint32_t> row_owner(batch.size());
  {
    std::unordered_map<std::pair<std::string_view, std::string_view>, uint32_t, owner_key_hash> index;
    index.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& e = batch[i];
      auto [it, inserted] = index.try_emplace({e.host, e.user}, static_cast<uint32_t>(owners.size()));
      if (inserted) owners.push_back({e.host, e.user});
      ++owners[it->second].added;
      row_owner[i] = it->second;
    }
  }
  for (auto& o : owners) {
    // No UPSERT ... RETURNING here: SQLite runs RETURNING through an ephemeral table (a fresh
    // in-memory b-tree and page cache, ~150 KiB of malloc, memset and page faults per
    // statement) and the INSERT ... SELECT form opens a statement journal; together they were
    // most of the writer thread's CPU per message (issue 6). A known archive is one rowid
    // update, which also checks the cached id still belongs to this account.
    if (cache) {
      if (auto id = cache->find(o.host, o.user)) {
        if (c.execute("UPDATE mam_owners SET count = count + ?2 WHERE id = ?1 AND host = ?3 AND user = ?4", *id,
                      o.added, o.host, o.user) == 1) {
          o.id = *id;
        } else {
          cache->forget(o.host, o.user);
        }
      }
    }
    if (o.id == 0) {
      std::optional<int64_t> found;
      {
        auto st = c.prepare("SELECT id FROM mam_owners WHERE host = ?1 AND user = ?2", o.host, o.user);
        if (st.step()) found = st.column_int64(0);
      }
      if (found) {
        c.execute("UPDATE mam_owners SET count = count + ?2 WHERE id = ?1", *found, o.added);
        o.id = *found;
      } else if (c.execute("INSERT INTO mam_owners (host, user, count) SELECT ?1, ?2, ?3 "
                           "WHERE EXISTS (SELECT 1 FROM accounts WHERE host = ?1 AND user = ?2)",
                           o.host, o.user, o.added) == 1) {
        // Creates the archive on first use, only for an account that exists (accounts that do
        // not exist any more get nothing; RFC 6121 §8.5.1 bounces are the router's business).
        o.id = c.last_insert_rowid();
      }
      // A rolled-back batch may leave an id here that no row has: the check above drops it.
      if (o.id != 0 && cache) cache->put(o.host, o.user, o.id);
    }
    if (o.id != 0 && limits.max_messages_per_user > 0) {
      auto st = c.prepare("SELECT count FROM mam_owners WHERE id = ?1", o.id);
      if (st.step()) o.count = st.column_int64(0);
    }
  }
  {
    // One statement for all rows: bound, stepped and reset per row.
    auto ins = c.prepare(
        "INSERT INTO mam_messages (seq, owner, uid, with_bare, with_full, outgoing, stanza) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& e = batch[i];
      const int64_t id = owners[row_owner[i]].id;
      if (id == 0) continue;
      ins.bind(e.seq, id, e.uid, e.with_bare, e.with_full, e.outgoing ? 1 : 0, e.stanza);
      ins.exec();
      ins.reset();
    }
  }
  for (const auto& o : owners) {
    if (o.id == 0) continue;
    // The cap is checked once per archive and batch, with the count after this batch.
    if (limits.max_messages_per_user <= 0 || o.count <= limits.max_messages_per_user) continue;
    // XEP-0313 §3.2: only the oldest messages may go, never a hole in the middle.
    int64_t removed = c.execute(
        "DELETE FROM mam_messages WHERE owner = ?1 AND seq <= "
        "(SELECT seq FROM mam_messages INDEXED BY mam_messages_owner WHERE owner = ?1 ORDER BY seq LIMIT 1 OFFSET ?2)",
        o.id, o.count - limits.max_messages_per_user - 1);
    c.execute("UPDATE mam_owners SET count = count - ?2 WHERE id = ?1", o.id, removed);
  }
  tx.commit();
}

int64_t mam_store::expire(connection& c, int64_t cutoff_seq, int64_t limit) {
  storage::transaction tx(c);
  std::vector<std::pair<int64_t, int64_t>> per_owner;
  {
    // The oldest rows first: a rowid range, whatever archive they belong to.
    auto st = c.prepare(
        "SELECT owner, count(*) FROM (SELECT owner FROM mam_messages WHERE seq < ?1 ORDER BY seq LIMIT ?2) "
        "GROUP BY owner",
        cutoff_seq, limit);
    while (st.step()) per_owner.emplace_back(st.column_int64(0), st.column_int64(1));
  }
  if (per_owner.empty()) return 0;
  int64_t n = c.execute("DELETE FROM mam_messages WHERE seq IN (SELECT seq FROM mam_messages WHERE seq < ?1 ORDER BY seq LIMIT ?2)",
                        cutoff_seq, limit);
  for (const auto& [owner, k] : per_owner)
    c.execute("UPDATE mam_owners SET count = max(0, count - ?2) WHERE id = ?1", owner, k);
  tx.commit();
  return n;
}

namespace {
// The row with archive id `uid` in the archive of host/user (no row: not there). Columns: seq,
// uid, stanza, and with `full` also with_bare, with_full.
storage::statement find_uid(connection& c, const std::string& host, const std::string& user, const std::string& uid,
                            bool full) {
  if (auto seq = mam_store::uid_seq(uid)) {
    // A rowid lookup; the uid must match too (its random part is what makes it unguessable).
    return full ? c.prepare("SELECT seq, uid, stanza, with_bare, with_full FROM mam_messages WHERE seq = ?1 AND uid = ?2 "
                            "AND owner = (SELECT id FROM mam_owners WHERE host = ?3 AND user = ?4)",
                            *seq, uid, host, user)
                : c.prepare("SELECT seq FROM mam_messages WHERE seq = ?1 AND uid = ?2 "
                            "AND owner = (SELECT id FROM mam_owners WHERE host = ?3 AND user = ?4)",
                            *seq, uid, host, user);
  }
  // A version-1 uid (random, no '-'): the partial index (the instr() term selects it).
  return full ? c.prepare("SELECT seq, uid, stanza, with_bare, with_full FROM mam_messages INDEXED BY mam_messages_uid_v1 "
                          "WHERE owner = (SELECT id FROM mam_owners WHERE host = ?1 AND user = ?2) AND uid = ?3 "
                          "AND instr(uid, '-') = 0",
                          host, user, uid)
              : c.prepare("SELECT seq FROM mam_messages INDEXED BY mam_messages_uid_v1 "
                          "WHERE owner = (SELECT id FROM mam_owners WHERE host = ?1 AND user = ?2) AND uid = ?3 "
                          "AND instr(uid, '-') = 0",
                          host, user, uid);
}
}  // namespace

std::string mam_page_sql(bool with_bare, bool with_full, bool ascending, bool count) {
  std::string sql = count ? "SELECT count(*) FROM mam_messages" : "SELECT seq, uid, stanza FROM mam_messages";
  // Pinned: with ORDER BY seq and a LIMIT the planner may prefer walking the rowid (every
  // account's messages) and filtering, which is fast on a test database and a disaster on one
  // with millions of rows from other accounts.
  sql += with_bare ? " INDEXED BY mam_messages_with" : " INDEXED BY mam_messages_owner";
  sql += " WHERE owner = (SELECT id FROM mam_owners WHERE host = ?1 AND user = ?2) AND seq >= ?3 AND seq <= ?4";
  if (with_bare) sql += count ? " AND with_bare = ?5" : " AND with_bare = ?7";
  if (with_full) sql += count ? " AND with_full = ?6" : " AND with_full = ?8";
  if (!count) sql += ascending ? " ORDER BY seq ASC LIMIT ?5 OFFSET ?6" : " ORDER BY seq DESC LIMIT ?5 OFFSET ?6";
  return sql;
}

namespace {
// A result set to page through: the archive (SQL) or the records an 'ids' query named.
struct source {
  std::function<std::vector<mam_record>(int64_t lo, int64_t hi, bool asc, int64_t limit, int64_t offset)> fetch;
  std::function<uint64_t(int64_t lo, int64_t hi)> count;
};

mam_status page(const source& src, int64_t lo, int64_t hi, const mam_page_request& p,
                const std::function<std::optional<int64_t>(const std::string&)>& seq_of, mam_page& out) {
  out = {};
  int64_t plo = lo, phi = hi;
  // XEP-0313 §4.3.2: an unknown RSM UID is item-not-found.
  if (p.after_uid) {
    auto s = seq_of(*p.after_uid);
    if (!s) return mam_status::item_not_found;
    plo = std::max(plo, *s + 1);
  }
  if (p.before_uid) {
    auto s = seq_of(*p.before_uid);
    if (!s) return mam_status::item_not_found;
    phi = std::min(phi, *s - 1);
  }
  out.count = src.count(lo, hi);
  if (p.max == 0) {
    // XEP-0059 §2.7: the count only.
    out.complete = out.count == 0;
    return mam_status::ok;
  }
  const bool backward = (p.backward || p.before_uid) && !p.index;
  const int64_t limit = static_cast<int64_t>(p.max) + 1;
  auto rows = src.fetch(plo, phi, !backward, limit, p.index ? static_cast<int64_t>(*p.index) : 0);
  out.complete = rows.size() <= p.max;
  if (!out.complete) rows.resize(p.max);
  if (backward) std::reverse(rows.begin(), rows.end());
  if (!rows.empty()) out.first_index = rows.front().seq > lo ? src.count(lo, rows.front().seq - 1) : 0;
  out.items = std::move(rows);
  return mam_status::ok;
}
}  // namespace

mam_status mam_store::query(connection& c, const std::string& host, const std::string& user, const mam_filter& f,
                            const mam_page_request& p, mam_page& out) {
  auto seq_of = [&](const std::string& uid) -> std::optional<int64_t> {
    auto st = find_uid(c, host, user, uid, false);
    if (!st.step()) return std::nullopt;
    return st.column_int64(0);
  };
  int64_t lo = f.min_seq, hi = f.max_seq;
  // XEP-0313 §4.1.3: unknown after-id/before-id/ids are item-not-found.
  if (f.after_id) {
    auto s = seq_of(*f.after_id);
    if (!s) return mam_status::item_not_found;
    lo = std::max(lo, *s + 1);
  }
  if (f.before_id) {
    auto s = seq_of(*f.before_id);
    if (!s) return mam_status::item_not_found;
    hi = std::min(hi, *s - 1);
  }

  if (!f.ids.empty()) {
    std::vector<mam_record> named;
    for (const auto& uid : f.ids) {
      auto st = find_uid(c, host, user, uid, true);
      if (!st.step()) return mam_status::item_not_found;
      mam_record r{st.column_int64(0), st.column_text(1), st.column_text(2)};
      if (r.seq < lo || r.seq > hi) continue;
      if (f.with_bare && st.column_text(3) != *f.with_bare) continue;
      if (f.with_full && st.column_text(4) != *f.with_full) continue;
      named.push_back(std::move(r));
    }
    std::sort(named.begin(), named.end(), [](const mam_record& a, const mam_record& b) { return a.seq < b.seq; });
    named.erase(std::unique(named.begin(), named.end(), [](const mam_record& a, const mam_record& b) { return a.seq == b.seq; }),
                named.end());
    source src;
    src.fetch = [&named](int64_t a, int64_t b, bool asc, int64_t limit, int64_t offset) {
      std::vector<mam_record> in;
      for (const auto& r : named)
        if (r.seq >= a && r.seq <= b) in.push_back(r);
      if (!asc) std::reverse(in.begin(), in.end());
      std::vector<mam_record> res;
      for (int64_t i = offset; i < static_cast<int64_t>(in.size()) && static_cast<int64_t>(res.size()) < limit; ++i)
        res.push_back(in[i]);
      return res;
    };
    src.count = [&named](int64_t a, int64_t b) {
      return static_cast<uint64_t>(std::count_if(named.begin(), named.end(), [&](const mam_record& r) { return r.seq >= a && r.seq <= b; }));
    };
    return page(src, lo, hi, p, seq_of, out);
  }

  const bool wb = f.with_bare.has_value(), wf = f.with_full.has_value();
  source src;
  src.fetch = [&](int64_t a, int64_t b, bool asc, int64_t limit, int64_t offset) {
    std::vector<mam_record> res;
    if (a > b) return res;
    auto st = c.prepare(mam_page_sql(wb, wf, asc, false), host, user, a, b, limit, offset);
    if (wb) st.bind_at(7, *f.with_bare);
    if (wf) st.bind_at(8, *f.with_full);
    while (st.step()) res.push_back({st.column_int64(0), st.column_text(1), st.column_text(2)});
    return res;
  };
  src.count = [&](int64_t a, int64_t b) -> uint64_t {
    if (a > b) return 0;
    auto st = c.prepare(mam_page_sql(wb, wf, true, true), host, user, a, b);
    if (wb) st.bind_at(5, *f.with_bare);
    if (wf) st.bind_at(6, *f.with_full);
    st.step();
    return static_cast<uint64_t>(st.column_int64(0));
  };
  return page(src, lo, hi, p, seq_of, out);
}

std::optional<std::pair<mam_record, mam_record>> mam_store::bounds(connection& c, const std::string& host,
                                                                   const std::string& user, int64_t min_seq) {
  auto first = c.prepare("SELECT seq, uid FROM mam_messages INDEXED BY mam_messages_owner WHERE owner = (SELECT id FROM mam_owners WHERE host = ?1 AND user = ?2) AND seq >= ?3 ORDER BY seq ASC LIMIT 1",
                         host, user, min_seq);
  if (!first.step()) return std::nullopt;
  mam_record a{first.column_int64(0), first.column_text(1), {}};
  auto last = c.prepare("SELECT seq, uid FROM mam_messages INDEXED BY mam_messages_owner WHERE owner = (SELECT id FROM mam_owners WHERE host = ?1 AND user = ?2) AND seq >= ?3 ORDER BY seq DESC LIMIT 1",
                        host, user, min_seq);
  if (!last.step()) return std::nullopt;
  mam_record b{last.column_int64(0), last.column_text(1), {}};
  return std::make_pair(std::move(a), std::move(b));
}

namespace {
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    if (nl > pos) out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}
std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += '\n';
    out += s;
  }
  return out;
}
}  // namespace

std::vector<mam_prefs_row> mam_store::load_prefs(connection& c) {
  std::vector<mam_prefs_row> out;
  auto st = c.prepare("SELECT host, user, default_mode, always_jids, never_jids FROM mam_prefs");
  while (st.step())
    out.push_back({st.column_text(0), st.column_text(1), st.column_text(2), split_lines(st.column_text(3)),
                   split_lines(st.column_text(4))});
  return out;
}

void mam_store::save_prefs(connection& c, const mam_prefs_row& p) {
  c.execute(
      "INSERT INTO mam_prefs (host, user, default_mode, always_jids, never_jids) "
      "SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM accounts WHERE host = ?1 AND user = ?2) "
      "ON CONFLICT (host, user) DO UPDATE SET default_mode = excluded.default_mode, "
      "always_jids = excluded.always_jids, never_jids = excluded.never_jids",
      p.host, p.user, p.default_mode, join_lines(p.always), join_lines(p.never));
}

}  // namespace starling::modules
