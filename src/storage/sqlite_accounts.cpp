#include "storage/sqlite_accounts.hpp"

#include <chrono>
#include <limits>

#include "storage/sqlite.hpp"

namespace starling::storage {

const std::vector<migration>& core_migrations() {
  // Released versions are never edited: a change to the schema is a new step.
  static const std::vector<migration> steps = {
      {"core", 1,
       R"sql(
CREATE TABLE accounts (
  host TEXT NOT NULL,
  user TEXT NOT NULL,       -- PRECIS-enforced localpart
  created INTEGER NOT NULL, -- unix seconds
  PRIMARY KEY (host, user)
) WITHOUT ROWID;

-- RFC 5802 §3: what the server needs to verify SCRAM, never the password. One row per hash.
CREATE TABLE credentials (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  alg TEXT NOT NULL,        -- IANA SCRAM hash name: SHA-1, SHA-256, SHA-512
  salt BLOB NOT NULL,
  iterations INTEGER NOT NULL,
  stored_key BLOB NOT NULL,
  server_key BLOB NOT NULL,
  PRIMARY KEY (host, user, alg),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
) WITHOUT ROWID;
)sql"},
  };
  return steps;
}

namespace {

// Our own names for the algorithms: the stored form must not change if a display name does.
std::string_view alg_name(sasl::hash_alg alg) {
  switch (alg) {
    case sasl::hash_alg::sha1: return "SHA-1";
    case sasl::hash_alg::sha256: return "SHA-256";
    case sasl::hash_alg::sha512: return "SHA-512";
  }
  throw sqlite_error(SQLITE_MISUSE, "unknown hash algorithm");
}

std::optional<sasl::hash_alg> parse_alg(std::string_view name) {
  if (name == "SHA-1") return sasl::hash_alg::sha1;
  if (name == "SHA-256") return sasl::hash_alg::sha256;
  if (name == "SHA-512") return sasl::hash_alg::sha512;
  return std::nullopt;
}

void insert_credentials(connection& c, const std::string& host, const std::string& user,
                        const std::vector<sasl::scram_credentials>& creds) {
  for (const auto& cr : creds) {
    c.execute(
        "INSERT INTO credentials (host, user, alg, salt, iterations, stored_key, server_key)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        host, user, alg_name(cr.alg), blob{cr.salt}, cr.iterations, blob{cr.stored_key},
        blob{cr.server_key});
  }
}

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class sqlite_account_store final : public account_store {
 public:
  explicit sqlite_account_store(sqlite_database& db) : db_(db) {}

  awaitable<std::optional<account>> get(std::string host, std::string user) override {
    try {
      auto work = [host = std::move(host), user = std::move(user)](connection& c) {
        // One statement, hence one snapshot: the account and its credentials always match,
        // even if set_credentials() commits meanwhile.
        auto st = c.prepare(
            "SELECT a.created, c.alg, c.salt, c.iterations, c.stored_key, c.server_key"
            " FROM accounts a LEFT JOIN credentials c ON c.host = a.host AND c.user = a.user"
            " WHERE a.host = ?1 AND a.user = ?2 ORDER BY c.alg",
            host, user);
        std::optional<account> acc;
        while (st.step()) {
          if (!acc) {
            acc.emplace();
            acc->host = host;
            acc->user = user;
            acc->created = st.column_int64(0);
          }
          if (st.column_is_null(1)) continue;  // an account without credentials
          // Rows this build cannot use (an algorithm added by a newer one, a corrupt count)
          // are skipped: the account stays usable with the others.
          auto alg = parse_alg(st.column_text(1));
          int64_t iterations = st.column_int64(3);
          if (!alg || iterations <= 0 || iterations > std::numeric_limits<uint32_t>::max()) continue;
          sasl::scram_credentials cr;
          cr.alg = *alg;
          cr.salt = st.column_blob(2);
          cr.iterations = static_cast<uint32_t>(iterations);
          cr.stored_key = st.column_blob(4);
          cr.server_key = st.column_blob(5);
          acc->credentials.push_back(std::move(cr));
        }
        return acc;
      };
      auto result = co_await db_.read(std::move(work));
      co_return result;
    } catch (const std::exception&) {
      co_return std::nullopt;
    }
  }

  awaitable<write_result> create(account acc) override {
    try {
      auto work = [acc = std::move(acc)](connection& c) {
        transaction t(c);
        // ON CONFLICT DO NOTHING reports a duplicate as "0 rows changed" instead of an error,
        // and only for the primary key: other constraint failures still throw.
        int64_t changed = c.execute(
            "INSERT INTO accounts (host, user, created) VALUES (?1, ?2, ?3)"
            " ON CONFLICT (host, user) DO NOTHING",
            acc.host, acc.user, acc.created != 0 ? acc.created : now_unix());
        if (changed == 0) return write_result::exists;
        insert_credentials(c, acc.host, acc.user, acc.credentials);
        t.commit();
        return write_result::ok;
      };
      auto result = co_await db_.run(std::move(work));
      co_return result;
    } catch (const std::exception&) {
      co_return write_result::error;
    }
  }

  awaitable<write_result> set_credentials(std::string host, std::string user,
                                          std::vector<sasl::scram_credentials> creds) override {
    try {
      auto work = [host = std::move(host), user = std::move(user),
                                      creds = std::move(creds)](connection& c) {
        transaction t(c);
        auto st = c.prepare("SELECT 1 FROM accounts WHERE host = ?1 AND user = ?2", host, user);
        if (!st.step()) return write_result::not_found;
        st = statement();  // done with it: back to the cache
        c.execute("DELETE FROM credentials WHERE host = ?1 AND user = ?2", host, user);
        insert_credentials(c, host, user, creds);
        t.commit();
        return write_result::ok;
      };
      auto result = co_await db_.run(std::move(work));
      co_return result;
    } catch (const std::exception&) {
      co_return write_result::error;
    }
  }

  awaitable<write_result> remove(std::string host, std::string user) override {
    try {
      auto work = [this, host = std::move(host), user = std::move(user)](connection& c) {
        transaction t(c);
        // Credentials and every table with a cascading foreign key to accounts go with the row;
        // hooks clean up the rest, in the same transaction, so removal is all or nothing.
        if (c.execute("DELETE FROM accounts WHERE host = ?1 AND user = ?2", host, user) == 0) {
          return write_result::not_found;
        }
        db_.run_account_removal_hooks(c, host, user);
        t.commit();
        return write_result::ok;
      };
      auto result = co_await db_.run(std::move(work));
      co_return result;
    } catch (const std::exception&) {
      co_return write_result::error;
    }
  }

  awaitable<std::vector<std::string>> list(std::string host) override {
    try {
      auto work = [host = std::move(host)](connection& c) {
        std::vector<std::string> users;
        // BINARY collation on UTF-8 text: code point order, the same on every platform.
        auto st = c.prepare("SELECT user FROM accounts WHERE host = ?1 ORDER BY user", host);
        while (st.step()) users.push_back(st.column_text(0));
        return users;
      };
      auto result = co_await db_.read(std::move(work));
      co_return result;
    } catch (const std::exception&) {
      co_return std::vector<std::string>{};
    }
  }

 private:
  sqlite_database& db_;
};

}  // namespace

std::unique_ptr<account_store> make_sqlite_account_store(sqlite_database& db) {
  return std::make_unique<sqlite_account_store>(db);
}

}  // namespace starling::storage
