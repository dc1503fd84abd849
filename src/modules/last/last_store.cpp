// SQLite store of last activity.
#include "modules/last/last_store.hpp"

#include <spdlog/spdlog.h>

#include "storage/sqlite.hpp"

namespace starling::modules {

namespace {

using storage::connection;

class sqlite_last_store final : public last_store {
 public:
  explicit sqlite_last_store(storage::sqlite_database& db) : db_(db) {}

  boost::asio::awaitable<last_lookup> get(jid bare) override {
    auto work = [host = bare.domain(), user = bare.local()](connection& c) {
      std::optional<last_record> r;
      auto st = c.prepare("SELECT logout, status FROM last_activity WHERE host = ?1 AND user = ?2", host, user);
      if (st.step()) r = last_record{st.column_int64(0), st.column_text(1)};
      return r;
    };
    last_lookup out;
    try {
      auto op = db_.read(std::move(work));
      out.record = co_await std::move(op);
    } catch (const std::exception&) {
      out.failed = true;
    }
    co_return out;
  }

  boost::asio::awaitable<std::pair<bool, std::unordered_map<std::string, last_record>>> get_many(
      std::vector<jid> bare) override {
    auto work = [bare = std::move(bare)](connection& c) {
      std::unordered_map<std::string, last_record> out;
      // One read transaction and one prepared statement for all: the per-query cost of a read
      // (WAL read lock, page-cache validation) is paid once.
      storage::transaction tx(c, storage::transaction::kind::deferred);
      for (const jid& j : bare) {
        auto st = c.prepare("SELECT logout, status FROM last_activity WHERE host = ?1 AND user = ?2", j.domain(),
                            j.local());
        if (st.step()) out.emplace(j.bare_str(), last_record{st.column_int64(0), st.column_text(1)});
      }
      tx.commit();
      return out;
    };
    std::pair<bool, std::unordered_map<std::string, last_record>> result;
    try {
      auto op = db_.read(std::move(work));
      result.second = co_await std::move(op);
    } catch (const std::exception&) {
      result.first = true;
    }
    co_return result;
  }

  // INSERT OR IGNORE semantics for a deleted account: the foreign key would fail; the
  // account is gone and its activity with it.
  static void write(connection& c, const std::string& host, const std::string& user, const last_record& r) {
    c.execute(
        "INSERT INTO last_activity (host, user, logout, status) "
        "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM accounts WHERE host = ?1 AND user = ?2) "
        "ON CONFLICT (host, user) DO UPDATE SET logout = excluded.logout, status = excluded.status",
        host, user, r.logout, r.status);
  }

  void put_later(jid bare, last_record r) override {
    auto work = [host = bare.domain(), user = bare.local(), r = std::move(r)](connection& c) {
      try {
        write(c, host, user, r);
      } catch (const std::exception& e) {
        spdlog::error("last: logout record of {}@{}: {}", user, host, e.what());
        throw;  // the database rolls this write back alone
      }
    };
    try {
      db_.post(std::move(work));
    } catch (const std::exception& e) {
      spdlog::warn("last: logout record of {} not written: {}", bare.str(), e.what());
    }
  }

  boost::asio::awaitable<bool> put(jid bare, last_record r) override {
    auto work = [host = bare.domain(), user = bare.local(), r = std::move(r)](connection& c) {
      write(c, host, user, r);
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

std::unique_ptr<last_store> make_sqlite_last_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_last_store>(db);
}

}  // namespace starling::modules
