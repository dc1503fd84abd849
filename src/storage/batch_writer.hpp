#pragma once
// Group commit for append-only writes that nobody waits for (archive rows, logs): items are
// queued by any thread and written by the database's writer thread in batches, one call of
// `write(connection&, std::vector<T>&)` (one transaction, one WAL commit) per batch.
//
// Why: a write transaction per item costs a thread hop to the writer, a B-tree update of every
// index and a WAL commit with a write() of every page it touched (several KiB for a ~100-byte
// row); batched, the hop and the commit are paid once per batch and the pages touched by many
// rows of the batch are written once.
//
// When a batch is written:
//  - `max_delay` after the first item of the batch was queued (a timer on the writer thread,
//    armed by one post per batch, not per item);
//  - at once when `max_batch` items are queued;
//  - when a reader calls flush(c) from inside db.run() (work on the writer thread): a query
//    then sees every item queued before it was issued. Order is kept: items are written in
//    the order push() was called (one mutex), each batch after the previous one;
//  - at close() (and in the destructor), which blocks until everything queued is written.
// Items pushed after close() are written by the destructor (shutdown paths that still
// produce some, e.g. sessions destroyed after the modules stopped).
//
// An item is durable once its batch is committed: a crash loses at most the last `max_delay`
// of items (with synchronous=NORMAL a power loss may lose the last commits anyway).
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "storage/sqlite.hpp"

namespace starling::storage {

template <class T>
class batch_writer {
 public:
  struct options {
    size_t max_batch = 512;
    std::chrono::milliseconds max_delay{10};
  };
  // Called on the writer thread with the batch (non-empty); should use one transaction.
  using write_fn = std::function<void(connection&, std::vector<T>&)>;
  // Called on the writer thread when `write` threw: the batch is lost (logged by the owner).
  using error_fn = std::function<void(const std::exception&, size_t items)>;

  batch_writer(sqlite_database& db, options opts, write_fn write, error_fn on_error = {})
      : db_(db),
        opts_(opts),
        write_(std::move(write)),
        on_error_(std::move(on_error)),
        timer_(db.writer_executor()) {
    if (opts_.max_batch == 0) opts_.max_batch = 1;
  }

  ~batch_writer() {
    close();
    // What was pushed after close().
    try {
      db_.run_blocking([this](connection& c) { flush(c); });
    } catch (const std::exception&) {
      // The database is closed already: nothing can be written any more.
    }
  }

  batch_writer(const batch_writer&) = delete;
  batch_writer& operator=(const batch_writer&) = delete;

  // Any thread. Never blocks on the database.
  void push(T item) {
    enum { none, arm, now } action = none;
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(item));
      if (closed_) return;
      if (queue_.size() >= opts_.max_batch) {
        if (!urgent_) {
          urgent_ = true;
          action = now;
        }
      } else if (!armed_) {
        armed_ = true;
        action = arm;
      }
    }
    if (action == arm) {
      boost::asio::post(db_.writer_executor(), [this] { arm_timer(); });
    } else if (action == now) {
      boost::asio::post(db_.writer_executor(), [this] { flush(db_.writer_connection()); });
    }
  }

  // On the writer thread (inside db.run(), or a handler of its executor): writes everything
  // queued so far, in order.
  void flush(connection& c) {
    std::vector<T> batch;
    {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) {
        urgent_ = false;
        return;
      }
      batch.swap(queue_);
      // The next batch is likely as big: no regrowth (and moves of every item) while pushing.
      queue_.reserve(std::min(batch.size(), opts_.max_batch));
      // A later push arms a new timer (re-arming cancels the old wait) or posts a new flush.
      armed_ = false;
      urgent_ = false;
    }
    const size_t n = batch.size();
    try {
      write_(c, batch);
      written_ += n;
    } catch (const std::exception& e) {
      if (on_error_) on_error_(e, n);
    }
    ++batches_;
  }

  // Blocks until everything queued is written; then no timer is armed any more. Not from the
  // writer thread. Idempotent.
  void close() {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return;
      closed_ = true;
    }
    try {
      db_.run_blocking([this](connection& c) {
        timer_.cancel();
        flush(c);
      });
    } catch (const std::exception&) {
      // Database already closed: its close() ran the queued handlers, nothing left to do.
    }
  }

  size_t queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }
  // Writer-thread counters (read them from there, or after close()).
  uint64_t batches() const { return batches_; }
  uint64_t written() const { return written_; }

 private:
  void arm_timer() {
    timer_.expires_after(opts_.max_delay);
    // The handler touches `this` only when the timer expired: close() cancels the wait on the
    // writer thread before returning, so a cancelled handler may run after destruction.
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) flush(db_.writer_connection());
    });
  }

  sqlite_database& db_;
  options opts_;
  write_fn write_;
  error_fn on_error_;
  boost::asio::steady_timer timer_;  // writer thread only

  mutable std::mutex mutex_;
  std::vector<T> queue_;
  bool armed_ = false;   // a timed flush is scheduled for the queued items
  bool urgent_ = false;  // an immediate flush is posted
  bool closed_ = false;

  uint64_t batches_ = 0, written_ = 0;  // writer thread
};

}  // namespace starling::storage
