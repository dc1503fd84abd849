// SQLite store of XEP-0357 registrations; rows go with the account (foreign key).
#include "modules/push/push_store.hpp"

#include "storage/sqlite.hpp"

namespace starling::modules::push {

namespace {
using storage::connection;

class sqlite_push_store final : public push_store {
 public:
  explicit sqlite_push_store(storage::sqlite_database& db) : db_(db) {}

  boost::asio::awaitable<std::optional<std::vector<registration>>> list(jid bare) override {
    auto work = [host = bare.domain(), user = bare.local()](connection& c) {
      std::vector<registration> out;
      auto st = c.prepare(
          "SELECT service, node, options FROM push_registrations WHERE host = ?1 AND user = ?2 ORDER BY created",
          host, user);
      while (st.step()) out.push_back({st.column_text(0), st.column_text(1), st.column_text(2)});
      return out;
    };
    try {
      auto op = db_.read(std::move(work));
      co_return co_await std::move(op);
    } catch (const std::exception&) {
      co_return std::nullopt;
    }
  }

  boost::asio::awaitable<put_result> put(jid bare, registration r, uint32_t limit) override {
    auto work = [host = bare.domain(), user = bare.local(), r = std::move(r), limit](connection& c) {
      auto exists = c.prepare(
          "SELECT 1 FROM push_registrations WHERE host = ?1 AND user = ?2 AND service = ?3 AND node = ?4", host,
          user, r.service, r.node);
      if (!exists.step()) {
        auto n = c.prepare("SELECT COUNT(*) FROM push_registrations WHERE host = ?1 AND user = ?2", host, user);
        n.step();
        if (n.column_int64(0) >= static_cast<int64_t>(limit)) return put_result::full;
      }
      c.execute(
          "INSERT INTO push_registrations (host, user, service, node, options, created) "
          "VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s','now')) "
          "ON CONFLICT (host, user, service, node) DO UPDATE SET options = excluded.options",
          host, user, r.service, r.node, r.options);
      return put_result::stored;
    };
    try {
      auto op = db_.run(std::move(work));
      co_return co_await std::move(op);
    } catch (const std::exception&) {
      co_return put_result::failed;
    }
  }

  boost::asio::awaitable<bool> remove(jid bare, std::string service, std::string node) override {
    auto work = [host = bare.domain(), user = bare.local(), service = std::move(service),
                 node = std::move(node)](connection& c) {
      if (node.empty())
        c.execute("DELETE FROM push_registrations WHERE host = ?1 AND user = ?2 AND service = ?3", host, user,
                  service);
      else
        c.execute("DELETE FROM push_registrations WHERE host = ?1 AND user = ?2 AND service = ?3 AND node = ?4",
                  host, user, service, node);
    };
    try {
      auto op = db_.run(std::move(work));
      co_await std::move(op);
      co_return true;
    } catch (const std::exception&) {
      co_return false;
    }
  }

 private:
  storage::sqlite_database& db_;
};
}  // namespace

std::vector<storage::migration> push_migrations() {
  return {{"push", 1,
           "CREATE TABLE push_registrations ("
           " host TEXT NOT NULL,"
           " user TEXT NOT NULL,"
           " service TEXT NOT NULL,"  // app server JID (XEP-0357 §5)
           " node TEXT NOT NULL,"
           " options TEXT NOT NULL,"  // publish-options form, XML text
           " created INTEGER NOT NULL,"
           " PRIMARY KEY (host, user, service, node),"
           " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE"
           ")"}};
}

std::unique_ptr<push_store> make_sqlite_push_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_push_store>(db);
}

}  // namespace starling::modules::push
