#include "modules/offline/offline_store.hpp"

#include <fmt/format.h>

namespace starling::modules {
using storage::connection;

std::string offline_node(const offline_message& m) { return fmt::format("{}-{:012}", m.stamp, m.id); }

std::optional<int64_t> parse_offline_node(std::string_view node) {
  auto dash = node.rfind('-');
  if (dash == std::string_view::npos || node.size() - dash - 1 != 12) return std::nullopt;
  int64_t id = 0;
  for (char c : node.substr(dash + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + (c - '0');
  }
  return id;
}

std::vector<storage::migration> offline_store::migrations() {
  return {{"offline", 1, R"sql(
CREATE TABLE offline_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: XEP-0013 nodes stay unique
  host TEXT NOT NULL,
  user TEXT NOT NULL,
  stamp TEXT NOT NULL,                  -- XEP-0082 UTC, the <delay/> stamp
  sender TEXT NOT NULL,                 -- the message's 'from'
  stanza TEXT NOT NULL,                 -- serialized <message/> with its <delay/>
  FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE
);
CREATE INDEX offline_messages_owner ON offline_messages (host, user, id);
)sql"}};
}

boost::asio::awaitable<offline_store_result> offline_store::store(std::string host, std::string user,
                                                                  offline_message m, int64_t quota, bool keep) {
  auto work = [host = std::move(host), user = std::move(user), m = std::move(m), quota,
               keep](connection& c) -> offline_store_result {
    storage::transaction tx(c);
    auto acc = c.prepare("SELECT 1 FROM accounts WHERE host = ?1 AND user = ?2", host, user);
    if (!acc.step()) return offline_store_result::no_account;
    if (!keep) return offline_store_result::not_stored;
    auto n = c.prepare("SELECT count(*) FROM offline_messages WHERE host = ?1 AND user = ?2", host, user);
    n.step();
    if (n.column_int64(0) >= quota) return offline_store_result::full;
    c.execute("INSERT INTO offline_messages (host, user, stamp, sender, stanza) VALUES (?1, ?2, ?3, ?4, ?5)",
              host, user, m.stamp, m.sender, m.stanza);
    tx.commit();
    return offline_store_result::stored;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return offline_store_result::failed;
  }
}

boost::asio::awaitable<std::optional<int64_t>> offline_store::count(std::string host, std::string user) {
  auto work = [host = std::move(host), user = std::move(user)](connection& c) {
    auto st = c.prepare("SELECT count(*) FROM offline_messages WHERE host = ?1 AND user = ?2", host, user);
    st.step();
    return st.column_int64(0);
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return std::nullopt;
  }
}

std::optional<bool> offline_store::any_now(const std::string& host, const std::string& user) {
  auto work = [&host, &user](connection& c) {
    auto st = c.prepare("SELECT EXISTS (SELECT 1 FROM offline_messages WHERE host = ?1 AND user = ?2)", host, user);
    st.step();
    return st.column_int64(0) != 0;
  };
  try {
    return db_.read_now(work);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

namespace {
offline_message row(storage::statement& st, bool with_stanza) {
  offline_message m;
  m.id = st.column_int64(0);
  m.stamp = st.column_text(1);
  m.sender = st.column_text(2);
  if (with_stanza) m.stanza = st.column_text(3);
  return m;
}
}  // namespace

boost::asio::awaitable<std::optional<std::vector<offline_message>>> offline_store::list(std::string host,
                                                                                       std::string user,
                                                                                       bool headers_only) {
  // On the writer: sees every store() issued before, even one not yet completed.
  auto work = [host = std::move(host), user = std::move(user), headers_only](connection& c) {
    std::vector<offline_message> out;
    auto st = c.prepare(headers_only
                            ? "SELECT id, stamp, sender FROM offline_messages WHERE host = ?1 AND user = ?2 ORDER BY id"
                            : "SELECT id, stamp, sender, stanza FROM offline_messages WHERE host = ?1 AND user = ?2 "
                              "ORDER BY id",
                        host, user);
    while (st.step()) out.push_back(row(st, !headers_only));
    return out;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return std::nullopt;
  }
}

boost::asio::awaitable<std::optional<std::vector<offline_message>>> offline_store::get(std::string host,
                                                                                      std::string user,
                                                                                      std::vector<int64_t> ids) {
  auto work = [host = std::move(host), user = std::move(user),
               ids = std::move(ids)](connection& c) -> std::optional<std::vector<offline_message>> {
    std::vector<offline_message> out;
    for (int64_t id : ids) {
      auto st = c.prepare("SELECT id, stamp, sender, stanza FROM offline_messages WHERE host = ?1 AND user = ?2 "
                          "AND id = ?3",
                          host, user, id);
      if (!st.step()) return std::nullopt;
      out.push_back(row(st, true));
    }
    return out;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return std::nullopt;
  }
}

boost::asio::awaitable<bool> offline_store::remove(std::string host, std::string user, std::vector<int64_t> ids,
                                                   bool all_or_nothing) {
  auto work = [host = std::move(host), user = std::move(user), ids = std::move(ids),
               all_or_nothing](connection& c) {
    storage::transaction tx(c);
    for (int64_t id : ids) {
      int64_t n = c.execute("DELETE FROM offline_messages WHERE host = ?1 AND user = ?2 AND id = ?3", host, user, id);
      if (n == 0 && all_or_nothing) return false;  // rolled back
    }
    tx.commit();
    return true;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return false;
  }
}

boost::asio::awaitable<bool> offline_store::purge(std::string host, std::string user) {
  auto work = [host = std::move(host), user = std::move(user)](connection& c) {
    c.execute("DELETE FROM offline_messages WHERE host = ?1 AND user = ?2", host, user);
    return true;
  };
  try {
    co_return co_await db_.run(std::move(work));
  } catch (const std::exception&) {
    co_return false;
  }
}

}  // namespace starling::modules
