#include "storage/sqlite.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <system_error>
#include <utility>

#include "storage/sqlite_accounts.hpp"

namespace starling::storage {

namespace {

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view context) {
  std::string what(context);
  what += ": ";
  // The connection's message describes the last failure on it; fall back to the generic text
  // for the code when there is no connection (open failed before one existed).
  what += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw sqlite_error(db ? sqlite3_extended_errcode(db) : rc, what);
}

void check(sqlite3* db, int rc, std::string_view context) {
  if (rc != SQLITE_OK) throw_error(db, rc, context);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// background WAL checkpoints (issue 6)
//
// The writer thread is the one thread every archived message passes through, so its CPU
// bounds message throughput on several cores. SQLite's automatic checkpoint runs inside the
// COMMIT that crosses its threshold, on the writer: copying every distinct page of the log
// into the file and syncing both (the kernel's writeback of those pages is charged to the
// syncing thread) was about a third of the writer's CPU with a large archive. Instead a commit
// hook (sqlite3_wal_hook, which replaces the automatic checkpoint) hands the checkpoint to a
// thread of its own, "starling-dbc", once the log holds `checkpoint_pages` pages: 8,000
// (32 MiB) rather than SQLite's 1,000, since archive batches dirty the same index leaves and
// mam_owners pages again and again and a longer log copies each of them once for many commits.
//
// Durability is unchanged: a checkpoint syncs the log and then the file exactly as the
// automatic one does (synchronous=NORMAL on every connection: commits are not synced, so a
// power loss may lose the last commits, never corrupt the file).
//
// The state lives here rather than in sqlite_database (sqlite.hpp is included by nearly every
// file): one entry per open database, removed by close().
namespace {

constexpr int checkpoint_pages = 8000;

struct background_checkpointer {
  background_checkpointer(std::filesystem::path f, boost::asio::thread_pool::executor_type w, sqlite3* wdb)
      : file(std::move(f)), writer(w), writer_db(wdb) {}

  // On the writer thread, after a commit: `pages` is the length of the log.
  static int on_commit(void* self, sqlite3*, const char*, int pages) {
    auto* cp = static_cast<background_checkpointer*>(self);
    if (pages >= checkpoint_pages && !cp->pending.exchange(true)) {
      boost::asio::post(cp->pool, [cp] { cp->run(); });
    }
    return SQLITE_OK;
  }

  void run() {
    // PASSIVE: never waits for the writer or the readers; it copies the log up to the last
    // commit when it started while the writer goes on appending (WAL allows one checkpointer
    // beside the writer). A failure (SQLITE_BUSY: starlingctl checkpointing from another
    // process) only leaves the work to the next one.
    try {
      if (!conn) conn = std::make_unique<connection>(file, connection_options{});
      sqlite3_wal_checkpoint_v2(conn->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } catch (const std::exception&) {
      // No connection: the catch-up below still checkpoints, on the writer.
    }
    // The catch-up, on the writer between two of its transactions: what was committed during
    // the pass above (a small part of the log). Only a log copied to its very end starts
    // again from its beginning at the next write transaction: without this step a writer
    // that commits while every background pass runs would never let the log restart, and the
    // log would grow without bound.
    boost::asio::post(writer, [this] {
      sqlite3_wal_checkpoint_v2(writer_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      done.fetch_add(1, std::memory_order_relaxed);
      pending.store(false);
    });
  }

  std::filesystem::path file;
  boost::asio::thread_pool::executor_type writer;
  sqlite3* writer_db;
  boost::asio::thread_pool pool{1};
  std::unique_ptr<connection> conn;  // the checkpoint thread's
  std::atomic<bool> pending{false};
  std::atomic<uint64_t> done{0};
};

std::mutex checkpointers_mutex;
std::map<const sqlite_database*, std::unique_ptr<background_checkpointer>>& checkpointers() {
  static std::map<const sqlite_database*, std::unique_ptr<background_checkpointer>> m;
  return m;
}

}  // namespace

// For tests: background checkpoints completed (with their catch-up) on this database.
uint64_t wal_background_checkpoints(const sqlite_database& db) {
  std::lock_guard lock(checkpointers_mutex);
  auto it = checkpointers().find(&db);
  return it == checkpointers().end() ? 0 : it->second->done.load();
}

// ---------------------------------------------------------------------------------------------
// statement

statement::statement(statement&& other) noexcept : stmt_(other.stmt_), home_(other.home_) {
  other.stmt_ = nullptr;
  other.home_ = nullptr;
}

statement& statement::operator=(statement&& other) noexcept {
  if (this != &other) {
    release();
    stmt_ = other.stmt_;
    home_ = other.home_;
    other.stmt_ = nullptr;
    other.home_ = nullptr;
  }
  return *this;
}

statement::~statement() { release(); }

void statement::release() noexcept {
  if (!stmt_) return;
  // Reset ends any read transaction the statement holds open; without it a reader connection
  // would pin an old WAL snapshot (and keep the WAL from being checkpointed).
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (home_) {
    try {
      home_->push_back(stmt_);
    } catch (...) {
      sqlite3_finalize(stmt_);  // out of memory: drop it from the cache rather than leak it
    }
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
  home_ = nullptr;
}

void statement::fail(int rc) const {
  const char* sql = stmt_ ? sqlite3_sql(stmt_) : nullptr;
  throw_error(stmt_ ? sqlite3_db_handle(stmt_) : nullptr, rc, sql ? sql : "statement");
}

statement& statement::bind_at(int index, int64_t value) {
  if (int rc = sqlite3_bind_int64(stmt_, index, value); rc != SQLITE_OK) fail(rc);
  return *this;
}

statement& statement::bind_at(int index, double value) {
  if (int rc = sqlite3_bind_double(stmt_, index, value); rc != SQLITE_OK) fail(rc);
  return *this;
}

statement& statement::bind_at(int index, std::string_view text) {
  // SQLITE_TRANSIENT: SQLite copies, so temporaries passed to bind() are safe.
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

statement& statement::bind_at(int index, blob value) {
  // A zero-length blob must not bind as NULL (which a null data pointer would give).
  static const char empty = 0;
  const char* data = value.bytes.empty() ? &empty : value.bytes.data();
  int rc = sqlite3_bind_blob64(stmt_, index, data, value.bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) fail(rc);
  return *this;
}

statement& statement::bind_at(int index, std::nullopt_t) {
  if (int rc = sqlite3_bind_null(stmt_, index); rc != SQLITE_OK) fail(rc);
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc);
}

int64_t statement::exec() {
  while (step()) {
  }
  return sqlite3_changes64(sqlite3_db_handle(stmt_));
}

void statement::reset() { sqlite3_reset(stmt_); }

int statement::column_count() const { return sqlite3_column_count(stmt_); }

bool statement::column_is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

int64_t statement::column_int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string statement::column_text(int col) const {
  // Pointer first, then size: the documented order when a conversion may happen.
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

std::string statement::column_blob(int col) const {
  auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

// ---------------------------------------------------------------------------------------------
// connection

connection::connection(const std::filesystem::path& file, const connection_options& opts) {
  // NOMUTEX: each connection is used by one thread at a time (the database's own threads), so
  // SQLite's per-connection mutex would be pure overhead. EXRESCODE: extended result codes, so
  // callers can tell a primary-key clash from other constraint failures.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = "cannot open " + file.string() + ": " +
                       (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw sqlite_error(rc, what);
  }
  try {
    check(db_, sqlite3_busy_timeout(db_, static_cast<int>(opts.busy_timeout.count())), "busy_timeout");
    // Foreign keys are off by default in SQLite and the setting is per connection.
    exec_script("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;");
    if (opts.read_only) exec_script("PRAGMA query_only = ON;");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

connection::~connection() {
  for (auto& [sql, idle] : cache_) {
    for (sqlite3_stmt* st : idle) sqlite3_finalize(st);
  }
  // close_v2: should a statement still be leased (a bug), the handle becomes a zombie that is
  // freed with the statement instead of failing with SQLITE_BUSY and leaking.
  sqlite3_close_v2(db_);
}

statement connection::lease(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) it = cache_.emplace(std::string(sql), std::vector<sqlite3_stmt*>{}).first;
  std::vector<sqlite3_stmt*>& idle = it->second;
  if (!idle.empty()) {
    sqlite3_stmt* st = idle.back();
    idle.pop_back();
    return statement(st, &idle);
  }
  sqlite3_stmt* st = nullptr;
  const char* tail = nullptr;
  // PERSISTENT: these statements live as long as the connection; SQLite allocates them so as
  // not to fragment its lookaside memory.
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &st, &tail);
  if (rc != SQLITE_OK) throw_error(db_, rc, sql);
  statement result(st, &idle);  // owns st from here on
  if (!st) throw sqlite_error(SQLITE_MISUSE, "empty SQL statement: " + std::string(sql));
  // Everything after the first statement would be silently ignored: refuse it.
  const char* end = sql.data() + sql.size();
  if (std::any_of(tail, end, [](char ch) { return !std::isspace(static_cast<unsigned char>(ch)) && ch != ';'; })) {
    throw sqlite_error(SQLITE_MISUSE, "prepare() takes one statement: " + std::string(sql));
  }
  return result;
}

void connection::exec_script(const std::string& sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw sqlite_error(sqlite3_extended_errcode(db_), what);
  }
}

int64_t connection::changes() const { return sqlite3_changes64(db_); }

int64_t connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

bool connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---------------------------------------------------------------------------------------------
// transaction

transaction::transaction(connection& c, kind k) : conn_(c) {
  conn_.exec_script(k == kind::immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}

transaction::~transaction() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll back by themselves: only roll back what
  // is still open.
  if (!done_ && conn_.in_transaction()) {
    sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void transaction::commit() {
  conn_.exec_script("COMMIT");
  done_ = true;
}

// ---------------------------------------------------------------------------------------------
// migrations

namespace {

// Applies `migrations` (any order, several modules) on `c`. Returns an error message, empty
// on success. Each step runs in its own transaction together with its schema_version update,
// so a failing step leaves the module at the previous version and nothing half-applied.
std::string apply_migrations(connection& c, const std::vector<migration>& migrations) {
  c.exec_script(
      "CREATE TABLE IF NOT EXISTS schema_version ("
      " module TEXT PRIMARY KEY NOT NULL,"
      " version INTEGER NOT NULL)");

  // Group by module, keeping the order in which modules first appear (core first), and sort
  // each module's steps by version.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const migration*>> by_module;
  for (const migration& m : migrations) {
    if (m.module.empty()) return "migration with an empty module name";
    if (m.version <= 0) {
      return "migration " + m.module + " " + std::to_string(m.version) + ": versions start at 1";
    }
    auto [it, inserted] = by_module.try_emplace(m.module);
    if (inserted) order.push_back(m.module);
    it->second.push_back(&m);
  }
  for (auto& [module, steps] : by_module) {
    std::stable_sort(steps.begin(), steps.end(),
                     [](const migration* a, const migration* b) { return a->version < b->version; });
    for (size_t i = 1; i < steps.size(); ++i) {
      if (steps[i]->version == steps[i - 1]->version) {
        return "migration " + module + " " + std::to_string(steps[i]->version) + " is defined twice";
      }
    }
  }

  auto current_version = [&c](const std::string& module) -> int64_t {
    auto st = c.prepare("SELECT version FROM schema_version WHERE module = ?1", module);
    return st.step() ? st.column_int64(0) : 0;
  };

  // A database written by a newer build may have tables this build would misread: refuse to
  // touch it at all, before applying anything.
  for (const std::string& module : order) {
    int64_t have = current_version(module);
    int known = by_module[module].back()->version;
    if (have > known) {
      return "the database schema of module '" + module + "' is at version " + std::to_string(have) +
             ", newer than this build knows (" + std::to_string(known) +
             "): use a newer Starling or restore a backup";
    }
  }

  for (const std::string& module : order) {
    for (const migration* m : by_module[module]) {
      transaction t(c);
      // Read again inside the write lock: another process (starlingctl, a second server start)
      // may have applied this step meanwhile.
      if (current_version(module) >= m->version) continue;
      try {
        c.exec_script(m->sql);
      } catch (const sqlite_error& e) {
        return "migration " + module + " " + std::to_string(m->version) + " failed: " + e.what();
      }
      c.execute(
          "INSERT INTO schema_version (module, version) VALUES (?1, ?2)"
          " ON CONFLICT (module) DO UPDATE SET version = excluded.version",
          module, m->version);
      t.commit();
    }
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// sqlite_database

namespace {
std::atomic<uint64_t> next_database_id{1};
}

sqlite_database::sqlite_database(std::filesystem::path file, const sqlite_options& opts)
    : file_(std::move(file)), opts_(opts), id_(next_database_id.fetch_add(1)) {}

std::shared_ptr<connection> sqlite_database::thread_reader() {
  struct entry {
    uint64_t db;
    std::weak_ptr<connection> conn;
  };
  // Entries of closed databases expire (their connections are gone) and are replaced.
  thread_local std::vector<entry> mine;
  for (auto it = mine.begin(); it != mine.end(); ++it) {
    if (it->db != id_) continue;
    if (auto c = it->conn.lock()) return c;
    mine.erase(it);
    break;
  }
  connection_options o;
  o.read_only = true;
  o.busy_timeout = opts_.busy_timeout;
  auto c = std::make_shared<connection>(file_, o);
  {
    std::lock_guard lock(thread_readers_mutex_);
    // Checked under the lock close() takes: a connection opened after close() would leak.
    check_open();
    thread_readers_.push_back(c);
  }
  std::erase_if(mine, [](const entry& e) { return e.conn.expired(); });
  mine.push_back({id_, c});
  return c;
}

std::unique_ptr<sqlite_database> sqlite_database::open(const std::filesystem::path& file,
                                                       const sqlite_options& opts,
                                                       std::string& error) {
  std::unique_ptr<sqlite_database> db(new sqlite_database(file, opts));
  try {
    bool in_memory = file.empty() || file == ":memory:";
    if (!in_memory && file.has_parent_path()) {
      std::error_code ec;
      std::filesystem::create_directories(file.parent_path(), ec);
      if (ec) {
        error = "cannot create directory " + file.parent_path().string() + ": " + ec.message();
        return nullptr;
      }
    }
    connection_options writer_opts;
    writer_opts.busy_timeout = opts.busy_timeout;
    db->writer_conn_ = std::make_unique<connection>(file, writer_opts);
    // WAL: readers do not block the writer nor the writer the readers, and a commit is one
    // append to the log. The mode is stored in the file, so set it before any reader opens.
    {
      auto st = db->writer_conn_->prepare("PRAGMA journal_mode = WAL");
      std::string mode = st.step() ? st.column_text(0) : std::string();
      if (mode != "wal" && !in_memory) {
        error = "cannot switch " + file.string() + " to WAL mode (journal_mode is " + mode + ")";
        return nullptr;
      }
    }
    // Checkpoints every 8,000 WAL pages (32 MiB) instead of SQLite's 1,000 (issue 6, archive
    // CPU per message). A checkpoint copies every distinct page of the WAL into the file and
    // syncs both (fdatasync, with the kernel's writeback of those pages charged to the writer
    // thread); archived rows dirty the same index leaves and mam_owners pages in batch after
    // batch, so a longer WAL copies each such page once for many commits. Measured with a
    // 1-million-row archive at 1,000 msg/s: writer CPU per message 110 -> 90 µs. (A larger
    // page cache did not help there: the misses are cold pages read once from the OS cache.)
    // Durability is unchanged: with synchronous=NORMAL in WAL mode commits are not synced
    // anyway, only checkpoints, so a power loss may lose the last commits (never corrupt the
    // file), as before. Readers look frames up in the WAL index, whose cost grows with the
    // log only by one hash table per 4,096 frames.
    db->writer_conn_->exec_script("PRAGMA wal_autocheckpoint = 8000;");
    db->writer_pool_ = std::make_unique<boost::asio::thread_pool>(1);
    // Named so that per-thread CPU (top -H, perf --sort pid, starling-bench's server.threads)
    // shows what the database writer costs apart from the network threads.
    boost::asio::post(*db->writer_pool_, [] { pthread_setname_np(pthread_self(), "starling-dbw"); });
    if (!in_memory) {
      auto cp = std::make_unique<background_checkpointer>(file, db->writer_pool_->get_executor(),
                                                          db->writer_conn_->handle());
      boost::asio::post(cp->pool, [] {
        pthread_setname_np(pthread_self(), "starling-dbc");
        // The lowest CPU priority (issue 6, message latency): a pass copies up to 32 MiB and
        // can run for 100 ms of CPU, and it usually shares a core with a network thread (one
        // pinned core in the benchmark, or one of a few in a container). At nice 0 the
        // scheduler splits the core between them and stanzas wait behind the copy; at nice
        // 19 a waking network thread always runs first. The pass is never starved for good
        // (weight 15 of 1024, not SCHED_IDLE), and the writer's catch-up bounds the log
        // whatever the pass's pace. On Linux the nice value is per thread.
        setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
      });
      sqlite3_wal_hook(db->writer_conn_->handle(), &background_checkpointer::on_commit, cp.get());
      std::lock_guard lock(checkpointers_mutex);
      checkpointers()[db.get()] = std::move(cp);
    }

    unsigned readers = in_memory ? 0 : opts.readers;
    if (readers > 0) {
      connection_options reader_opts;
      reader_opts.read_only = true;
      reader_opts.busy_timeout = opts.busy_timeout;
      for (unsigned i = 0; i < readers; ++i) {
        db->reader_conns_.push_back(std::make_unique<connection>(file, reader_opts));
        db->idle_readers_.push_back(db->reader_conns_.back().get());
      }
      db->reader_pool_ = std::make_unique<boost::asio::thread_pool>(readers);
      for (unsigned i = 0; i < readers; ++i)
        boost::asio::post(*db->reader_pool_, [] { pthread_setname_np(pthread_self(), "starling-dbr"); });
    }
    db->inline_reads_ = readers > 0 && opts.inline_reads;
    db->accounts_ = make_sqlite_account_store(*db);
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
  if (!db->migrate({}, error)) return nullptr;
  return db;
}

sqlite_database::~sqlite_database() { close(); }

account_store& sqlite_database::accounts() { return *accounts_; }

bool sqlite_database::migrate(const std::vector<migration>& extra, std::string& error) {
  std::vector<migration> all = core_migrations();
  all.insert(all.end(), extra.begin(), extra.end());
  try {
    error = run_blocking([&all](connection& c) { return apply_migrations(c, all); });
  } catch (const std::exception& e) {
    error = e.what();
  }
  return error.empty();
}

void sqlite_database::close() {
  std::lock_guard lock(close_mutex_);
  if (closed_.exchange(true)) return;
  // join() without stop(): the pools finish every queued call first, so no caller is left
  // waiting forever and no accepted write is lost.
  if (reader_pool_) reader_pool_->join();
  std::unique_ptr<background_checkpointer> cp;
  {
    std::lock_guard lock(checkpointers_mutex);
    if (auto it = checkpointers().find(this); it != checkpointers().end()) {
      cp = std::move(it->second);
      checkpointers().erase(it);
    }
  }
  // A running checkpoint finishes; its catch-up goes to the writer's queue, still running.
  if (cp) cp->pool.join();
  if (writer_pool_) writer_pool_->join();
  if (cp) {
    // No commit can run any more; a hook posted to the joined pool above is simply dropped.
    sqlite3_wal_hook(writer_conn_->handle(), nullptr, nullptr);
    // Before the writer's connection: the last connection to close checkpoints the whole log.
    cp.reset();
  }
  {
    // A read() running on another thread holds its own reference until it returns.
    std::lock_guard lock(thread_readers_mutex_);
    thread_readers_.clear();
  }
  idle_readers_.clear();
  reader_conns_.clear();
  // The last connection to close checkpoints the WAL into the main file.
  writer_conn_.reset();
}

void sqlite_database::post(std::function<void(connection&)> f) {
  check_open();
  bool schedule = false;
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(f));
    schedule = !std::exchange(flush_scheduled_, true);
  }
  // Queued behind the run() calls issued before, ahead of those issued after: the order of
  // the writer's queue is the order of the calls.
  if (schedule) boost::asio::post(writer_pool_->get_executor(), [this] { flush_posted(); });
}

void sqlite_database::flush_posted() {
  std::vector<std::function<void(connection&)>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
    flush_scheduled_ = false;
  }
  if (batch.empty()) return;
  connection& c = writer();
  try {
    transaction t(c);
    for (auto& f : batch) {
      c.exec_script("SAVEPOINT posted");
      try {
        f(c);
        c.exec_script("RELEASE posted");
      } catch (const std::exception&) {
        posted_failures_.fetch_add(1, std::memory_order_relaxed);
        c.exec_script("ROLLBACK TO posted; RELEASE posted");
      }
    }
    t.commit();
  } catch (const std::exception&) {
    // BEGIN or COMMIT failed (disk full, I/O error, busy past the timeout): the batch is lost.
    posted_failures_.fetch_add(batch.size(), std::memory_order_relaxed);
  }
}

void sqlite_database::check_open() const {
  if (closed_.load(std::memory_order_acquire)) throw sqlite_error(SQLITE_MISUSE, "database is closed");
}

connection& sqlite_database::writer() {
  assert(writer_pool_->get_executor().running_in_this_thread());
  return *writer_conn_;
}

connection* sqlite_database::acquire_reader() {
  std::lock_guard lock(readers_mutex_);
  // As many connections as reader threads, and a connection is only held while its thread
  // runs one call: there is always an idle one.
  assert(!idle_readers_.empty());
  connection* c = idle_readers_.back();
  idle_readers_.pop_back();
  return c;
}

void sqlite_database::release_reader(connection* c) noexcept {
  std::lock_guard lock(readers_mutex_);
  idle_readers_.push_back(c);  // capacity reserved: it held this pointer before
}

void sqlite_database::add_account_removal_hook(account_removal_hook hook) {
  std::lock_guard lock(hooks_mutex_);
  removal_hooks_.push_back(std::move(hook));
}

void sqlite_database::run_account_removal_hooks(connection& c, const std::string& host,
                                                const std::string& user) {
  std::vector<account_removal_hook> hooks;
  {
    std::lock_guard lock(hooks_mutex_);
    hooks = removal_hooks_;
  }
  for (auto& hook : hooks) hook(c, host, user);
}

std::unique_ptr<sqlite_database> open_sqlite_database(const std::filesystem::path& file,
                                                      const sqlite_options& opts,
                                                      std::string& error) {
  return sqlite_database::open(file, opts, error);
}

std::unique_ptr<database> open_sqlite(const std::filesystem::path& file, std::string& error) {
  return sqlite_database::open(file, sqlite_options{}, error);
}

}  // namespace starling::storage
