// SQLite store of private XML storage.
#include "modules/private/private_store.hpp"

#include "storage/sqlite.hpp"

namespace starling::modules {

namespace {

using storage::connection;

class sqlite_private_store final : public private_store {
 public:
  explicit sqlite_private_store(storage::sqlite_database& db) : db_(db) {}

  boost::asio::awaitable<private_lookup> get(jid bare, std::string ns) override {
    auto work = [host = bare.domain(), user = bare.local(), ns = std::move(ns)](connection& c) {
      std::optional<std::string> r;
      auto st = c.prepare("SELECT xml FROM private_xml WHERE host = ?1 AND user = ?2 AND ns = ?3", host,
                          user, ns);
      if (st.step()) r = st.column_text(0);
      return r;
    };
    private_lookup out;
    try {
      auto op = db_.read(std::move(work));
      out.xml = co_await std::move(op);
    } catch (const std::exception&) {
      out.failed = true;
    }
    co_return out;
  }

  boost::asio::awaitable<private_put_result> put(jid bare, std::string ns, std::string xml,
                                                 size_t quota) override {
    auto work = [host = bare.domain(), user = bare.local(), ns = std::move(ns), xml = std::move(xml),
                 quota](connection& c) {
      // On the writer thread, calls run one at a time: check-then-write is race-free.
      int64_t others = 0;
      {
        auto st = c.prepare(
            "SELECT coalesce(sum(length(CAST(xml AS BLOB))), 0) FROM private_xml "
            "WHERE host = ?1 AND user = ?2 AND ns <> ?3",
            host, user, ns);
        st.step();
        others = st.column_int64(0);
      }
      if (static_cast<size_t>(others) + xml.size() > quota) return private_put_result::quota_exceeded;
      c.execute(
          "INSERT INTO private_xml (host, user, ns, xml) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (host, user, ns) DO UPDATE SET xml = excluded.xml",
          host, user, ns, xml);
      return private_put_result::ok;
    };
    try {
      auto op = db_.run(std::move(work));
      co_return co_await std::move(op);
    } catch (const std::exception&) {
      co_return private_put_result::failed;
    }
  }

 private:
  storage::sqlite_database& db_;
};

}  // namespace

std::unique_ptr<private_store> make_sqlite_private_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_private_store>(db);
}

}  // namespace starling::modules
