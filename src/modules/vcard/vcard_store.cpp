// SQLite store of the vcard-temp module.
#include "modules/vcard/vcard_store.hpp"

#include "storage/sqlite.hpp"

namespace starling::modules {

namespace {

using storage::connection;

class sqlite_vcard_store final : public vcard_store {
 public:
  explicit sqlite_vcard_store(storage::sqlite_database& db) : db_(db) {}

  boost::asio::awaitable<vcard_lookup> get(jid bare) override {
    auto work = [host = bare.domain(), user = bare.local()](connection& c) {
      std::optional<vcard_record> r;
      auto st = c.prepare("SELECT xml, photo_hash FROM vcard WHERE host = ?1 AND user = ?2", host, user);
      if (st.step()) r = vcard_record{st.column_text(0), st.column_text(1)};
      return r;
    };
    vcard_lookup out;
    try {
      auto op = db_.read(std::move(work));
      out.record = co_await std::move(op);
    } catch (const std::exception&) {
      out.failed = true;
    }
    co_return out;
  }

  boost::asio::awaitable<bool> put(jid bare, vcard_record r) override {
    auto work = [host = bare.domain(), user = bare.local(), r = std::move(r)](connection& c) {
      c.execute(
          "INSERT INTO vcard (host, user, xml, photo_hash) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (host, user) DO UPDATE SET xml = excluded.xml, photo_hash = excluded.photo_hash",
          host, user, r.xml, r.photo_hash);
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

std::unique_ptr<vcard_store> make_sqlite_vcard_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_vcard_store>(db);
}

}  // namespace starling::modules
