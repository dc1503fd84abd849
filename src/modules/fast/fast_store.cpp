// XEP-0484 FAST token storage in SQLite (see fast_store.hpp).
#include "modules/fast/fast_store.hpp"

namespace starling::modules {
using storage::blob;
using storage::connection;

std::vector<storage::migration> fast_store::migrations() {
  return {{"fast", 1, R"sql(
CREATE TABLE fast_tokens (
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  agent TEXT NOT NULL,        -- SASL2 <user-agent id> (lower-case UUID)
  slot INTEGER NOT NULL,      -- 0 current, 1 new (XEP-0484 §5)
  mechanism TEXT NOT NULL,    -- HT-* mechanism the token is bound to
  key BLOB NOT NULL,          -- SHA-256(token): never the token itself
  issued INTEGER NOT NULL,    -- unix seconds
  expiry INTEGER NOT NULL,    -- unix seconds
  count INTEGER NOT NULL DEFAULT 0,  -- highest 'count' seen (replay protection)
  PRIMARY KEY (host, user, agent, slot),
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
) WITHOUT ROWID;
-- A password change replaces the credentials rows: every token of the account goes with the
-- old password, in the same transaction, whoever changed it (XEP-0077 or starlingctl).
CREATE TRIGGER fast_tokens_revoke_on_password_change AFTER DELETE ON credentials
BEGIN
  DELETE FROM fast_tokens WHERE host = OLD.host AND user = OLD.user;
END;
)sql"}};
}

fast_store::awaitable_tokens fast_store::load(std::string host, std::string user, std::string agent) {
  auto work = [host = std::move(host), user = std::move(user), agent = std::move(agent)](connection& c) {
    std::vector<fast_token> out;
    auto st = c.prepare(
        "SELECT slot, mechanism, key, issued, expiry, count FROM fast_tokens"
        " WHERE host = ?1 AND user = ?2 AND agent = ?3",
        host, user, agent);
    while (st.step()) {
      fast_token t;
      t.slot = st.column_int64(0) == 0 ? fast_slot::current : fast_slot::fresh;
      t.mechanism = st.column_text(1);
      t.key = st.column_blob(2);
      t.issued = st.column_int64(3);
      t.expiry = st.column_int64(4);
      t.count = st.column_int64(5);
      out.push_back(std::move(t));
    }
    return out;
  };
  try {
    co_return co_await db_.read(std::move(work));
  } catch (const std::exception&) {
    co_return std::nullopt;
  }
}

boost::asio::awaitable<bool> fast_store::used(std::string host, std::string user, std::string agent, fast_slot slot,
                                              std::optional<int64_t> count) {
  auto work = [host = std::move(host), user = std::move(user), agent = std::move(agent), slot, count](connection& c) {
    storage::transaction tx(c);
    if (slot == fast_slot::fresh) {
      c.execute("DELETE FROM fast_tokens WHERE host = ?1 AND user = ?2 AND agent = ?3 AND slot = 0", host, user, agent);
      c.execute("UPDATE fast_tokens SET slot = 0 WHERE host = ?1 AND user = ?2 AND agent = ?3 AND slot = 1", host, user,
                agent);
    }
    if (count)
      c.execute("UPDATE fast_tokens SET count = ?4 WHERE host = ?1 AND user = ?2 AND agent = ?3 AND slot = 0 AND count < ?4",
                host, user, agent, *count);
    tx.commit();
    return true;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return false;
  }
}

boost::asio::awaitable<bool> fast_store::issue(std::string host, std::string user, std::string agent, fast_token t) {
  auto work = [host = std::move(host), user = std::move(user), agent = std::move(agent), t = std::move(t)](connection& c) {
    // The account may have been removed meanwhile: the foreign key makes that an error.
    c.execute(
        "INSERT INTO fast_tokens (host, user, agent, slot, mechanism, key, issued, expiry, count)"
        " VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, 0)"
        " ON CONFLICT (host, user, agent, slot) DO UPDATE SET mechanism = excluded.mechanism,"
        " key = excluded.key, issued = excluded.issued, expiry = excluded.expiry, count = 0",
        host, user, agent, t.mechanism, blob{t.key}, t.issued, t.expiry);
    return true;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return false;
  }
}

boost::asio::awaitable<bool> fast_store::invalidate(std::string host, std::string user, std::string agent,
                                                    fast_slot slot) {
  auto work = [host = std::move(host), user = std::move(user), agent = std::move(agent), slot](connection& c) {
    c.execute("DELETE FROM fast_tokens WHERE host = ?1 AND user = ?2 AND agent = ?3 AND slot = ?4", host, user, agent,
              static_cast<int>(slot));
    return true;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return false;
  }
}

}  // namespace starling::modules
