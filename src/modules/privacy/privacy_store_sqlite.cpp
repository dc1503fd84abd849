// SQLite backend of the privacy store (XEP-0016 lists and XEP-0191 blocklist). Rows are tied
// to the account by cascading foreign keys, so they go when the account is deleted.
#include <spdlog/spdlog.h>

#include "core/server.hpp"
#include "modules/privacy/privacy_store.hpp"

namespace starling::privacy {
namespace {

using storage::connection;

constexpr const char* schema_v1 = R"sql(
CREATE TABLE privacy_lists (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  is_default INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (host, user, name),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
) WITHOUT ROWID;
-- XEP-0016 §2.1: one row per item; 'ord' is the item's unique order within its list.
CREATE TABLE privacy_items (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  ord INTEGER NOT NULL,
  type TEXT NOT NULL,       -- '', 'jid', 'group', 'subscription'
  value TEXT NOT NULL,
  action INTEGER NOT NULL,  -- 0 allow, 1 deny
  kinds INTEGER NOT NULL,   -- bit set: 1 message, 2 iq, 4 presence-in, 8 presence-out; 0 all
  PRIMARY KEY (host, user, name, ord),
  FOREIGN KEY (host, user, name) REFERENCES privacy_lists (host, user, name) ON DELETE CASCADE
) WITHOUT ROWID;
-- XEP-0191: blocked JIDs.
CREATE TABLE blocklist (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  jid TEXT NOT NULL,
  PRIMARY KEY (host, user, jid),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
) WITHOUT ROWID;
)sql";

class sqlite_store final : public store {
 public:
  explicit sqlite_store(server& srv) : srv_(srv) {}

  boost::asio::awaitable<std::optional<account_data>> load(jid bare) override {
    auto work = [bare](connection& c) {
      account_data d;
      const std::string& host = bare.domain();
      const std::string& user = bare.local();
      // One read transaction for lists, items and blocklist: one consistent snapshot (a list
      // changed meanwhile by another session is not seen half old, half new) and one WAL read
      // lock per login instead of one per statement (issue 6).
      storage::transaction tx(c, storage::transaction::kind::deferred);
      {
        auto st = c.prepare("SELECT name, is_default FROM privacy_lists WHERE host = ?1 AND user = ?2 ORDER BY name",
                            host, user);
        while (st.step()) {
          list l;
          l.name = st.column_text(0);
          if (st.column_int64(1)) d.default_list = l.name;
          d.lists.push_back(std::move(l));
        }
      }
      for (list& l : d.lists) {
        auto st = c.prepare(
            "SELECT ord, type, value, action, kinds FROM privacy_items WHERE host = ?1 AND user = ?2 AND name = ?3 "
            "ORDER BY ord",
            host, user, l.name);
        while (st.step()) {
          item it;
          it.order = static_cast<uint32_t>(st.column_int64(0));
          it.type = item_type_from(st.column_text(1)).value_or(item_type::fall_through);
          it.value = st.column_text(2);
          if (it.type == item_type::jid) {
            auto j = jid::parse(it.value);
            if (!j) continue;  // cannot happen: validated before storing
            it.value_jid = *j;
          }
          it.act = st.column_int64(3) ? action::deny : action::allow;
          it.kinds = static_cast<unsigned>(st.column_int64(4));
          l.items.push_back(std::move(it));
        }
      }
      {
        auto st = c.prepare("SELECT jid FROM blocklist WHERE host = ?1 AND user = ?2 ORDER BY jid", host, user);
        while (st.step())
          if (auto j = jid::parse(st.column_text(0))) d.blocklist.push_back(*j);
      }
      tx.commit();
      return d;
    };
    try {
      auto d = co_await srv_.sqlite().read(std::move(work));
      co_return d;
    } catch (const std::exception& e) {
      spdlog::error("privacy: loading {}: {}", bare.str(), e.what());
      co_return std::nullopt;
    }
  }

  boost::asio::awaitable<bool> put_list(jid bare, list l) override {
    auto work = [bare, l = std::move(l)](connection& c) {
      storage::transaction tx(c);
      const std::string& host = bare.domain();
      const std::string& user = bare.local();
      c.execute("INSERT INTO privacy_lists (host, user, name) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", host,
                user, l.name);
      c.execute("DELETE FROM privacy_items WHERE host = ?1 AND user = ?2 AND name = ?3", host, user, l.name);
      for (const item& it : l.items)
        c.execute(
            "INSERT INTO privacy_items (host, user, name, ord, type, value, action, kinds) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            host, user, l.name, static_cast<int64_t>(it.order), to_string(it.type), it.value,
            it.act == action::deny ? 1 : 0, static_cast<int64_t>(it.kinds));
      tx.commit();
    };
    co_return co_await write(std::move(work), "storing a list");
  }

  boost::asio::awaitable<bool> remove_list(jid bare, std::string name) override {
    auto work = [bare, name = std::move(name)](connection& c) {
      c.execute("DELETE FROM privacy_lists WHERE host = ?1 AND user = ?2 AND name = ?3", bare.domain(),
                bare.local(), name);
    };
    co_return co_await write(std::move(work), "removing a list");
  }

  boost::asio::awaitable<bool> set_default(jid bare, std::optional<std::string> name) override {
    auto work = [bare, name = std::move(name)](connection& c) {
      storage::transaction tx(c);
      c.execute("UPDATE privacy_lists SET is_default = 0 WHERE host = ?1 AND user = ?2 AND is_default", bare.domain(),
                bare.local());
      if (name)
        c.execute("UPDATE privacy_lists SET is_default = 1 WHERE host = ?1 AND user = ?2 AND name = ?3",
                  bare.domain(), bare.local(), *name);
      tx.commit();
    };
    co_return co_await write(std::move(work), "setting the default list");
  }

  boost::asio::awaitable<bool> block(jid bare, std::vector<jid> items) override {
    auto work = [bare, items = std::move(items)](connection& c) {
      storage::transaction tx(c);
      for (const jid& j : items)
        c.execute("INSERT INTO blocklist (host, user, jid) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                  bare.domain(), bare.local(), j.str());
      tx.commit();
    };
    co_return co_await write(std::move(work), "blocking");
  }

  boost::asio::awaitable<bool> unblock(jid bare, std::vector<jid> items) override {
    auto work = [bare, items = std::move(items)](connection& c) {
      storage::transaction tx(c);
      if (items.empty())
        c.execute("DELETE FROM blocklist WHERE host = ?1 AND user = ?2", bare.domain(), bare.local());
      for (const jid& j : items)
        c.execute("DELETE FROM blocklist WHERE host = ?1 AND user = ?2 AND jid = ?3", bare.domain(), bare.local(),
                  j.str());
      tx.commit();
    };
    co_return co_await write(std::move(work), "unblocking");
  }

 private:
  template <class F>
  boost::asio::awaitable<bool> write(F work, const char* what) {
    try {
      co_await srv_.sqlite().run(std::move(work));
      co_return true;
    } catch (const std::exception& e) {
      spdlog::error("privacy: {}: {}", what, e.what());
      co_return false;
    }
  }

  server& srv_;
};

}  // namespace

std::unique_ptr<store> make_sqlite_store(server& srv) {
  srv.add_migrations({{"privacy", 1, schema_v1}});
  return std::make_unique<sqlite_store>(srv);
}

}  // namespace starling::privacy
