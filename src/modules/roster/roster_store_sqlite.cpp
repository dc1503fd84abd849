// SQLite implementation of roster_store (roster_store.hpp).
#include <algorithm>

#include "core/server.hpp"
#include "modules/roster/roster_store.hpp"
#include "storage/sqlite.hpp"

namespace starling::roster {

namespace asio = boost::asio;
using storage::connection;

namespace {

// Groups are kept in one column, separated by U+001F: a control character that XML 1.0 cannot
// carry, so no group name contains it.
constexpr char group_sep = '\x1f';

std::string join_groups(const std::vector<std::string>& g) {
  std::string out;
  for (size_t i = 0; i < g.size(); ++i) {
    if (i) out += group_sep;
    out += g[i];
  }
  return out;
}

std::vector<std::string> split_groups(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(group_sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

struct row {
  item it;
  bool visible = false;
};

constexpr std::string_view select_row =
    "SELECT contact, name, groups, sub, pending_out, pending_in, approved, visible "
    "FROM roster_items WHERE host = ?1 AND user = ?2 AND contact = ?3";

row read_row(storage::statement& st) {
  row r;
  r.it.contact = jid::parse(st.column_text(0)).value_or(jid{});
  r.it.name = st.column_text(1);
  r.it.groups = split_groups(st.column_text(2));
  r.it.sub = static_cast<subscription>(st.column_int64(3) & 3);
  r.it.ask_out = st.column_int64(4) != 0;
  r.it.pending_in = st.column_int64(5) != 0;
  r.it.approved = st.column_int64(6) != 0;
  r.visible = st.column_int64(7) != 0;
  return r;
}

std::optional<row> find_row(connection& c, const jid& owner, const std::string& contact) {
  auto st = c.prepare(select_row, owner.domain(), owner.local(), contact);
  if (!st.step()) return std::nullopt;
  return read_row(st);
}

int64_t count_rows(connection& c, const jid& owner) {
  auto st = c.prepare("SELECT count(*) FROM roster_items WHERE host = ?1 AND user = ?2", owner.domain(),
                      owner.local());
  st.step();
  return st.column_int64(0);
}

int64_t current_version(connection& c, const jid& owner) {
  auto st = c.prepare("SELECT ver FROM roster_versions WHERE host = ?1 AND user = ?2", owner.domain(),
                      owner.local());
  return st.step() ? st.column_int64(0) : 0;
}

// RFC 6121 §2.6: every visible change gets a new, strictly increasing version.
int64_t bump_version(connection& c, const jid& owner) {
  c.execute(
      "INSERT INTO roster_versions (host, user, ver) VALUES (?1, ?2, 1) "
      "ON CONFLICT (host, user) DO UPDATE SET ver = ver + 1",
      owner.domain(), owner.local());
  return current_version(c, owner);
}

// Bumps the version and records it on the changed row, so that a client holding an older
// version can be sent just the rows changed since (RFC 6121 §2.6.3). A row written again
// supersedes an earlier removal of the same contact.
int64_t stamp_change(connection& c, const jid& owner, const std::string& contact) {
  int64_t ver = bump_version(c, owner);
  c.execute("UPDATE roster_items SET ver = ?4 WHERE host = ?1 AND user = ?2 AND contact = ?3", owner.domain(),
            owner.local(), contact, ver);
  c.execute("DELETE FROM roster_tombstones WHERE host = ?1 AND user = ?2 AND contact = ?3", owner.domain(),
            owner.local(), contact);
  return ver;
}

// Removals are remembered as tombstones so that they can be pushed as deltas too. Only the
// newest `max_tombstones` are kept; the horizon then moves past the dropped ones and a client
// holding an older version gets the full roster instead.
constexpr int64_t max_tombstones = 256;

int64_t stamp_removal(connection& c, const jid& owner, const std::string& contact) {
  int64_t ver = bump_version(c, owner);
  c.execute(
      "INSERT INTO roster_tombstones (host, user, contact, ver) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (host, user, contact) DO UPDATE SET ver = ?4",
      owner.domain(), owner.local(), contact, ver);
  auto st = c.prepare(
      "SELECT ver FROM roster_tombstones WHERE host = ?1 AND user = ?2 ORDER BY ver DESC LIMIT 1 OFFSET ?3",
      owner.domain(), owner.local(), max_tombstones);
  if (st.step()) {
    int64_t cut = st.column_int64(0);
    c.execute("DELETE FROM roster_tombstones WHERE host = ?1 AND user = ?2 AND ver <= ?3", owner.domain(),
              owner.local(), cut);
    c.execute("UPDATE roster_versions SET horizon = ?3 WHERE host = ?1 AND user = ?2", owner.domain(),
              owner.local(), cut);
  }
  return ver;
}

void write_row(connection& c, const jid& owner, const row& r, const std::string& status, bool set_status) {
  c.execute(
      "INSERT INTO roster_items (host, user, contact, name, groups, sub, pending_out, pending_in, "
      "approved, visible, request_status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "ON CONFLICT (host, user, contact) DO UPDATE SET name = ?4, groups = ?5, sub = ?6, "
      "pending_out = ?7, pending_in = ?8, approved = ?9, visible = ?10, "
      "request_status = CASE WHEN ?12 THEN ?11 ELSE request_status END",
      owner.domain(), owner.local(), r.it.contact.bare_str(), r.it.name, join_groups(r.it.groups),
      static_cast<int64_t>(r.it.sub), r.it.ask_out ? 1 : 0, r.it.pending_in ? 1 : 0,
      r.it.approved ? 1 : 0, r.visible ? 1 : 0, status, set_status ? 1 : 0);
}

class sqlite_roster_store final : public roster_store {
 public:
  explicit sqlite_roster_store(storage::sqlite_database& db) : db_(db) {}

  asio::awaitable<std::pair<std::vector<item>, int64_t>> roster(jid owner) override {
    auto work = [owner](connection& c) {
      std::pair<std::vector<item>, int64_t> out;
      storage::transaction tx(c, storage::transaction::kind::deferred);
      auto st = c.prepare(
          "SELECT contact, name, groups, sub, pending_out, pending_in, approved, visible "
          "FROM roster_items WHERE host = ?1 AND user = ?2 AND visible = 1 ORDER BY contact",
          owner.domain(), owner.local());
      while (st.step()) out.first.push_back(read_row(st).it);
      out.second = current_version(c, owner);
      tx.commit();
      return out;
    };
    co_return co_await db_.read(std::move(work));
  }

  asio::awaitable<int64_t> version(jid owner) override {
    auto work = [owner](connection& c) { return current_version(c, owner); };
    co_return co_await db_.read(std::move(work));
  }

  asio::awaitable<std::optional<item>> get(jid owner, jid contact) override {
    auto work = [owner, contact](connection& c) -> std::optional<item> {
      auto r = find_row(c, owner, contact.bare_str());
      if (!r) return std::nullopt;
      return r->it;
    };
    co_return co_await db_.read(std::move(work));
  }

  asio::awaitable<set_result> set(jid owner, item it, size_t max_items) override {
    auto work = [owner, it = std::move(it), max_items](connection& c) {
      set_result res;
      storage::transaction tx(c);
      auto existing = find_row(c, owner, it.contact.bare_str());
      row r;
      if (existing) {
        r = *existing;
      } else {
        // RFC 6121 §2.3.3: a roster set may be refused when the roster is full.
        if (static_cast<size_t>(count_rows(c, owner)) >= max_items) {
          res.status = set_status::limit_reached;
          return res;
        }
        r.it.contact = it.contact;
      }
      r.it.name = it.name;
      r.it.groups = it.groups;
      r.visible = true;
      write_row(c, owner, r, {}, false);
      res.ver = stamp_change(c, owner, r.it.contact.bare_str());
      res.it = r.it;
      tx.commit();
      return res;
    };
    co_return co_await db_.run(std::move(work));
  }

  asio::awaitable<std::optional<removed_item>> remove(jid owner, jid contact) override {
    auto work = [owner, contact](connection& c) -> std::optional<removed_item> {
      storage::transaction tx(c);
      auto existing = find_row(c, owner, contact.bare_str());
      if (!existing || !existing->visible) return std::nullopt;
      c.execute("DELETE FROM roster_items WHERE host = ?1 AND user = ?2 AND contact = ?3", owner.domain(),
                owner.local(), contact.bare_str());
      removed_item out{existing->it, stamp_removal(c, owner, contact.bare_str())};
      tx.commit();
      return out;
    };
    co_return co_await db_.run(std::move(work));
  }

  asio::awaitable<apply_result> apply(jid owner, jid contact, sub_type type, bool is_outbound,
                                      std::string status, size_t max_items) override {
    auto work = [owner, contact, type, is_outbound, status = std::move(status), max_items](connection& c) {
      apply_result res;
      storage::transaction tx(c);
      auto existing = find_row(c, owner, contact.bare_str());
      row r;
      if (existing) r = *existing;
      r.it.contact = contact.bare();
      sub_state before{r.it.sub, r.it.ask_out, r.it.pending_in, r.it.approved};
      res.t = is_outbound ? outbound(before, type) : inbound(before, type);
      res.it = r.it;
      if (!res.t.changed) return res;
      if (!existing && static_cast<size_t>(count_rows(c, owner)) >= max_items) {
        res.rejected = true;
        res.t = transition{before};
        return res;
      }
      const sub_state& after = res.t.next;
      bool was_visible = existing && existing->visible;
      // RFC 6121 §3.1.2 and §3.4.1: the user's own subscribe or approval puts the contact in the
      // roster; §3.1.3: an inbound request alone does not, until a subscription exists.
      bool visible = was_visible || (is_outbound && (type == sub_type::subscribe || type == sub_type::subscribed)) ||
                     after.sub != subscription::none;
      r.it.sub = after.sub;
      r.it.ask_out = after.pending_out;
      r.it.pending_in = after.pending_in;
      r.it.approved = after.approved;
      r.visible = visible;
      res.it = r.it;
      bool empty = after == sub_state{};
      if (!visible && empty) {
        c.execute("DELETE FROM roster_items WHERE host = ?1 AND user = ?2 AND contact = ?3", owner.domain(),
                  owner.local(), contact.bare_str());
      } else {
        bool new_request = !is_outbound && type == sub_type::subscribe && after.pending_in && !before.pending_in;
        write_row(c, owner, r, new_request ? status : std::string(), new_request || !after.pending_in);
      }
      // Only what a client sees (subscription, ask, approved, presence in the roster) is pushed.
      bool visible_change = visible != was_visible || before.sub != after.sub ||
                            before.pending_out != after.pending_out || before.approved != after.approved;
      if (visible && visible_change) {
        res.push = true;
        res.ver = stamp_change(c, owner, contact.bare_str());
      }
      tx.commit();
      return res;
    };
    co_return co_await db_.run(std::move(work));
  }

  asio::awaitable<std::optional<roster_delta>> delta(jid owner, int64_t since) override {
    auto work = [owner, since](connection& c) -> std::optional<roster_delta> {
      storage::transaction tx(c, storage::transaction::kind::deferred);
      auto vs = c.prepare("SELECT ver, horizon FROM roster_versions WHERE host = ?1 AND user = ?2", owner.domain(),
                          owner.local());
      int64_t ver = 0, horizon = 0;
      if (vs.step()) {
        ver = vs.column_int64(0);
        horizon = vs.column_int64(1);
      }
      if (since < horizon || since > ver) return std::nullopt;
      roster_delta d;
      d.ver = ver;
      auto st = c.prepare(
          "SELECT contact, name, groups, sub, pending_out, pending_in, approved, visible, ver "
          "FROM roster_items WHERE host = ?1 AND user = ?2 AND visible = 1 AND ver > ?3",
          owner.domain(), owner.local(), since);
      while (st.step()) d.changes.push_back({read_row(st).it, false, st.column_int64(8)});
      auto ts = c.prepare("SELECT contact, ver FROM roster_tombstones WHERE host = ?1 AND user = ?2 AND ver > ?3",
                          owner.domain(), owner.local(), since);
      while (ts.step()) {
        roster_change ch;
        ch.it.contact = jid::parse(ts.column_text(0)).value_or(jid{});
        ch.removed = true;
        ch.ver = ts.column_int64(1);
        d.changes.push_back(std::move(ch));
      }
      std::sort(d.changes.begin(), d.changes.end(),
                [](const roster_change& a, const roster_change& b) { return a.ver < b.ver; });
      tx.commit();
      return d;
    };
    co_return co_await db_.read(std::move(work));
  }

  // RFC 6121 §3.1.3: from the partial index roster_items_pending (migration 4), which holds only
  // the rows with a request waiting: no scan of the whole roster at every login.
  static std::vector<pending_request> read_pending(connection& c, const jid& owner) {
    std::vector<pending_request> out;
    auto st = c.prepare(
        "SELECT contact, request_status FROM roster_items WHERE host = ?1 AND user = ?2 AND pending_in = 1 "
        "ORDER BY contact",
        owner.domain(), owner.local());
    while (st.step())
      if (auto j = jid::parse(st.column_text(0))) out.push_back({*j, st.column_text(1)});
    return out;
  }

  // roster_items_presence (migration 3) covers the query: an index range scan only.
  static std::vector<contact_sub> read_presence_contacts(connection& c, const jid& owner) {
    std::vector<contact_sub> out;
    auto st = c.prepare(
        "SELECT contact, sub FROM roster_items WHERE host = ?1 AND user = ?2 AND visible = 1 "
        "AND (sub & 3) != 0 ORDER BY contact",
        owner.domain(), owner.local());
    while (st.step()) out.push_back({st.column_text(0), static_cast<subscription>(st.column_int64(1) & 3)});
    return out;
  }

  asio::awaitable<std::vector<pending_request>> pending(jid owner) override {
    auto work = [owner](connection& c) { return read_pending(c, owner); };
    co_return co_await db_.read(std::move(work));
  }

  asio::awaitable<std::vector<std::string>> subscribers(jid contact) override {
    auto work = [contact](connection& c) {
      std::vector<std::string> out;
      // roster_items_contact (migration 3) covers this: a range scan of the contact's index
      // entries; the state is read as read_row() reads it.
      auto st = c.prepare("SELECT user, host FROM roster_items WHERE contact = ?1 AND (sub & 3) IN (?2, ?3)",
                          contact.bare_str(), static_cast<int64_t>(subscription::from),
                          static_cast<int64_t>(subscription::both));
      while (st.step()) out.push_back(st.column_text(0) + "@" + st.column_text(1));
      return out;
    };
    co_return co_await db_.read(std::move(work));
  }

  asio::awaitable<std::vector<contact_sub>> presence_contacts(jid owner) override {
    auto work = [owner](connection& c) { return read_presence_contacts(c, owner); };
    co_return co_await db_.read(std::move(work));
  }

  asio::awaitable<initial_presence_data> initial_presence(jid owner) override {
    auto work = [owner](connection& c) {
      initial_presence_data d;
      storage::transaction tx(c, storage::transaction::kind::deferred);
      d.contacts = read_presence_contacts(c, owner);
      d.pending = read_pending(c, owner);
      tx.commit();
      return d;
    };
    co_return co_await db_.read(std::move(work));
  }

 private:
  storage::sqlite_database& db_;
};

}  // namespace

const std::vector<storage::migration>& sqlite_roster_migrations() {
  static const std::vector<storage::migration> m{
      {"roster", 1,
       "CREATE TABLE roster_items ("
       " host TEXT NOT NULL, user TEXT NOT NULL, contact TEXT NOT NULL,"
       " name TEXT NOT NULL DEFAULT '', groups TEXT NOT NULL DEFAULT '',"
       " sub INTEGER NOT NULL DEFAULT 0, pending_out INTEGER NOT NULL DEFAULT 0,"
       " pending_in INTEGER NOT NULL DEFAULT 0, approved INTEGER NOT NULL DEFAULT 0,"
       " visible INTEGER NOT NULL DEFAULT 1, request_status TEXT NOT NULL DEFAULT '',"
       " PRIMARY KEY (host, user, contact),"
       " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE);"
       "CREATE TABLE roster_versions ("
       " host TEXT NOT NULL, user TEXT NOT NULL, ver INTEGER NOT NULL,"
       " PRIMARY KEY (host, user),"
       " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE);"},
      // RFC 6121 §2.6.3 deltas: the version of each row's last change, tombstones for removed
      // rows, and the horizon below which removals are no longer known. Rosters that existed
      // before this step start with the horizon at their current version (full roster once).
      {"roster", 2,
       "ALTER TABLE roster_items ADD COLUMN ver INTEGER NOT NULL DEFAULT 0;"
       "ALTER TABLE roster_versions ADD COLUMN horizon INTEGER NOT NULL DEFAULT 0;"
       "UPDATE roster_versions SET horizon = ver;"
       "CREATE TABLE roster_tombstones ("
       " host TEXT NOT NULL, user TEXT NOT NULL, contact TEXT NOT NULL, ver INTEGER NOT NULL,"
       " PRIMARY KEY (host, user, contact),"
       " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE);"
       "CREATE INDEX roster_items_ver ON roster_items (host, user, ver);"
       "CREATE INDEX roster_tombstones_ver ON roster_tombstones (host, user, ver);"},
      // RFC 6121 §4.3.2: who may see a user's presence is asked by contact, for all the probes
      // of a login at once (roster_store::subscribers).
      // Both indexes cover their queries (no table look-up per row); the second serves the
      // presence broadcasts of every login and logout (roster_store::presence_contacts).
      {"roster", 3,
       "CREATE INDEX roster_items_contact ON roster_items (contact, sub, host, user);"
       "CREATE INDEX roster_items_presence ON roster_items (host, user, visible, contact, sub);"},
      // Pending inbound requests (RFC 6121 §3.1.3), read at every login: a partial index of the
      // few rows with one, covering the query, instead of a scan of the whole roster (issue 6).
      {"roster", 4,
       "CREATE INDEX roster_items_pending ON roster_items (host, user, pending_in, contact, request_status) "
       "WHERE pending_in = 1;"}};
  return m;
}

std::unique_ptr<roster_store> make_sqlite_roster_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_roster_store>(db);
}

std::unique_ptr<roster_store> make_sqlite_roster_store(server& srv) {
  // The account's roster goes with it through the foreign keys, also when starlingctl deletes
  // the account. (Other users' items pointing at it stay: their subscriptions are theirs to
  // cancel, RFC 6121 §2.5.)
  srv.add_migrations(sqlite_roster_migrations());
  return make_sqlite_roster_store(srv.sqlite());
}

}  // namespace starling::roster
