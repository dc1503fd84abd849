#include "storage/storage.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <tuple>

#include "storage/sqlite.hpp"
#include "storage/test_support.hpp"
#include "util/random.hpp"

namespace starling::storage {
// sqlite.cpp, for this test only (kept out of sqlite.hpp).
uint64_t wal_background_checkpoints(const sqlite_database& db);
namespace {

namespace asio = boost::asio;
using sasl::hash_alg;
using sasl::scram_credentials;

using starling::test_support::run_on;

scram_credentials creds(hash_alg alg, std::string tag, uint32_t iterations = 4096) {
  scram_credentials c;
  c.alg = alg;
  // Raw bytes, including NUL and high bytes, must survive as blobs.
  c.salt = std::string("salt\0\xff", 6) + tag;
  c.iterations = iterations;
  c.stored_key = "stored-" + tag + std::string(1, '\0');
  c.server_key = "server-" + tag + "\x80";
  return c;
}

account make_account(std::string host, std::string user, int64_t created = 1700000000) {
  account a;
  a.host = std::move(host);
  a.user = std::move(user);
  a.created = created;
  a.credentials = {creds(hash_alg::sha1, "1"), creds(hash_alg::sha256, "256"),
                   creds(hash_alg::sha512, "512")};
  return a;
}

void expect_same(const scram_credentials& a, const scram_credentials& b) {
  EXPECT_EQ(a.alg, b.alg);
  EXPECT_EQ(a.salt, b.salt);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.stored_key, b.stored_key);
  EXPECT_EQ(a.server_key, b.server_key);
}

const scram_credentials* find_alg(const account& a, hash_alg alg) {
  for (auto& c : a.credentials) {
    if (c.alg == alg) return &c;
  }
  return nullptr;
}

class storage_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-storage-" + util::random_token(12));
    std::filesystem::create_directories(dir_);
    file_ = dir_ / "sub" / "test.db";  // the parent directory is created by open
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  sqlite_database& open(sqlite_options opts = {}) {
    std::string error;
    db_ = open_sqlite_database(file_, opts, error);
    EXPECT_TRUE(db_) << error;
    EXPECT_EQ(error, "");
    return *db_;
  }

  // Direct access to the file, bypassing the storage code, to set up or inspect state.
  int64_t query_int(const std::string& sql) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(file_.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return v;
  }
  void exec_raw(const std::string& sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(file_.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
  }

  std::filesystem::path dir_;
  std::filesystem::path file_;
  std::unique_ptr<sqlite_database> db_;
  asio::io_context io_;
};

TEST_F(storage_test, open_sets_pragmas_and_core_schema) {
  auto& db = open();
  auto pragmas = db.run_blocking([](connection& c) {
    auto mode = c.prepare("PRAGMA journal_mode");
    mode.step();
    auto fk = c.prepare("PRAGMA foreign_keys");
    fk.step();
    auto sync = c.prepare("PRAGMA synchronous");
    sync.step();
    auto ckpt = c.prepare("PRAGMA wal_autocheckpoint");
    ckpt.step();
    return std::tuple(mode.column_text(0), fk.column_int64(0), sync.column_int64(0), ckpt.column_int64(0));
  });
  EXPECT_EQ(std::get<0>(pragmas), "wal");
  EXPECT_EQ(std::get<1>(pragmas), 1);
  EXPECT_EQ(std::get<2>(pragmas), 1);  // NORMAL: durability as documented, not weaker
  // The automatic checkpoint is replaced by the background one (sqlite.cpp).
  EXPECT_EQ(std::get<3>(pragmas), 0);
  // Reader connections have the same settings, and refuse writes.
  auto reader_fk = run_on(io_, db.read([](connection& c) {
    auto fk = c.prepare("PRAGMA foreign_keys");
    fk.step();
    return fk.column_int64(0);
  }));
  EXPECT_EQ(reader_fk, 1);
  EXPECT_THROW(run_on(io_, db.read([](connection& c) {
                 c.execute("INSERT INTO accounts (host, user, created) VALUES ('h', 'u', 0)");
               })),
               sqlite_error);
  db.close();
  EXPECT_EQ(query_int("SELECT version FROM schema_version WHERE module = 'core'"), 1);
}

// WAL checkpoints run on their own thread, not in the writer's commits, and the log still
// starts again from its beginning: the writer catches up after each background pass.
TEST_F(storage_test, checkpoints_run_in_the_background_and_the_log_restarts) {
  auto& db = open();
  db.run_blocking([](connection& c) { c.exec_script("CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)"); });
  const std::string payload(3000, 'x');  // one row per 4 KiB page
  // ~10,000 pages in 200 transactions: past the 8,000-page threshold once.
  for (int t = 0; t < 200; ++t) {
    db.run_blocking([&](connection& c) {
      transaction tx(c);
      for (int i = 0; i < 48; ++i) c.execute("INSERT INTO big (data) VALUES (?1)", blob{payload});
      tx.commit();
    });
  }
  // The pass and its catch-up finish (bounded wait).
  for (int i = 0; i < 1000 && wal_background_checkpoints(db) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(wal_background_checkpoints(db), 1u);
  // The log was copied to its end (by the writer's catch-up, whether it ran during the
  // transactions above or after them), so it started again from its beginning: after one
  // more transaction it holds only what came after the restart (< 2,100 frames), not the
  // ~10,000 frames a log that never restarts would hold.
  db.run_blocking([&](connection& c) { c.execute("INSERT INTO big (data) VALUES (?1)", blob{payload}); });
  auto frames = db.run_blocking([](connection& c) {
    auto st = c.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    st.step();
    return st.column_int64(1);  // frames in the log
  });
  EXPECT_LT(frames, 8000);
  // A thread of its own, named for per-thread CPU figures, at the lowest CPU priority so that
  // a pass does not delay the network threads sharing its core.
  bool named = false;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string name;
    std::getline(comm, name);
    const id_t tid = static_cast<id_t>(std::stol(t.path().filename().string()));
    errno = 0;
    const int prio = getpriority(PRIO_PROCESS, tid);
    EXPECT_EQ(errno, 0);
    if (name == "starling-dbc") {
      named = true;
      EXPECT_EQ(prio, 19);
    } else if (name == "starling-dbw") {
      // Only that thread: the writer keeps the priority it was started with (this thread's).
      EXPECT_EQ(prio, getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())));
    }
  }
  EXPECT_TRUE(named);
  db.close();
  EXPECT_EQ(query_int("SELECT count(*) FROM big"), 200 * 48 + 1);
}

TEST_F(storage_test, open_reports_errors_as_text) {
  std::filesystem::create_directories(dir_ / "a-directory");
  std::string error;
  auto db = open_sqlite(dir_ / "a-directory", error);
  EXPECT_FALSE(db);
  EXPECT_NE(error, "");
}

TEST_F(storage_test, create_and_get_round_trip) {
  auto& db = open();
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("example.org", "juliet"))), write_result::ok);
  auto got = run_on(io_, db.accounts().get("example.org", "juliet"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->host, "example.org");
  EXPECT_EQ(got->user, "juliet");
  EXPECT_EQ(got->created, 1700000000);
  ASSERT_EQ(got->credentials.size(), 3u);
  auto want = make_account("example.org", "juliet");
  for (auto& c : want.credentials) {
    auto* have = find_alg(*got, c.alg);
    ASSERT_TRUE(have);
    expect_same(*have, c);
  }
}

TEST_F(storage_test, create_fills_in_creation_time) {
  auto& db = open();
  auto before = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u", 0))), write_result::ok);
  auto got = run_on(io_, db.accounts().get("h", "u"));
  ASSERT_TRUE(got);
  EXPECT_GE(got->created, before);
  EXPECT_LE(got->created, before + 60);
}

TEST_F(storage_test, get_unknown_is_nullopt) {
  auto& db = open();
  EXPECT_FALSE(run_on(io_, db.accounts().get("example.org", "nobody")));
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("example.org", "romeo"))), write_result::ok);
  EXPECT_FALSE(run_on(io_, db.accounts().get("example.net", "romeo")));  // per host
}

TEST_F(storage_test, duplicate_create_is_exists_and_keeps_the_original) {
  auto& db = open();
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "romeo"))), write_result::ok);
  account other = make_account("h", "romeo", 42);
  other.credentials = {creds(hash_alg::sha256, "other")};
  EXPECT_EQ(run_on(io_, db.accounts().create(other)), write_result::exists);
  auto got = run_on(io_, db.accounts().get("h", "romeo"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->created, 1700000000);
  EXPECT_EQ(got->credentials.size(), 3u);
}

TEST_F(storage_test, failed_create_leaves_nothing_behind) {
  auto& db = open();
  account bad = make_account("h", "dup");
  bad.credentials.push_back(creds(hash_alg::sha256, "again"));  // same algorithm twice
  EXPECT_EQ(run_on(io_, db.accounts().create(bad)), write_result::error);
  EXPECT_FALSE(run_on(io_, db.accounts().get("h", "dup")));
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "dup"))), write_result::ok);
}

TEST_F(storage_test, set_credentials_replaces_all) {
  auto& db = open();
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::ok);
  auto fresh = creds(hash_alg::sha512, "new", 10000);
  EXPECT_EQ(run_on(io_, db.accounts().set_credentials("h", "u", {fresh})), write_result::ok);
  auto got = run_on(io_, db.accounts().get("h", "u"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->credentials.size(), 1u);
  expect_same(got->credentials[0], fresh);
  EXPECT_EQ(got->created, 1700000000);

  EXPECT_EQ(run_on(io_, db.accounts().set_credentials("h", "missing", {fresh})), write_result::not_found);
  EXPECT_FALSE(run_on(io_, db.accounts().get("h", "missing")));

  // A failing replacement is rolled back whole: the old credentials stay.
  EXPECT_EQ(run_on(io_, db.accounts().set_credentials("h", "u", {fresh, fresh})), write_result::error);
  got = run_on(io_, db.accounts().get("h", "u"));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->credentials.size(), 1u);
  expect_same(got->credentials[0], fresh);

  // No credentials at all: the account still exists.
  EXPECT_EQ(run_on(io_, db.accounts().set_credentials("h", "u", {})), write_result::ok);
  got = run_on(io_, db.accounts().get("h", "u"));
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->credentials.empty());
}

TEST_F(storage_test, remove_deletes_account_and_credentials) {
  auto& db = open();
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::ok);
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "keep"))), write_result::ok);
  EXPECT_EQ(run_on(io_, db.accounts().remove("h", "u")), write_result::ok);
  EXPECT_FALSE(run_on(io_, db.accounts().get("h", "u")));
  EXPECT_EQ(run_on(io_, db.accounts().remove("h", "u")), write_result::not_found);
  EXPECT_TRUE(run_on(io_, db.accounts().get("h", "keep")));
  db.close();
  // ON DELETE CASCADE took the credentials along.
  EXPECT_EQ(query_int("SELECT count(*) FROM credentials WHERE user = 'u'"), 0);
  EXPECT_EQ(query_int("SELECT count(*) FROM credentials WHERE user = 'keep'"), 3);
}

TEST_F(storage_test, remove_runs_module_hooks_in_the_same_transaction) {
  auto& db = open();
  std::string error;
  ASSERT_TRUE(db.migrate({{"notes", 1, "CREATE TABLE notes (host TEXT, user TEXT, body TEXT)"}}, error))
      << error;
  std::atomic<bool> fail_hook{false};
  db.add_account_removal_hook([&](connection& c, const std::string& host, const std::string& user) {
    EXPECT_TRUE(c.in_transaction());
    c.execute("DELETE FROM notes WHERE host = ?1 AND user = ?2", host, user);
    if (fail_hook) throw std::runtime_error("hook failed");
  });
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "a"))), write_result::ok);
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "b"))), write_result::ok);
  run_on(io_, db.run([](connection& c) {
    c.execute("INSERT INTO notes VALUES ('h', 'a', 'x'), ('h', 'b', 'y')");
  }));

  EXPECT_EQ(run_on(io_, db.accounts().remove("h", "a")), write_result::ok);
  fail_hook = true;
  EXPECT_EQ(run_on(io_, db.accounts().remove("h", "b")), write_result::error);
  EXPECT_TRUE(run_on(io_, db.accounts().get("h", "b")));  // rolled back
  auto notes = run_on(io_, db.read([](connection& c) {
    std::vector<std::string> users;
    auto st = c.prepare("SELECT user FROM notes ORDER BY user");
    while (st.step()) users.push_back(st.column_text(0));
    return users;
  }));
  EXPECT_EQ(notes, std::vector<std::string>{"b"});
}

TEST_F(storage_test, list_is_sorted_and_per_host) {
  auto& db = open();
  for (const char* u : {"romeo", "juliet", "benvolio", "mercutio"}) {
    EXPECT_EQ(run_on(io_, db.accounts().create(make_account("verona.lit", u))), write_result::ok);
  }
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("elsinore.lit", "hamlet"))), write_result::ok);
  EXPECT_EQ(run_on(io_, db.accounts().list("verona.lit")),
            (std::vector<std::string>{"benvolio", "juliet", "mercutio", "romeo"}));
  EXPECT_EQ(run_on(io_, db.accounts().list("elsinore.lit")), std::vector<std::string>{"hamlet"});
  EXPECT_TRUE(run_on(io_, db.accounts().list("nowhere.lit")).empty());
}

TEST_F(storage_test, data_survives_close_and_reopen) {
  {
    auto& db = open();
    EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::ok);
    db.close();
    db.close();  // idempotent
  }
  db_.reset();
  auto& db = open();
  auto got = run_on(io_, db.accounts().get("h", "u"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->credentials.size(), 3u);
  EXPECT_EQ(run_on(io_, db.accounts().list("h")), std::vector<std::string>{"u"});
}

TEST_F(storage_test, close_finishes_queued_work) {
  auto& db = open();
  // Issue many writes from a coroutine-driving thread and close while they are still queued:
  // every one must complete (nothing lost, nobody left waiting).
  asio::io_context io;
  std::atomic<int> oks{0};
  constexpr int n = 200;
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(io, db.accounts().create(make_account("h", "user" + std::to_string(i))),
                   [&](std::exception_ptr, write_result r) {
                     if (r == write_result::ok) ++oks;
                   });
  }
  // Run until every create() has been handed to the database thread, then close.
  io.poll();
  db.close();
  io.run();
  EXPECT_EQ(oks.load(), n);
  db_.reset();
  EXPECT_EQ(query_int("SELECT count(*) FROM accounts"), n);
}

TEST_F(storage_test, errors_are_values_after_close) {
  auto& db = open();
  db.close();
  EXPECT_FALSE(run_on(io_, db.accounts().get("h", "u")));
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::error);
  EXPECT_EQ(run_on(io_, db.accounts().set_credentials("h", "u", {})), write_result::error);
  EXPECT_EQ(run_on(io_, db.accounts().remove("h", "u")), write_result::error);
  EXPECT_TRUE(run_on(io_, db.accounts().list("h")).empty());
  // run() itself reports a closed database as sqlite_error in the caller.
  EXPECT_THROW(run_on(io_, db.run([](connection&) { return 1; })), sqlite_error);
}

TEST_F(storage_test, run_rethrows_in_the_caller) {
  auto& db = open();
  try {
    run_on(io_, db.run([](connection& c) { c.execute("INSERT INTO no_such_table VALUES (1)"); }));
    FAIL() << "expected sqlite_error";
  } catch (const sqlite_error& e) {
    EXPECT_EQ(e.primary_code(), SQLITE_ERROR);
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos);
  }
  try {
    run_on(io_, db.run([](connection& c) {
      c.execute("INSERT INTO accounts (host, user, created) VALUES ('h', 'u', 1)");
      c.execute("INSERT INTO accounts (host, user, created) VALUES ('h', 'u', 1)");
    }));
    FAIL() << "expected sqlite_error";
  } catch (const sqlite_error& e) {
    EXPECT_TRUE(e.is_constraint());
    EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_PRIMARYKEY);
  }
  // The database is still usable afterwards.
  EXPECT_EQ(run_on(io_, db.accounts().list("h")), std::vector<std::string>{"u"});
}

TEST_F(storage_test, results_need_not_be_default_constructible) {
  auto& db = open();
  struct no_default {
    explicit no_default(int v) : value(v) {}
    int value;
  };
  auto value = run_on(io_, [](sqlite_database& db) -> awaitable<int> {
    no_default r = co_await db.run([](connection&) { return no_default(7); });
    co_return r.value;
  }(db));
  EXPECT_EQ(value, 7);
}

// The pattern stores use: a named lambda owning its captures, moved into run()/read(). (Not a
// temporary lambda inside the co_await expression: g++ 12.2 destroys such a closure twice when
// it has non-trivial captures, see the note in sqlite.hpp.)
TEST_F(storage_test, owning_captures_reach_the_database_thread_intact) {
  auto& db = open();
  auto [total, expected] = run_on(io_, [](sqlite_database& db) -> awaitable<std::pair<size_t, size_t>> {
    size_t sum = 0, want = 0;
    for (int i = 0; i < 20; ++i) {
      // Short strings live in the small-string buffer (a bitwise copy would leave them pointing
      // into the old object), long ones on the heap (a double destruction frees them twice).
      std::string text(i % 2 ? 5 + i : 100 + i, 'x');
      account acc = make_account("h", text);
      want += 2 * text.size() + 3;
      auto write = [text = std::move(text), acc = std::move(acc)](connection&) {
        return text.size() + acc.user.size() + acc.credentials.size();
      };
      sum += co_await db.run(std::move(write));
      auto query = [s = std::string(i % 2 ? 3 : 50, 'y')](connection&) { return s.size(); };
      want += i % 2 ? 3 : 50;
      sum += co_await db.read(std::move(query));
    }
    co_return std::pair(sum, want);
  }(db));
  EXPECT_EQ(total, expected);
}

TEST_F(storage_test, statement_cache_reuses_and_allows_nesting) {
  auto& db = open();
  auto counts = run_on(io_, db.run([](connection& c) {
    const char* sql = "SELECT ?1 + 0";
    // Nested use of the same SQL: two independent statements.
    auto outer = c.prepare(sql, 1);
    auto inner = c.prepare(sql, 2);
    EXPECT_NE(outer.handle(), inner.handle());
    EXPECT_TRUE(outer.step());
    EXPECT_TRUE(inner.step());
    int64_t sum = outer.column_int64(0) + inner.column_int64(0);
    sqlite3_stmt* first = outer.handle();
    outer = statement();
    inner = statement();
    // Both back in the cache; the next lease reuses one, reset and with bindings cleared.
    auto again = c.prepare(sql);
    EXPECT_TRUE(again.handle() == first || again.handle() != nullptr);
    EXPECT_TRUE(again.step());
    EXPECT_TRUE(again.column_is_null(0));
    return sum;
  }));
  EXPECT_EQ(counts, 3);
  // Several statements in one prepare() are refused rather than half-run.
  EXPECT_THROW(run_on(io_, db.run([](connection& c) { c.prepare("SELECT 1; SELECT 2"); })), sqlite_error);
}

TEST_F(storage_test, statement_binds_all_types) {
  auto& db = open();
  auto row = run_on(io_, db.run([](connection& c) {
    std::optional<int> none;
    std::optional<std::string> some = "opt";
    auto st = c.prepare("SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, typeof(?4), typeof(?3)", int64_t{-5}, 2.5,
                        std::string("text"), blob{std::string_view("\0b", 2)}, std::nullopt, none,
                        some);
    EXPECT_TRUE(st.step());
    EXPECT_EQ(st.column_count(), 9);
    EXPECT_EQ(st.column_int64(0), -5);
    EXPECT_DOUBLE_EQ(st.column_double(1), 2.5);
    EXPECT_EQ(st.column_text(2), "text");
    EXPECT_EQ(st.column_blob(3), std::string("\0b", 2));
    EXPECT_TRUE(st.column_is_null(4));
    EXPECT_TRUE(st.column_is_null(5));
    EXPECT_EQ(st.column_text(6), "opt");
    EXPECT_EQ(st.column_text(7), "blob");
    EXPECT_EQ(st.column_text(8), "text");
    EXPECT_FALSE(st.step());
    // An empty blob is a blob, not NULL.
    auto empty = c.prepare("SELECT typeof(?1)", blob{});
    empty.step();
    return empty.column_text(0);
  }));
  EXPECT_EQ(row, "blob");
}

TEST_F(storage_test, transaction_rolls_back_unless_committed) {
  auto& db = open();
  std::string error;
  ASSERT_TRUE(db.migrate({{"t", 1, "CREATE TABLE t (v INTEGER)"}}, error)) << error;
  auto count = run_on(io_, db.run([](connection& c) {
    {
      transaction t(c);
      c.execute("INSERT INTO t VALUES (1)");
    }
    {
      transaction t(c);
      c.execute("INSERT INTO t VALUES (2)");
      t.commit();
    }
    EXPECT_FALSE(c.in_transaction());
    auto st = c.prepare("SELECT group_concat(v) FROM t");
    st.step();
    return st.column_text(0);
  }));
  EXPECT_EQ(count, "2");
}

TEST_F(storage_test, migrations_are_applied_once) {
  std::vector<migration> mods = {
      {"test", 1, "CREATE TABLE things (v INTEGER); INSERT INTO things VALUES (1);"},
  };
  {
    auto& db = open();
    std::string error;
    ASSERT_TRUE(db.migrate(mods, error)) << error;
    ASSERT_TRUE(db.migrate(mods, error)) << error;  // again in the same process: no-op
    db.close();
  }
  db_.reset();
  {
    // Reopening does not re-run the core (CREATE TABLE would fail) nor the module's step.
    auto& db = open();
    std::string error;
    ASSERT_TRUE(db.migrate(mods, error)) << error;
    // A new step, given out of order with the old one: applied after it, once.
    std::vector<migration> v2 = {
        {"test", 2, "INSERT INTO things SELECT max(v) + 1 FROM things;"},
        mods[0],
    };
    ASSERT_TRUE(db.migrate(v2, error)) << error;
    ASSERT_TRUE(db.migrate(v2, error)) << error;
    db.close();
  }
  db_.reset();
  EXPECT_EQ(query_int("SELECT count(*) FROM things"), 2);
  EXPECT_EQ(query_int("SELECT sum(v) FROM things"), 3);
  EXPECT_EQ(query_int("SELECT version FROM schema_version WHERE module = 'test'"), 2);
  EXPECT_EQ(query_int("SELECT version FROM schema_version WHERE module = 'core'"), 1);
}

TEST_F(storage_test, migrations_apply_in_version_order_from_scratch) {
  auto& db = open();
  std::string error;
  std::vector<migration> steps = {
      {"m", 3, "ALTER TABLE m ADD COLUMN c INTEGER DEFAULT 3;"},
      {"m", 1, "CREATE TABLE m (a INTEGER);"},
      {"m", 2, "ALTER TABLE m ADD COLUMN b INTEGER DEFAULT 2;"},
  };
  ASSERT_TRUE(db.migrate(steps, error)) << error;
  db.close();
  exec_raw("INSERT INTO m (a) VALUES (1)");
  EXPECT_EQ(query_int("SELECT a + b + c FROM m"), 6);
}

TEST_F(storage_test, failed_migration_is_rolled_back) {
  auto& db = open();
  std::string error;
  ASSERT_TRUE(db.migrate({{"m", 1, "CREATE TABLE m (a INTEGER);"}}, error)) << error;
  std::vector<migration> steps = {
      {"m", 1, "CREATE TABLE m (a INTEGER);"},
      {"m", 2, "CREATE TABLE half (x INTEGER); THIS IS NOT SQL;"},
  };
  EXPECT_FALSE(db.migrate(steps, error));
  EXPECT_NE(error.find("migration m 2"), std::string::npos) << error;
  db.close();
  EXPECT_EQ(query_int("SELECT version FROM schema_version WHERE module = 'm'"), 1);
  EXPECT_EQ(query_int("SELECT count(*) FROM sqlite_master WHERE name = 'half'"), 0);
}

TEST_F(storage_test, invalid_migration_lists_are_errors) {
  auto& db = open();
  std::string error;
  EXPECT_FALSE(db.migrate({{"m", 1, "SELECT 1"}, {"m", 1, "SELECT 2"}}, error));
  EXPECT_NE(error, "");
  error.clear();
  EXPECT_FALSE(db.migrate({{"m", 0, "SELECT 1"}}, error));
  EXPECT_NE(error, "");
  error.clear();
  EXPECT_FALSE(db.migrate({{"", 1, "SELECT 1"}}, error));
  EXPECT_NE(error, "");
}

TEST_F(storage_test, newer_core_schema_is_an_error) {
  open().close();
  db_.reset();
  exec_raw("UPDATE schema_version SET version = 99 WHERE module = 'core'");
  std::string error;
  auto db = open_sqlite(file_, error);
  EXPECT_FALSE(db);
  EXPECT_NE(error.find("core"), std::string::npos) << error;
  EXPECT_NE(error.find("99"), std::string::npos) << error;
}

TEST_F(storage_test, newer_module_schema_is_an_error_and_nothing_is_applied) {
  {
    auto& db = open();
    std::string error;
    ASSERT_TRUE(db.migrate({{"m", 1, "CREATE TABLE m (a INTEGER);"},
                            {"m", 2, "ALTER TABLE m ADD COLUMN b INTEGER;"}},
                           error))
        << error;
    db.close();
  }
  db_.reset();
  auto& db = open();
  std::string error;
  // This "older build" only knows step 1 of m, and brings a new module along.
  EXPECT_FALSE(db.migrate({{"other", 1, "CREATE TABLE other (x INTEGER);"},
                           {"m", 1, "CREATE TABLE m (a INTEGER);"}},
                          error));
  EXPECT_NE(error.find("'m'"), std::string::npos) << error;
  db.close();
  EXPECT_EQ(query_int("SELECT count(*) FROM sqlite_master WHERE name = 'other'"), 0);
}

TEST_F(storage_test, concurrent_creates_of_one_account_give_exactly_one_ok) {
  auto& db = open();
  // Many coroutines on several network threads race to create the same account.
  asio::io_context io;
  std::atomic<int> ok{0}, exists{0}, other{0};
  constexpr int n = 64;
  for (int i = 0; i < n; ++i) {
    account a = make_account("h", "racer", 1000 + i);
    asio::co_spawn(io, db.accounts().create(std::move(a)), [&](std::exception_ptr e, write_result r) {
      if (e) ++other;
      else if (r == write_result::ok) ++ok;
      else if (r == write_result::exists) ++exists;
      else ++other;
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), n - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(run_on(io_, db.accounts().list("h")), std::vector<std::string>{"racer"});
}

TEST_F(storage_test, concurrent_reads_and_writes) {
  auto& db = open();
  asio::io_context io;
  std::atomic<int> failures{0};
  constexpr int n = 50;
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        io,
        [&db, &failures, i]() -> awaitable<void> {
          std::string user = "u" + std::to_string(i);
          // g++ 12 miscompiles braced temporaries inside co_await expressions: build the
          // arguments first.
          account acc = make_account("h", user);
          write_result created = co_await db.accounts().create(std::move(acc));
          if (created != write_result::ok) ++failures;
          // A read issued after the write completed sees it, whichever reader runs it.
          auto got = co_await db.accounts().get("h", user);
          if (!got || got->credentials.size() != 3) ++failures;
          auto fresh = creds(hash_alg::sha256, user);
          std::vector<scram_credentials> replacement{fresh};
          write_result set = co_await db.accounts().set_credentials("h", user, std::move(replacement));
          if (set != write_result::ok) ++failures;
          got = co_await db.accounts().get("h", user);
          if (!got || got->credentials.size() != 1 || got->credentials[0].salt != fresh.salt) ++failures;
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(run_on(io_, db.accounts().list("h")).size(), static_cast<size_t>(n));
}

TEST_F(storage_test, caller_resumes_on_its_own_executor) {
  auto& db = open();
  // The caller runs on a pool of its own, standing in for the network threads.
  asio::thread_pool callers(2);
  std::promise<void> done;
  std::atomic<int> wrong{0};
  asio::co_spawn(
      callers,
      [&]() -> awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        auto caller_thread = std::this_thread::get_id();
        std::thread::id writer_thread, reader_thread;
        co_await db.run([&](connection&) { writer_thread = std::this_thread::get_id(); });
        if (writer_thread == caller_thread) ++wrong;
        if (!ex.target<asio::thread_pool::executor_type>()->running_in_this_thread()) ++wrong;
        co_await db.read_pooled([&](connection&) { reader_thread = std::this_thread::get_id(); });
        if (reader_thread == caller_thread || reader_thread == writer_thread) ++wrong;
        if (!ex.target<asio::thread_pool::executor_type>()->running_in_this_thread()) ++wrong;
        // read() runs on the caller's own thread, without a hop.
        // (The pool has two threads: a resumption may land on either.)
        std::thread::id inline_thread;
        const auto before_read = std::this_thread::get_id();
        co_await db.read([&](connection&) { inline_thread = std::this_thread::get_id(); });
        if (inline_thread != before_read || std::this_thread::get_id() != before_read) ++wrong;
        auto created = co_await db.accounts().create(make_account("h", "u"));
        if (created != write_result::ok) ++wrong;
        if (!ex.target<asio::thread_pool::executor_type>()->running_in_this_thread()) ++wrong;
        auto got = co_await db.accounts().get("h", "u");
        if (!got) ++wrong;
        if (!ex.target<asio::thread_pool::executor_type>()->running_in_this_thread()) ++wrong;
        done.set_value();
      },
      asio::detached);
  done.get_future().wait();
  callers.join();
  EXPECT_EQ(wrong.load(), 0);

  // And with a single-threaded io_context: back on exactly the thread that runs it.
  std::thread::id inside;
  auto after = run_on(io_, [](sqlite_database& db, std::thread::id& inside) -> awaitable<std::thread::id> {
    co_await db.run([&](connection&) { inside = std::this_thread::get_id(); });
    co_return std::this_thread::get_id();
  }(db, inside));
  EXPECT_EQ(after, std::this_thread::get_id());
  EXPECT_NE(inside, std::this_thread::get_id());
}

// read() runs on a read-only connection of the calling thread's own; it sees what run() and
// other processes committed before it, and close() ends those connections.
TEST_F(storage_test, inline_reads_see_every_commit_and_end_with_close) {
  auto& db = open();
  auto count = [&db]() -> awaitable<int64_t> {
    co_return co_await db.read([](connection& c) {
      auto st = c.prepare("SELECT count(*) FROM accounts");
      st.step();
      return st.column_int64(0);
    });
  };
  EXPECT_EQ(run_on(io_, count()), 0);
  std::weak_ptr<connection> mine = db.thread_reader();
  EXPECT_EQ(db.thread_reader().get(), mine.lock().get());  // one per thread, reused
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::ok);
  EXPECT_EQ(run_on(io_, count()), 1);
  // A commit by another process (starlingctl) is seen by the next read too.
  exec_raw("INSERT INTO accounts (host, user, created) VALUES ('h', 'v', 0)");
  EXPECT_EQ(run_on(io_, count()), 2);
  // Another thread gets a connection of its own.
  connection* other = nullptr;
  std::thread([&] { other = db.thread_reader().get(); }).join();
  EXPECT_NE(other, mine.lock().get());
  // Read-only, like the pool's readers.
  EXPECT_THROW(run_on(io_, db.read([](connection& c) { c.execute("DELETE FROM accounts"); })), sqlite_error);
  db.close();
  EXPECT_TRUE(mine.expired());
  EXPECT_THROW(run_on(io_, count()), sqlite_error);
  EXPECT_THROW(db.thread_reader(), sqlite_error);
}

// post(): fire-and-forget writes, batched, ordered with run(), a failing one rolled back alone.
TEST_F(storage_test, posted_writes_are_ordered_and_fail_alone) {
  auto& db = open();
  db.run_blocking([](connection& c) { c.exec_script("CREATE TABLE notes (n INTEGER PRIMARY KEY)"); });
  for (int i = 1; i <= 50; ++i) {
    db.post([i](connection& c) { c.execute("INSERT INTO notes (n) VALUES (?1)", i); });
  }
  // A duplicate key: this one write fails, the others of its batch stay.
  db.post([](connection& c) { c.execute("INSERT INTO notes (n) VALUES (7)"); });
  db.post([](connection& c) { c.execute("INSERT INTO notes (n) VALUES (51)"); });
  // A run() issued after the posts sees all of them.
  auto n = run_on(io_, db.run([](connection& c) {
    auto st = c.prepare("SELECT count(*), max(n) FROM notes");
    st.step();
    return std::pair(st.column_int64(0), st.column_int64(1));
  }));
  EXPECT_EQ(n.first, 51);
  EXPECT_EQ(n.second, 51);
  EXPECT_EQ(db.posted_failures(), 1u);
  // Posted writes still queued at close() are written, not dropped.
  db.post([](connection& c) { c.execute("INSERT INTO notes (n) VALUES (52)"); });
  db.close();
  EXPECT_EQ(query_int("SELECT count(*) FROM notes"), 52);
  EXPECT_THROW(db.post([](connection&) {}), sqlite_error);
}

TEST_F(storage_test, works_without_reader_connections) {
  sqlite_options opts;
  opts.readers = 0;
  auto& db = open(opts);
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::ok);
  EXPECT_TRUE(run_on(io_, db.accounts().get("h", "u")));
  EXPECT_EQ(run_on(io_, db.accounts().list("h")), std::vector<std::string>{"u"});
}

TEST(storage_memory, in_memory_database_works) {
  std::string error;
  auto db = open_sqlite(":memory:", error);
  ASSERT_TRUE(db) << error;
  asio::io_context io;
  EXPECT_EQ(run_on(io, db->accounts().create(make_account("h", "u"))), write_result::ok);
  EXPECT_TRUE(run_on(io, db->accounts().get("h", "u")));
  db->close();
}

TEST_F(storage_test, unknown_algorithm_rows_are_skipped) {
  auto& db = open();
  EXPECT_EQ(run_on(io_, db.accounts().create(make_account("h", "u"))), write_result::ok);
  db.close();
  db_.reset();
  exec_raw(
      "INSERT INTO credentials VALUES ('h', 'u', 'SHA3-512', x'00', 4096, x'00', x'00');"
      "INSERT INTO credentials VALUES ('h', 'u', 'SHA-384', x'00', -1, x'00', x'00');");
  auto& db2 = open();
  auto got = run_on(io_, db2.accounts().get("h", "u"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->credentials.size(), 3u);
}

}  // namespace
}  // namespace starling::storage
