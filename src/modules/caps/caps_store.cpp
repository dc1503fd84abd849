// SQLite store of the caps cache.
#include "modules/caps/caps_store.hpp"

#include <ctime>

#include "storage/sqlite.hpp"

namespace starling::modules {

namespace {

using storage::connection;

class sqlite_caps_store final : public caps_store {
 public:
  explicit sqlite_caps_store(storage::sqlite_database& db) : db_(db) {}

  boost::asio::awaitable<std::optional<std::string>> get(std::string hash, std::string ver) override {
    auto work = [hash = std::move(hash), ver = std::move(ver)](connection& c) {
      std::optional<std::string> r;
      auto st = c.prepare("SELECT info FROM caps_cache WHERE hash = ?1 AND ver = ?2", hash, ver);
      if (st.step()) r = st.column_text(0);
      return r;
    };
    try {
      auto op = db_.read(std::move(work));
      co_return co_await std::move(op);
    } catch (const std::exception&) {
      co_return std::nullopt;
    }
  }

  boost::asio::awaitable<void> put(std::string hash, std::string ver, std::string info) override {
    auto work = [hash = std::move(hash), ver = std::move(ver), info = std::move(info)](connection& c) {
      c.execute(
          "INSERT INTO caps_cache (hash, ver, info, verified) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT (hash, ver) DO NOTHING",
          hash, ver, info, static_cast<int64_t>(std::time(nullptr)));
    };
    try {
      auto op = db_.run(std::move(work));
      co_await std::move(op);
    } catch (const std::exception&) {
      // A cache write that fails only costs a query later.
    }
  }

 private:
  storage::sqlite_database& db_;
};

}  // namespace

std::unique_ptr<caps_store> make_sqlite_caps_store(storage::sqlite_database& db) {
  return std::make_unique<sqlite_caps_store>(db);
}

}  // namespace starling::modules
