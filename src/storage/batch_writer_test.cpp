#include "storage/batch_writer.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "util/random.hpp"

namespace starling::storage {
namespace {

using namespace std::chrono_literals;

struct item {
  int producer = 0;
  int n = 0;
};

class batch_writer_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-batch-" + util::random_token(12));
    file_ = dir_ / "test.db";
    open();
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void open() {
    std::string error;
    db_ = open_sqlite_database(file_, sqlite_options{}, error);
    ASSERT_TRUE(db_) << error;
    std::vector<migration> m = {{"batch_test", 1,
                                 "CREATE TABLE rows (id INTEGER PRIMARY KEY, producer INTEGER NOT NULL,"
                                 " n INTEGER NOT NULL, batch INTEGER NOT NULL)"}};
    ASSERT_TRUE(db_->migrate(m, error)) << error;
  }

  // One transaction per batch, as a store does; every row records which write call it came in.
  batch_writer<item>::write_fn writer() {
    return [this](connection& c, std::vector<item>& batch) {
      ++write_calls_;
      transaction tx(c);
      for (const item& i : batch)
        c.execute("INSERT INTO rows (producer, n, batch) VALUES (?1, ?2, ?3)", i.producer, i.n,
                  write_calls_.load());
      tx.commit();
    };
  }

  int64_t count() {
    return db_->run_blocking([](connection& c) {
      auto st = c.prepare("SELECT count(*) FROM rows");
      st.step();
      return st.column_int64(0);
    });
  }
  int64_t distinct_batches() {
    return db_->run_blocking([](connection& c) {
      auto st = c.prepare("SELECT count(DISTINCT batch) FROM rows");
      st.step();
      return st.column_int64(0);
    });
  }
  // Waits (bounded) until `n` rows are in the table.
  bool wait_rows(int64_t n, std::chrono::milliseconds limit = 5s) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (count() >= n) return true;
      std::this_thread::sleep_for(1ms);
    }
    return count() >= n;
  }

  std::filesystem::path dir_, file_;
  std::unique_ptr<sqlite_database> db_;
  std::atomic<int> write_calls_{0};
};

TEST_F(batch_writer_test, writes_a_full_batch_at_once) {
  batch_writer<item> w(*db_, {.max_batch = 4, .max_delay = std::chrono::hours(1)}, writer());
  for (int i = 0; i < 3; ++i) w.push({0, i});
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(count(), 0) << "below max_batch and before max_delay nothing is written";
  w.push({0, 3});
  ASSERT_TRUE(wait_rows(4));
  EXPECT_EQ(write_calls_.load(), 1);
  EXPECT_EQ(distinct_batches(), 1);
}

TEST_F(batch_writer_test, writes_after_the_delay) {
  batch_writer<item> w(*db_, {.max_batch = 1000, .max_delay = 30ms}, writer());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) w.push({0, i});
  ASSERT_TRUE(wait_rows(5));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 25ms) << "the first item waits for its batch";
  EXPECT_EQ(distinct_batches(), 1) << "items queued within the delay share one transaction";
  // A new batch gets a new timer.
  w.push({0, 5});
  ASSERT_TRUE(wait_rows(6));
  EXPECT_EQ(write_calls_.load(), 2);
}

TEST_F(batch_writer_test, a_reader_on_the_writer_thread_flushes_first) {
  batch_writer<item> w(*db_, {.max_batch = 1000, .max_delay = std::chrono::hours(1)}, writer());
  for (int i = 0; i < 7; ++i) w.push({0, i});
  // What a query does: flush, then read, in one call on the writer thread.
  int64_t seen = db_->run_blocking([&w](connection& c) {
    w.flush(c);
    auto st = c.prepare("SELECT count(*) FROM rows");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(seen, 7);
  EXPECT_EQ(w.queued(), 0u);
}

TEST_F(batch_writer_test, keeps_push_order_across_batches_and_producers) {
  constexpr int producers = 4, per_producer = 500;
  {
    batch_writer<item> w(*db_, {.max_batch = 37, .max_delay = 1ms}, writer());
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&w, p] {
        for (int i = 0; i < per_producer; ++i) {
          w.push({p, i});
          if (i % 50 == 0) std::this_thread::sleep_for(1ms);  // let timers fire too
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(count(), producers * per_producer);
  EXPECT_GT(distinct_batches(), 1);
  // Within each producer, rows are in push order (row ids increase with n).
  auto ordered = db_->run_blocking([](connection& c) {
    auto st = c.prepare("SELECT producer, n FROM rows ORDER BY id");
    std::vector<int> next(producers, 0);
    bool ok = true;
    while (st.step()) {
      int p = static_cast<int>(st.column_int64(0));
      if (st.column_int64(1) != next[p]) ok = false;
      ++next[p];
    }
    return ok;
  });
  EXPECT_TRUE(ordered);
}

TEST_F(batch_writer_test, close_writes_everything_and_nothing_is_lost_on_restart) {
  {
    batch_writer<item> w(*db_, {.max_batch = 100000, .max_delay = std::chrono::hours(1)}, writer());
    for (int i = 0; i < 1000; ++i) w.push({0, i});
    EXPECT_EQ(w.queued(), 1000u);
    w.close();  // what the module does at shutdown, before the database closes
    EXPECT_EQ(w.queued(), 0u);
    EXPECT_EQ(w.batches(), 1u);
    EXPECT_EQ(w.written(), 1000u);
    // Produced during shutdown after close(): written by the destructor.
    w.push({1, 0});
  }
  db_->close();
  db_.reset();
  open();
  EXPECT_EQ(count(), 1001);
}

TEST_F(batch_writer_test, a_failed_batch_is_reported_and_later_ones_are_written) {
  std::atomic<size_t> lost{0};
  std::atomic<bool> fail{true};
  auto write = [this, &fail, inner = writer()](connection& c, std::vector<item>& batch) {
    if (fail.exchange(false)) throw sqlite_error(SQLITE_IOERR, "disk on fire");
    inner(c, batch);
  };
  batch_writer<item> w(*db_, {.max_batch = 2, .max_delay = std::chrono::hours(1)}, write,
                       [&lost](const std::exception&, size_t n) { lost += n; });
  w.push({0, 0});
  w.push({0, 1});  // first batch: fails
  for (int i = 0; i < 5000 && lost.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(lost.load(), 2u);
  w.push({0, 2});
  w.push({0, 3});  // second batch: written
  ASSERT_TRUE(wait_rows(2));
  w.close();
  EXPECT_EQ(lost.load(), 2u);
  EXPECT_EQ(count(), 2);
}

TEST_F(batch_writer_test, destruction_with_an_armed_timer_is_safe) {
  for (int round = 0; round < 50; ++round) {
    batch_writer<item> w(*db_, {.max_batch = 1000, .max_delay = std::chrono::milliseconds(round % 3)}, writer());
    w.push({0, round});
  }
  EXPECT_EQ(count(), 50);
}

}  // namespace
}  // namespace starling::storage
