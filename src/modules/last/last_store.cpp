// SQLite store of last activity.
#include "modules/last/last_store.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>

#include "storage/batch_writer.hpp"
#include "storage/sqlite.hpp"

namespace starling::modules {

namespace {

using storage::connection;

// Logout records are group-committed (storage::batch_writer): a login cycle used to cost the
// writer thread a wake-up and a write transaction of its own for its logout record, about 6 %
// of the server's CPU per login (issue 6). Until its batch is committed a record is kept in
// `pending_`, which get()/get_many() consult first, so this process answers from the newest
// record at once; only another process (starlingctl) sees it up to `logout_write_delay` late.
// Several logouts of one account before the write leave one row write: the newest.
constexpr std::chrono::milliseconds logout_write_delay{50};

struct queued_logout {
  std::string key;  // bare JID
  std::string host, user;
  uint64_t seq = 0;
  last_record record;
};

class sqlite_last_store final : public last_store {
 public:
  explicit sqlite_last_store(storage::sqlite_database& db)
      : db_(db),
        writer_(db, storage::batch_writer<queued_logout>::options{512, logout_write_delay},
                [this](connection& c, std::vector<queued_logout>& batch) { write_batch(c, batch); },
                [](const std::exception& e, size_t n) {
                  spdlog::error("last: {} logout records not written: {}", n, e.what());
                }) {}

  ~sqlite_last_store() override { writer_.close(); }

  void close() override { writer_.close(); }

  boost::asio::awaitable<last_lookup> get(jid bare) override {
    if (auto r = pending(bare.bare_str())) co_return last_lookup{false, std::move(r)};
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
    std::unordered_map<std::string, last_record> queued;
    {
      std::lock_guard lock(mutex_);
      if (!pending_.empty()) {
        std::erase_if(bare, [&](const jid& j) {
          auto it = pending_.find(j.bare_str());
          if (it == pending_.end()) return false;
          queued.emplace(it->first, it->second.record);
          return true;
        });
      }
    }
    if (bare.empty()) co_return std::pair{false, std::move(queued)};
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
    // A record queued meanwhile is newer than the row just read.
    for (auto& [k, r] : queued) result.second.insert_or_assign(k, std::move(r));
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
    queued_logout q{bare.bare_str(), bare.domain(), bare.local(), 0, std::move(r)};
    {
      std::lock_guard lock(mutex_);
      q.seq = ++seq_;
      pending_.insert_or_assign(q.key, pending_record{q.seq, q.record});
    }
    writer_.push(std::move(q));
  }

  boost::asio::awaitable<bool> put(jid bare, last_record r) override {
    {
      // This write supersedes a queued one (which is then skipped, see write_batch).
      std::lock_guard lock(mutex_);
      pending_.erase(bare.bare_str());
    }
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
  struct pending_record {
    uint64_t seq;
    last_record record;
  };

  std::optional<last_record> pending(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(key);
    if (it == pending_.end()) return std::nullopt;
    return it->second.record;
  }

  // Writer thread: one transaction for the batch. Only the newest queued record of an account
  // is written (older ones, and ones superseded by put(), are skipped); each row in a savepoint
  // of its own, so one failure loses only that record. A record leaves `pending_` after the
  // commit, so a reader that no longer finds it there finds its row.
  void write_batch(connection& c, std::vector<queued_logout>& batch) {
    std::vector<const queued_logout*> todo;
    todo.reserve(batch.size());
    {
      std::lock_guard lock(mutex_);
      for (const auto& q : batch) {
        auto it = pending_.find(q.key);
        if (it != pending_.end() && it->second.seq == q.seq) todo.push_back(&q);
      }
    }
    if (!todo.empty()) {
      storage::transaction tx(c);
      for (const queued_logout* q : todo) {
        c.exec_script("SAVEPOINT logout");
        try {
          write(c, q->host, q->user, q->record);
          c.exec_script("RELEASE logout");
        } catch (const std::exception& e) {
          spdlog::error("last: logout record of {}: {}", q->key, e.what());
          c.exec_script("ROLLBACK TO logout; RELEASE logout");
        }
      }
      tx.commit();
    }
    std::lock_guard lock(mutex_);
    for (const queued_logout* q : todo) {
      auto it = pending_.find(q->key);
      if (it != pending_.end() && it->second.seq == q->seq) pending_.erase(it);
    }
  }

  storage::sqlite_database& db_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, pending_record> pending_;  // queued, not committed yet
  uint64_t seq_ = 0;
  // Last member: destroyed (and flushed) while the rest is still there.
  storage::batch_writer<queued_logout> writer_;
};

}  // namespace

const std::vector<storage::migration>& sqlite_last_migrations() {
  static const std::vector<storage::migration> m{
      {"last", 1,
       "CREATE TABLE last_activity ("
       " host TEXT NOT NULL,"
       " user TEXT NOT NULL,"
       " logout INTEGER NOT NULL,"  // unix seconds when the last session ended
       " status TEXT NOT NULL,"     // <status/> of the last unavailable presence
       " PRIMARY KEY (host, user),"
       // Removed with the account, also by starlingctl deluser.
       " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE"
       ") WITHOUT ROWID"}};
  return m;
}

std::unique_ptr<last_store> make_sqlite_last_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_last_store>(db);
}

}  // namespace starling::modules
