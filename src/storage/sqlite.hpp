#pragma once
// SQLite backend building blocks, shared by every store that keeps its data in the server's
// database: the account store here, and the roster, offline, MAM... stores of their modules.
//
// Threading model. One writer connection lives on a dedicated thread. WAL mode lets readers see
// the last commit while the writer works. Network threads `co_await db.run(f)` (writes, or reads
// that must be serialised with writes): `f` runs on the writer thread with a `connection&`, and
// the awaiting coroutine then resumes on its own executor, never on the database thread.
// `co_await db.read(f)` (plain queries) runs `f` at once on the calling thread, on a read-only
// connection of that thread's own: a WAL reader never waits for the writer, and the data of a
// running server is in the page cache, so a read costs microseconds, where a hop to a database
// thread and back costs two thread wake-ups (the largest single cost of a login, issue 6).
// `read_pooled(f)` runs `f` on a small pool of reader threads instead: for queries that may
// scan much data (archive searches), so as not to stall a network thread.
//
// A store is written like this:
//
//   awaitable<std::optional<int64_t>> count(std::string host) {
//     auto work = [host = std::move(host)](connection& c) {
//       auto st = c.prepare("SELECT count(*) FROM roster WHERE host = ?1", host);
//       st.step();
//       return st.column_int64(0);
//     };
//     try {
//       int64_t n = co_await db_.read(std::move(work));
//       co_return n;
//     } catch (const std::exception&) {
//       co_return std::nullopt;
//     }
//   }
//
// Name the lambda, as above, whenever it captures anything with a destructor (a string, a
// vector...): g++ 12.2 destroys a closure temporary written inside a co_await expression twice
// (a double free; try `co_await f([s] {...})` under ASan). Captures by reference are fine.
//
// Inside `f`, failures are `sqlite_error` exceptions (they unwind transactions cleanly); run()
// and read() rethrow them in the awaiting coroutine, and the store turns them into the error
// values of its interface: exceptions never cross a store's public interface.
#include <sqlite3.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cassert>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "storage/storage.hpp"

namespace starling::storage {

// An SQLite failure: `code()` is the extended result code (SQLITE_CONSTRAINT_PRIMARYKEY, ...).
class sqlite_error : public std::runtime_error {
 public:
  sqlite_error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  int primary_code() const { return code_ & 0xff; }
  bool is_constraint() const { return primary_code() == SQLITE_CONSTRAINT; }
  bool is_busy() const { return primary_code() == SQLITE_BUSY || primary_code() == SQLITE_LOCKED; }

 private:
  int code_;
};

// Marks a parameter to be bound as a BLOB; strings are bound as TEXT. Salts and keys are raw
// bytes that need not be valid UTF-8, so they must be blobs.
struct blob {
  std::string_view bytes;
};

class connection;

// A prepared statement leased from its connection's cache. On destruction it is reset, its
// bindings cleared, and it goes back to the cache for the next use of the same SQL text.
// Only usable on the thread that runs the connection's work, and only while it runs.
class statement {
 public:
  statement() = default;
  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  ~statement();

  // Binds parameters 1..n in order. Integers -> INTEGER, double -> REAL, strings -> TEXT,
  // blob -> BLOB, std::nullopt -> NULL, std::optional<T> -> T or NULL.
  template <class... Args>
  statement& bind(const Args&... args) {
    int index = 1;
    (bind_at(index++, args), ...);
    return *this;
  }
  statement& bind_at(int index, int64_t value);
  statement& bind_at(int index, double value);
  statement& bind_at(int index, std::string_view text);
  statement& bind_at(int index, blob value);
  statement& bind_at(int index, std::nullopt_t);
  statement& bind_at(int index, const char* text) { return bind_at(index, std::string_view(text)); }
  statement& bind_at(int index, const std::string& text) {
    return bind_at(index, std::string_view(text));
  }
  template <std::integral T>
  statement& bind_at(int index, T value) {
    // A uint64_t above INT64_MAX would silently wrap: callers must convert explicitly.
    static_assert(!(std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)),
                  "bind 64-bit unsigned values explicitly as int64_t");
    return bind_at(index, static_cast<int64_t>(value));
  }
  template <class T>
  statement& bind_at(int index, const std::optional<T>& value) {
    return value ? bind_at(index, *value) : bind_at(index, std::nullopt);
  }

  // Advances: true if a row is available, false when done. Throws sqlite_error.
  bool step();
  // Steps to completion (INSERT/UPDATE/DELETE) and returns the number of rows changed.
  int64_t exec();
  // Resets to run again (bindings kept). Done automatically when the lease ends.
  void reset();

  int column_count() const;
  bool column_is_null(int col) const;
  int64_t column_int64(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::string column_blob(int col) const;

  sqlite3_stmt* handle() const { return stmt_; }

 private:
  friend class connection;
  statement(sqlite3_stmt* stmt, std::vector<sqlite3_stmt*>* home) : stmt_(stmt), home_(home) {}
  void release() noexcept;
  [[noreturn]] void fail(int rc) const;

  sqlite3_stmt* stmt_ = nullptr;
  std::vector<sqlite3_stmt*>* home_ = nullptr;  // idle list in the connection's cache
};

struct connection_options {
  bool read_only = false;  // PRAGMA query_only: a store bug cannot write through a reader
  std::chrono::milliseconds busy_timeout{5000};
};

// One SQLite connection with a cache of prepared statements keyed by SQL text. Owned by the
// database; stores only see it inside run()/read().
class connection {
 public:
  // Opens (creating if needed) and applies the per-connection settings: foreign keys on,
  // synchronous=NORMAL (safe with WAL: a power loss may lose the last commits, never corrupt),
  // the busy timeout (other processes, e.g. starlingctl, share the file). Throws sqlite_error.
  connection(const std::filesystem::path& file, const connection_options& opts);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // A cached prepared statement for `sql` (exactly one SQL statement), with `args` bound.
  // If the same SQL is already leased (nested use), a second copy is prepared and cached too.
  template <class... Args>
  statement prepare(std::string_view sql, const Args&... args) {
    statement st = lease(sql);
    st.bind(args...);
    return st;
  }
  // prepare() + exec(): returns the number of rows changed.
  template <class... Args>
  int64_t execute(std::string_view sql, const Args&... args) {
    return prepare(sql, args...).exec();
  }
  // Runs several ';'-separated statements without parameters and without caching (schema
  // migrations, PRAGMAs).
  void exec_script(const std::string& sql);

  int64_t changes() const;
  int64_t last_insert_rowid() const;
  bool in_transaction() const;
  sqlite3* handle() const { return db_; }

 private:
  statement lease(std::string_view sql);

  struct sql_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_ = nullptr;
  // Idle statements per SQL text. Node-based map: leases keep pointers to the vectors.
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>, sql_hash, std::equal_to<>> cache_;
};

// RAII transaction: BEGIN IMMEDIATE by default, so that the write lock is taken up front and a
// busy database is waited for (busy_timeout) instead of failing at the first write, which is
// what a deferred transaction that upgrades to writing does. Rolls back unless committed.
class transaction {
 public:
  enum class kind { deferred, immediate };
  explicit transaction(connection& c, kind k = kind::immediate);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;
  void commit();

 private:
  connection& conn_;
  bool done_ = false;
};

struct sqlite_options {
  // Read-only connections, each on its own thread. 0: reads run on the writer thread (also the
  // case for an in-memory database, which other connections cannot see).
  unsigned readers = 2;
  std::chrono::milliseconds busy_timeout{5000};
  // read() on the caller's thread (see the top of this file); off: on the reader pool.
  bool inline_reads = true;
};

class sqlite_database final : public database {
 public:
  // Opens the database file (creating it and its parent directories if needed), sets WAL mode
  // and applies the core migrations. nullptr and `error` set on failure.
  static std::unique_ptr<sqlite_database> open(const std::filesystem::path& file,
                                               const sqlite_options& opts, std::string& error);
  ~sqlite_database() override;

  account_store& accounts() override;
  // Blocks the calling thread: start-up only, never from inside run()/read().
  bool migrate(const std::vector<migration>& extra, std::string& error) override;
  void close() override;

  template <class F>
  using result_of = std::invoke_result_t<F&, connection&>;

  // Runs `f(connection&)` on the writer thread; the awaiting coroutine resumes on its own
  // executor with f's result, or with f's exception rethrown. Calls are executed one at a time
  // in the order they were issued, so `f` may check-then-write without races. Throws
  // sqlite_error if the database is closed.
  template <class F>
  awaitable<result_of<F>> run(F f) {
    return submit(*writer_pool_, false, std::move(f));
  }

  // A write nobody waits for (e.g. the last-logout record): `f` runs on the writer thread,
  // batched with the other posted writes of the moment in one transaction (one commit, one
  // wake-up of the writer for many of them), each in a savepoint of its own: one that throws
  // is rolled back alone (and counted in posted_failures(); `f` should log its own errors).
  // Ordered with run(): a run() or post() issued later sees its effect. Throws sqlite_error if
  // the database is closed.
  void post(std::function<void(connection&)> f);
  uint64_t posted_failures() const { return posted_failures_.load(std::memory_order_relaxed); }

  // Runs `f` on the calling thread's read-only connection (opened on first use), without
  // suspending; on the writer thread for an in-memory database (which other connections cannot
  // see) or with `inline_reads` off. Reads see every write whose run() has completed. `f` must
  // be a short query: it runs on a network thread.
  template <class F>
  awaitable<result_of<F>> read(F f) {
    if (!inline_reads_) return read_pooled(std::move(f));
    return read_here(std::move(f));
  }

  // Like run(), on one of the read-only connections of the reader pool (or the writer if there
  // are none): for long queries. Reads see every write whose run() has completed.
  template <class F>
  awaitable<result_of<F>> read_pooled(F f) {
    if (!reader_pool_) return submit(*writer_pool_, false, std::move(f));
    return submit(*reader_pool_, true, std::move(f));
  }

  // read() for synchronous code (a hook): `f` runs at once on the calling thread's read-only
  // connection; std::nullopt when reads do not run inline (in-memory database, inline_reads
  // off): the caller then takes its asynchronous path. Throws sqlite_error.
  template <class F>
  std::optional<result_of<F>> read_now(F&& f) {
    if (!inline_reads_) return std::nullopt;
    check_open();
    std::shared_ptr<connection> c = thread_reader();
    return f(*c);
  }

  // The calling thread's read-only connection for this database, opened on first use; it
  // stays open until the database closes (or the thread ends). Throws sqlite_error.
  std::shared_ptr<connection> thread_reader();

  // Runs `f` on the writer thread and blocks until done: for start-up and tools, not for
  // network threads. Rethrows f's exception.
  template <class F>
  result_of<F> run_blocking(F f) {
    assert(!writer_pool_->get_executor().running_in_this_thread() && "would deadlock");
    check_open();
    std::packaged_task<result_of<F>()> task([this, &f] { return f(writer()); });
    auto result = task.get_future();
    boost::asio::post(writer_pool_->get_executor(), std::move(task));
    return result.get();
  }

  // Account removal: a module whose tables are not tied to `accounts` by a cascading foreign
  // key registers a hook to delete the account's data. Hooks run on the writer thread inside
  // the removal's transaction; one that throws aborts the removal. Register at start-up.
  using account_removal_hook =
      std::function<void(connection&, const std::string& host, const std::string& user)>;
  void add_account_removal_hook(account_removal_hook hook);
  // Called by the account store inside its transaction.
  void run_account_removal_hooks(connection& c, const std::string& host, const std::string& user);

  const std::filesystem::path& file() const { return file_; }

  // For components that schedule their own work on the writer thread (batch_writer.hpp): the
  // writer's executor (handlers posted to it run one at a time, in order, with run()'s calls),
  // and the writer connection, only for code running there.
  boost::asio::thread_pool::executor_type writer_executor() { return writer_pool_->get_executor(); }
  connection& writer_connection() { return writer(); }

 private:
  sqlite_database(std::filesystem::path file, const sqlite_options& opts);
  void check_open() const;
  connection& writer();
  connection* acquire_reader();
  void release_reader(connection* c) noexcept;

  // Holds the connection for the duration of one call; a reader goes back to the pool.
  class lease {
   public:
    lease(sqlite_database& db, bool reader)
        : db_(db), conn_(reader ? db.acquire_reader() : &db.writer()), reader_(reader) {}
    ~lease() {
      if (reader_) db_.release_reader(conn_);
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    connection& get() { return *conn_; }

   private:
    sqlite_database& db_;
    connection* conn_;
    bool reader_;
  };

  // co_spawn's completion passes a default-constructed value on the error path, so results
  // travel in an optional: f's result type need not be default-constructible.
  template <class R>
  using boxed = std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>>;

  template <class F>
  awaitable<result_of<F>> read_here(F f) {
    using R = result_of<F>;
    static_assert(!std::is_reference_v<R>, "return by value");
    check_open();
    // The shared_ptr keeps the connection alive should close() run meanwhile on another thread.
    std::shared_ptr<connection> c = thread_reader();
    if constexpr (std::is_void_v<R>) {
      f(*c);
      co_return;
    } else {
      co_return f(*c);
    }
  }

  template <class F>
  awaitable<result_of<F>> submit(boost::asio::thread_pool& pool, bool reader, F f) {
    using R = result_of<F>;
    static_assert(!std::is_reference_v<R>,
                  "return by value: the result is handed over to another thread");
    check_open();
    auto task = [this, reader, f = std::move(f)]() mutable -> awaitable<boxed<R>> {
      lease l(*this, reader);
      if constexpr (std::is_void_v<R>) {
        f(l.get());
        co_return boxed<R>(std::in_place);
      } else {
        co_return boxed<R>(std::in_place, f(l.get()));
      }
    };
    // With use_awaitable, co_spawn delivers the completion through the awaiting coroutine's
    // associated executor: we come back to the caller's thread, not the database's.
    // Named locals rather than temporaries in the co_await expression: g++ 12 mishandles the
    // lifetime of non-trivial temporaries there.
    auto executor = pool.get_executor();
    auto op = boost::asio::co_spawn(executor, std::move(task), boost::asio::use_awaitable);
    boxed<R> result = co_await std::move(op);
    if constexpr (!std::is_void_v<R>) co_return std::move(*result);
  }

  std::filesystem::path file_;
  sqlite_options opts_;
  std::atomic<bool> closed_{false};
  std::mutex close_mutex_;

  std::unique_ptr<connection> writer_conn_;
  std::unique_ptr<boost::asio::thread_pool> writer_pool_;

  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<connection>> reader_conns_;  // all of them
  std::vector<connection*> idle_readers_;                  // those not in use
  std::unique_ptr<boost::asio::thread_pool> reader_pool_;

  void flush_posted();
  std::mutex posted_mutex_;
  std::vector<std::function<void(connection&)>> posted_;
  bool flush_scheduled_ = false;
  std::atomic<uint64_t> posted_failures_{0};

  // read()'s per-thread connections; each thread finds its own through a thread_local list
  // keyed by id_ (never reused, unlike addresses).
  bool inline_reads_ = false;
  const uint64_t id_;
  std::mutex thread_readers_mutex_;
  std::vector<std::shared_ptr<connection>> thread_readers_;

  std::mutex hooks_mutex_;
  std::vector<account_removal_hook> removal_hooks_;

  std::unique_ptr<account_store> accounts_;
};

// The same as open_sqlite(), returning the concrete type so that stores can use run()/read().
std::unique_ptr<sqlite_database> open_sqlite_database(const std::filesystem::path& file,
                                                      const sqlite_options& opts,
                                                      std::string& error);

// The schema of the core tables (accounts, credentials): module "core".
const std::vector<migration>& core_migrations();

}  // namespace starling::storage
