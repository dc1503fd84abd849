// last_store over SQLite: logout records are group-committed (put_later) but read at once from
// the queue, the newest record of an account wins, put() supersedes a queued record, and a
// record of a missing account does not take the batch's other records down with it.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <thread>

#include "modules/last/last_store.hpp"
#include "storage/sqlite.hpp"
#include "storage/test_support.hpp"
#include "util/random.hpp"

namespace starling::modules {
namespace {

namespace asio = boost::asio;

using starling::test_support::run_on;

class last_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-last-" + util::random_token(12));
    std::string error;
    db_ = storage::open_sqlite_database(dir_ / "t.db", {}, error);
    ASSERT_TRUE(db_) << error;
    ASSERT_TRUE(db_->migrate(sqlite_last_migrations(), error)) << error;
    for (const char* user : {"juliet", "romeo"}) {
      storage::account a;
      a.host = "example.com";
      a.user = user;
      ASSERT_EQ(run_on(io_, db_->accounts().create(a)), storage::write_result::ok);
    }
    store_ = make_sqlite_last_store(*db_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // The row as the table holds it (not through the store's queue).
  std::optional<last_record> row(const std::string& user) {
    return db_->run_blocking([user](storage::connection& c) {
      std::optional<last_record> r;
      auto st = c.prepare("SELECT logout, status FROM last_activity WHERE host = 'example.com' AND user = ?1", user);
      if (st.step()) r = last_record{st.column_int64(0), st.column_text(1)};
      return r;
    });
  }
  last_lookup get(const jid& j) { return run_on(io_, store_->get(j)); }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_database> db_;
  std::unique_ptr<last_store> store_;
  const jid juliet_ = *jid::parse("juliet@example.com");
  const jid romeo_ = *jid::parse("romeo@example.com");
};

TEST_F(last_store_test, queued_record_is_read_at_once_and_written_on_close) {
  store_->put_later(juliet_, {1000, "gone"});
  auto got = get(juliet_);
  ASSERT_FALSE(got.failed);
  ASSERT_TRUE(got.record);
  EXPECT_EQ(got.record->logout, 1000);
  EXPECT_EQ(got.record->status, "gone");
  store_->close();
  auto r = row("juliet");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->logout, 1000);
  EXPECT_EQ(r->status, "gone");
  // A fresh store (a restarted server) reads it from the table.
  store_ = make_sqlite_last_store(*db_);
  got = get(juliet_);
  ASSERT_TRUE(got.record);
  EXPECT_EQ(got.record->status, "gone");
}

TEST_F(last_store_test, written_after_the_delay_without_close) {
  store_->put_later(juliet_, {1000, "later"});
  // The batch is committed by the writer thread's timer; bounded wait.
  std::optional<last_record> r;
  for (int i = 0; i < 200 && !r; ++i) {
    r = row("juliet");
    if (!r) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "later");
  auto got = get(juliet_);  // from the table now, the queue is empty
  ASSERT_TRUE(got.record);
  EXPECT_EQ(got.record->status, "later");
}

TEST_F(last_store_test, newest_record_of_an_account_wins) {
  store_->put_later(juliet_, {1000, "first"});
  store_->put_later(juliet_, {1001, "second"});
  EXPECT_EQ(get(juliet_).record->status, "second");
  store_->close();
  auto r = row("juliet");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->logout, 1001);
  EXPECT_EQ(r->status, "second");
}

TEST_F(last_store_test, put_supersedes_a_queued_record) {
  store_->put_later(juliet_, {1000, "queued"});
  EXPECT_TRUE(run_on(io_, store_->put(juliet_, {1002, "direct"})));
  EXPECT_EQ(get(juliet_).record->status, "direct");
  store_->close();
  auto r = row("juliet");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "direct");
}

TEST_F(last_store_test, get_many_merges_queue_and_table) {
  EXPECT_TRUE(run_on(io_, store_->put(romeo_, {900, "stored"})));
  store_->put_later(juliet_, {1000, "queued"});
  const jid nobody = *jid::parse("nobody@example.com");
  auto [failed, got] = run_on(io_, store_->get_many({juliet_, romeo_, nobody}));
  EXPECT_FALSE(failed);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at("juliet@example.com").status, "queued");
  EXPECT_EQ(got.at("romeo@example.com").status, "stored");
  // A queued record is newer than the row: it wins.
  store_->put_later(romeo_, {1001, "newer"});
  auto [failed2, got2] = run_on(io_, store_->get_many({romeo_}));
  EXPECT_FALSE(failed2);
  EXPECT_EQ(got2.at("romeo@example.com").status, "newer");
}

TEST_F(last_store_test, missing_account_does_not_lose_the_batch) {
  // No account: the row is not written (removed accounts keep no activity), the others are.
  store_->put_later(*jid::parse("ghost@example.com"), {1000, "ghost"});
  store_->put_later(romeo_, {1000, "romeo"});
  store_->close();
  EXPECT_FALSE(row("ghost"));
  auto r = row("romeo");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "romeo");
}

}  // namespace
}  // namespace starling::modules
