// MAM store over SQLite (XEP-0313 paging, filters, ids, size cap, retention, removal with the
// account, index use checked by EXPLAIN QUERY PLAN) and the archiving rules.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "modules/mam/mam_rules.hpp"
#include "modules/mam/mam_store.hpp"
#include "storage/sqlite.hpp"
#include "util/random.hpp"
#include "xml/element.hpp"

namespace starling::modules {
namespace {

class mam_store_test : public ::testing::Test {
 protected:
  template <class F>
  auto run(F f) {
    return db_->run_blocking(std::move(f));
  }
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-mam-" + util::random_token(12));
    std::string error;
    db_ = storage::open_sqlite_database(dir_ / "t.db", {}, error);
    ASSERT_TRUE(db_) << error;
    ASSERT_TRUE(db_->migrate(mam_store::migrations(), error)) << error;
    for (const char* u : {"juliet", "romeo"})
      run([u](storage::connection& c) {
        c.execute("INSERT INTO accounts (host, user, created) VALUES ('example.com', ?1, 0)", u);
      });
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // n messages for juliet, alternating with romeo and nurse, 1 ms apart from t0.
  std::vector<std::string> fill(int n, int64_t t0 = 1'000'000'000'000'000, mam_limits limits = {}) {
    std::vector<mam_entry> batch;
    std::vector<std::string> uids;
    for (int i = 0; i < n; ++i) {
      mam_entry e;
      e.host = "example.com";
      e.user = "juliet";
      e.seq = next_seq(t0 + i * 1000);
      e.uid = mam_store::make_uid(e.seq);
      e.with_bare = i % 2 ? "nurse@example.com" : "romeo@example.com";
      e.with_full = e.with_bare + (i % 4 == 0 ? "/garden" : "/home");
      e.outgoing = i % 3 == 0;
      e.stanza = "<message><body>" + std::to_string(i) + "</body></message>";
      uids.push_back(e.uid);
      batch.push_back(std::move(e));
    }
    run([&](storage::connection& c) { mam_store::insert_batch(c, batch, limits); });
    return uids;
  }
  // What mam_module::next_seq does: the time, or one more than the last one.
  int64_t next_seq(int64_t t) { return last_seq_ = std::max(t, last_seq_ + 1); }
  mam_status query(const mam_filter& f, const mam_page_request& p, mam_page& out) {
    return run([&](storage::connection& c) { return mam_store::query(c, "example.com", "juliet", f, p, out); });
  }
  std::vector<std::string> uids_of(const mam_page& p) {
    std::vector<std::string> out;
    for (const auto& r : p.items) out.push_back(r.uid);
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_database> db_;
  int64_t last_seq_ = 0;
};

TEST_F(mam_store_test, PagesForwardAndBackwardThroughEverything) {
  auto uids = fill(1000);
  // Forward with RSM after.
  std::vector<std::string> seen;
  mam_page_request p;
  p.max = 64;
  for (int guard = 0; guard < 100; ++guard) {
    mam_page page;
    ASSERT_EQ(query({}, p, page), mam_status::ok);
    EXPECT_EQ(page.count, 1000u);
    if (!page.items.empty()) EXPECT_EQ(page.first_index, seen.size());
    for (auto& u : uids_of(page)) seen.push_back(u);
    if (page.complete) break;
    p.after_uid = page.items.back().uid;
  }
  EXPECT_EQ(seen, uids);
  // Backward from the last page (empty <before/>) with RSM before.
  std::vector<std::string> back;
  mam_page_request b;
  b.max = 100;
  b.backward = true;
  for (int guard = 0; guard < 100; ++guard) {
    mam_page page;
    ASSERT_EQ(query({}, b, page), mam_status::ok);
    auto u = uids_of(page);
    back.insert(back.begin(), u.begin(), u.end());
    if (!page.items.empty()) EXPECT_EQ(page.first_index, 1000u - back.size());
    if (page.complete) break;
    b.before_uid = page.items.front().uid;
  }
  EXPECT_EQ(back, uids);
}

TEST_F(mam_store_test, FiltersByWithTimeAndIds) {
  auto uids = fill(100);
  const int64_t t0 = 1'000'000'000'000'000;
  mam_page page;
  mam_page_request p;
  p.max = 1000;
  mam_filter f;
  f.with_bare = "romeo@example.com";
  ASSERT_EQ(query(f, p, page), mam_status::ok);
  EXPECT_EQ(page.count, 50u);
  EXPECT_TRUE(page.complete);
  f.with_full = "romeo@example.com/garden";
  ASSERT_EQ(query(f, p, page), mam_status::ok);
  EXPECT_EQ(page.count, 25u);
  f = {};
  f.min_seq = t0 + 10 * 1000;
  f.max_seq = t0 + 19 * 1000;  // inclusive
  ASSERT_EQ(query(f, p, page), mam_status::ok);
  EXPECT_EQ(uids_of(page), std::vector<std::string>(uids.begin() + 10, uids.begin() + 20));
  f = {};
  f.after_id = uids[5];
  f.before_id = uids[9];
  ASSERT_EQ(query(f, p, page), mam_status::ok);
  EXPECT_EQ(uids_of(page), std::vector<std::string>(uids.begin() + 6, uids.begin() + 9));
  f = {};
  f.ids = {uids[42], uids[7], uids[42]};
  ASSERT_EQ(query(f, p, page), mam_status::ok);
  EXPECT_EQ(uids_of(page), (std::vector<std::string>{uids[7], uids[42]}));
  f.ids = {uids[1], "nope"};
  EXPECT_EQ(query(f, p, page), mam_status::item_not_found);
  f = {};
  f.after_id = "nope";
  EXPECT_EQ(query(f, p, page), mam_status::item_not_found);
  mam_page_request bad;
  bad.after_uid = "nope";
  EXPECT_EQ(query({}, bad, page), mam_status::item_not_found);
  // The count alone (XEP-0059 §2.7).
  mam_page_request zero;
  zero.max = 0;
  ASSERT_EQ(query({}, zero, page), mam_status::ok);
  EXPECT_EQ(page.count, 100u);
  EXPECT_TRUE(page.items.empty());
  // Page by index.
  mam_page_request idx;
  idx.max = 5;
  idx.index = 90;
  ASSERT_EQ(query({}, idx, page), mam_status::ok);
  EXPECT_EQ(page.first_index, 90u);
  EXPECT_EQ(uids_of(page).front(), uids[90]);
}

TEST_F(mam_store_test, UidsEncodeTheirSeqAndAreUnpredictable) {
  const int64_t seq = 1'700'000'000'123'456;
  std::string a = mam_store::make_uid(seq), b = mam_store::make_uid(seq);
  EXPECT_NE(a, b);  // the random part
  EXPECT_EQ(mam_store::uid_seq(a), seq);
  EXPECT_EQ(a.size(), 13u + 1u + 12u);
  EXPECT_EQ(a.substr(0, 14), "60a2418202240-");
  EXPECT_EQ(mam_store::make_uid(0).substr(0, 2), "0-");
  EXPECT_EQ(mam_store::uid_seq(mam_store::make_uid(255)), 255);
  EXPECT_EQ(mam_store::make_uid(INT64_MAX).substr(0, 17), "7fffffffffffffff-");
  EXPECT_EQ(mam_store::uid_seq(mam_store::make_uid(INT64_MAX)), INT64_MAX);
  // Anything else is not a version-2 uid (version-1 uids are random alphanumerics).
  for (const char* bad : {"", "-", "-abc", "xyz-abc", "1234567890abcdef0-abc", "8000000000000000-abc", "AB-cd", "Abcdefghijklmnopqrstu"})
    EXPECT_FALSE(mam_store::uid_seq(bad).has_value()) << bad;
  // A uid with the right seq but another random part names nothing.
  auto uids = fill(3);
  auto wrong = uids[1];
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  mam_filter f;
  f.after_id = wrong;
  mam_page page;
  EXPECT_EQ(query(f, {}, page), mam_status::item_not_found);
  f.after_id = uids[1];
  ASSERT_EQ(query(f, {}, page), mam_status::ok);
  ASSERT_EQ(page.items.size(), 1u);
  EXPECT_EQ(page.items[0].uid, uids[2]);
  // Another archive's uid is not found in this one.
  std::vector<mam_entry> batch(1);
  batch[0].host = "example.com", batch[0].user = "romeo", batch[0].seq = next_seq(0);
  batch[0].uid = mam_store::make_uid(batch[0].seq), batch[0].with_bare = batch[0].with_full = "juliet@example.com";
  batch[0].stanza = "<message/>";
  run([&](storage::connection& c) { mam_store::insert_batch(c, batch, {}); });
  f.after_id = batch[0].uid;
  EXPECT_EQ(query(f, {}, page), mam_status::item_not_found);
  f = {};
  f.ids = {batch[0].uid};
  EXPECT_EQ(query(f, {}, page), mam_status::item_not_found);
}

TEST_F(mam_store_test, SizeCapRemovesTheOldest) {
  mam_limits l;
  l.max_messages_per_user = 30;
  auto a = fill(20, 1'000'000'000'000'000, l);
  auto b = fill(20, 1'000'000'000'000'000, l);
  mam_page page;
  mam_page_request p;
  p.max = 100;
  ASSERT_EQ(query({}, p, page), mam_status::ok);
  ASSERT_EQ(page.count, 30u);
  EXPECT_EQ(page.items.front().uid, a[10]);
  EXPECT_EQ(page.items.back().uid, b[19]);
}

// The writer's owner cache (insert_batch's memo of archive ids) is only a hint: an archive
// removed with its account, or removed and created again under another id, or an id now used
// by another account, never receives rows through a stale entry; counts stay exact.
TEST_F(mam_store_test, OwnerCacheNeverWritesThroughStaleIds) {
  mam_owner_cache cache;
  auto batch_for = [&](std::vector<const char*> users) {
    std::vector<mam_entry> b;
    for (const char* u : users) {
      mam_entry e;
      e.host = "example.com", e.user = u, e.seq = next_seq(0), e.uid = mam_store::make_uid(e.seq);
      e.with_bare = e.with_full = "nurse@example.com", e.stanza = "<message/>";
      b.push_back(std::move(e));
    }
    return b;
  };
  auto insert = [&](std::vector<mam_entry> b, mam_limits l = {}) {
    run([&](storage::connection& c) { mam_store::insert_batch(c, b, l, &cache); });
  };
  auto rows_of = [&](const char* user) {
    return run([user](storage::connection& c) {
      auto st = c.prepare(
          "SELECT (SELECT count(*) FROM mam_messages WHERE owner = (SELECT id FROM mam_owners WHERE user = ?1)), "
          "(SELECT count FROM mam_owners WHERE user = ?1)",
          user);
      st.step();
      return std::make_pair(st.column_int64(0), st.column_is_null(1) ? int64_t{-1} : st.column_int64(1));
    });
  };
  insert(batch_for({"juliet", "romeo", "juliet"}));
  EXPECT_EQ(rows_of("juliet"), std::make_pair(int64_t{2}, int64_t{2}));
  EXPECT_EQ(rows_of("romeo"), std::make_pair(int64_t{1}, int64_t{1}));
  ASSERT_TRUE(cache.find("example.com", "juliet"));
  const int64_t juliet_id = *cache.find("example.com", "juliet");
  // Cached ids are used (and the count kept) on the next batch.
  insert(batch_for({"juliet"}));
  EXPECT_EQ(rows_of("juliet"), std::make_pair(int64_t{3}, int64_t{3}));
  // juliet goes; her cached id must not take rows any more.
  run([](storage::connection& c) { c.execute("DELETE FROM accounts WHERE user = 'juliet'"); });
  insert(batch_for({"juliet", "romeo"}));
  EXPECT_EQ(rows_of("juliet"), std::make_pair(int64_t{0}, int64_t{-1}));
  EXPECT_EQ(rows_of("romeo"), std::make_pair(int64_t{2}, int64_t{2}));
  EXPECT_FALSE(cache.find("example.com", "juliet"));
  // Another account takes juliet's old id; a stale entry for juliet must not write there.
  run([juliet_id](storage::connection& c) {
    c.execute("INSERT INTO accounts (host, user, created) VALUES ('example.com', 'mercutio', 0)");
    c.execute("INSERT INTO mam_owners (id, host, user, count) VALUES (?1, 'example.com', 'mercutio', 0)", juliet_id);
    c.execute("INSERT INTO accounts (host, user, created) VALUES ('example.com', 'juliet', 0)");
  });
  cache.put("example.com", "juliet", juliet_id);
  insert(batch_for({"juliet"}));
  EXPECT_EQ(rows_of("mercutio"), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_EQ(rows_of("juliet"), std::make_pair(int64_t{1}, int64_t{1}));
  EXPECT_NE(*cache.find("example.com", "juliet"), juliet_id);
  // The size cap works from the cache path too (the count is read after the update).
  mam_limits cap;
  cap.max_messages_per_user = 2;
  insert(batch_for({"romeo", "romeo", "romeo"}), cap);
  EXPECT_EQ(rows_of("romeo"), std::make_pair(int64_t{2}, int64_t{2}));
}

TEST_F(mam_store_test, ExpiryAndAccountRemoval) {
  const int64_t t0 = 1'000'000'000'000'000;
  fill(50, t0);
  int64_t n = run([&](storage::connection& c) { return mam_store::expire(c, t0 + 20 * 1000, 7); });
  EXPECT_EQ(n, 7);
  n = run([&](storage::connection& c) { return mam_store::expire(c, t0 + 20 * 1000, 1000); });
  EXPECT_EQ(n, 13);
  mam_page page;
  mam_page_request p;
  p.max = 100;
  ASSERT_EQ(query({}, p, page), mam_status::ok);
  EXPECT_EQ(page.count, 30u);
  auto count = run([](storage::connection& c) {
    auto st = c.prepare("SELECT count FROM mam_owners WHERE user = 'juliet'");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(count, 30);
  run([](storage::connection& c) {
    mam_store::save_prefs(c, {"example.com", "juliet", "roster", {"a@b"}, {"c@d/e", "f@g"}});
  });
  auto prefs = run([](storage::connection& c) { return mam_store::load_prefs(c); });
  ASSERT_EQ(prefs.size(), 1u);
  EXPECT_EQ(prefs[0].never, (std::vector<std::string>{"c@d/e", "f@g"}));
  // romeo's archive stays when juliet's goes.
  std::vector<mam_entry> other(2);
  for (auto& e : other) {
    e.host = "example.com", e.user = "romeo", e.seq = next_seq(0), e.uid = mam_store::make_uid(e.seq);
    e.with_bare = e.with_full = "juliet@example.com", e.stanza = "<message/>";
  }
  run([&](storage::connection& c) { mam_store::insert_batch(c, other, {}); });
  // Everything goes with the account (foreign keys to accounts, the trigger on mam_owners).
  run([](storage::connection& c) { c.execute("DELETE FROM accounts WHERE user = 'juliet'"); });
  auto left = run([](storage::connection& c) {
    auto st = c.prepare("SELECT (SELECT count(*) FROM mam_messages WHERE owner NOT IN (SELECT id FROM mam_owners WHERE user = 'romeo')) + "
                        "(SELECT count(*) FROM mam_owners WHERE user = 'juliet') + "
                        "(SELECT count(*) FROM mam_prefs)");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(left, 0);
  auto romeo = run([](storage::connection& c) {
    auto st = c.prepare("SELECT count(*) FROM mam_messages");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(romeo, 2);
  // No archive for accounts that do not exist.
  std::vector<mam_entry> ghost(1);
  ghost[0].host = "example.com", ghost[0].user = "ghost", ghost[0].seq = next_seq(0);
  ghost[0].uid = mam_store::make_uid(ghost[0].seq), ghost[0].stanza = "<message/>";
  run([&](storage::connection& c) { mam_store::insert_batch(c, ghost, {}); });
  left = run([](storage::connection& c) {
    auto st = c.prepare("SELECT (SELECT count(*) FROM mam_messages) + (SELECT count(*) FROM mam_owners WHERE user = 'ghost')");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(left, 2);
}

// Every page and count query is an index range scan of one account, never a table scan or
// a temporary sort, whatever the filters (millions of rows per account stay cheap).
TEST_F(mam_store_test, QueriesUseTheIndexes) {
  fill(10);
  run([](storage::connection& c) { c.exec_script("ANALYZE"); });
  for (bool wb : {false, true})
    for (bool wf : {false, true})
      for (bool asc : {false, true})
        for (bool count : {false, true}) {
          if (wf && !wb) continue;
          std::string plan = run([&](storage::connection& c) {
            std::string out;
            auto st = c.prepare("EXPLAIN QUERY PLAN " + mam_page_sql(wb, wf, asc, count));
            while (st.step()) out += st.column_text(3) + "\n";
            return out;
          });
          SCOPED_TRACE(mam_page_sql(wb, wf, asc, count) + "\n" + plan);
          EXPECT_NE(plan.find(wb ? "INDEX mam_messages_with (owner=? AND with_bare=? AND rowid>? AND rowid<?)"
                                 : "INDEX mam_messages_owner (owner=? AND rowid>? AND rowid<?)"),
                    std::string::npos);
          EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos);
          EXPECT_EQ(plan.find("SCAN"), std::string::npos);
        }
  // The only indexes a new row goes into: the owner and with indexes (the version-1 uid index
  // is partial and takes no new uid).
  auto indexed = run([](storage::connection& c) {
    auto st = c.prepare("SELECT count(*) FROM mam_messages INDEXED BY mam_messages_uid_v1 WHERE instr(uid, '-') = 0");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(indexed, 0);
}

// A database of schema version 1 (text owner columns, random uids) with rows in it is
// upgraded in place: every row, count, preference and uid stays, queryable by its old uid.
TEST(mam_migration, UpgradesVersionOneArchives) {
  auto dir = std::filesystem::temp_directory_path() / ("starling-mam-" + util::random_token(12));
  std::string error;
  auto db = storage::open_sqlite_database(dir / "t.db", {}, error);
  ASSERT_TRUE(db) << error;
  auto v1 = mam_store::migrations();
  v1.resize(1);
  ASSERT_EQ(v1[0].version, 1);
  ASSERT_TRUE(db->migrate(v1, error)) << error;
  std::vector<std::string> old_uids;
  for (int i = 0; i < 40; ++i) old_uids.push_back(util::random_token(21));
  db->run_blocking([&](storage::connection& c) {
    for (const char* u : {"juliet", "romeo", "nurse"})
      c.execute("INSERT INTO accounts (host, user, created) VALUES ('example.com', ?1, 0)", u);
    for (int i = 0; i < 40; ++i) {
      const char* owner = i % 4 == 0 ? "romeo" : "juliet";
      c.execute("INSERT INTO mam_messages (seq, host, user, uid, with_bare, with_full, outgoing, stanza) "
                "VALUES (?1, 'example.com', ?2, ?3, 'nurse@example.com', 'nurse@example.com/x', ?4, ?5)",
                int64_t{1'000'000} + i, owner, old_uids[i], i % 2, "<message><body>" + std::to_string(i) + "</body></message>");
    }
    c.execute("INSERT INTO mam_archives (host, user, count) VALUES ('example.com', 'juliet', 30), ('example.com', 'romeo', 10)");
    mam_store::save_prefs(c, {"example.com", "juliet", "never", {"a@b"}, {}});
  });
  db.reset();
  db = storage::open_sqlite_database(dir / "t.db", {}, error);
  ASSERT_TRUE(db) << error;
  ASSERT_TRUE(db->migrate(mam_store::migrations(), error)) << error;
  auto version = db->run_blocking([](storage::connection& c) {
    auto st = c.prepare("SELECT version FROM schema_version WHERE module = 'mam'");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(version, 2);
  auto q = [&](const std::string& user, const mam_filter& f, const mam_page_request& p, mam_page& out) {
    return db->run_blocking([&](storage::connection& c) { return mam_store::query(c, "example.com", user, f, p, out); });
  };
  mam_page page;
  mam_page_request all;
  all.max = 100;
  ASSERT_EQ(q("juliet", {}, all, page), mam_status::ok);
  ASSERT_EQ(page.count, 30u);
  for (size_t k = 0; k < page.items.size(); ++k) EXPECT_EQ(page.items[k].seq % 4 != 0, true);
  EXPECT_EQ(page.items.front().uid, old_uids[1]);
  EXPECT_EQ(page.items.front().stanza, "<message><body>1</body></message>");
  // Old uids: after-id, RSM after and ids still find their rows, in their own archive only.
  mam_filter f;
  f.after_id = old_uids[37];
  ASSERT_EQ(q("juliet", f, all, page), mam_status::ok);
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].uid, old_uids[38]);
  mam_page_request after = all;
  after.after_uid = old_uids[2];
  ASSERT_EQ(q("juliet", {}, after, page), mam_status::ok);
  EXPECT_EQ(page.items.front().uid, old_uids[3]);
  f = {};
  f.ids = {old_uids[5], old_uids[6]};
  ASSERT_EQ(q("juliet", f, all, page), mam_status::ok);
  EXPECT_EQ(page.items.size(), 2u);
  f.ids = {old_uids[4]};  // romeo's
  EXPECT_EQ(q("juliet", f, all, page), mam_status::item_not_found);
  ASSERT_EQ(q("romeo", f, all, page), mam_status::ok);
  EXPECT_EQ(page.items.size(), 1u);
  // New rows go after the old ones; counts carried over (size cap keeps working).
  std::vector<mam_entry> batch(1);
  batch[0].host = "example.com", batch[0].user = "romeo", batch[0].seq = 2'000'000;
  batch[0].uid = mam_store::make_uid(batch[0].seq), batch[0].with_bare = batch[0].with_full = "juliet@example.com";
  batch[0].stanza = "<message/>";
  mam_limits cap;
  cap.max_messages_per_user = 10;
  db->run_blocking([&](storage::connection& c) { mam_store::insert_batch(c, batch, cap); });
  ASSERT_EQ(q("romeo", {}, all, page), mam_status::ok);
  ASSERT_EQ(page.count, 10u);
  EXPECT_EQ(page.items.front().uid, old_uids[4]);
  EXPECT_EQ(page.items.back().uid, batch[0].uid);
  auto prefs = db->run_blocking([](storage::connection& c) { return mam_store::load_prefs(c); });
  ASSERT_EQ(prefs.size(), 1u);
  EXPECT_EQ(prefs[0].default_mode, "never");
  // The archive still goes with its account.
  db->run_blocking([](storage::connection& c) { c.execute("DELETE FROM accounts WHERE user = 'romeo'"); });
  ASSERT_EQ(q("romeo", {}, all, page), mam_status::ok);
  EXPECT_EQ(page.count, 0u);
  ASSERT_EQ(q("juliet", {}, all, page), mam_status::ok);
  EXPECT_EQ(page.count, 30u);
  db.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

xml::element msg(std::string_view type, std::initializer_list<std::pair<std::string, std::string>> kids) {
  xml::element m("message", std::string(xml::ns_client));
  if (!type.empty()) m.set_attr("type", std::string(type));
  for (const auto& [name, ns] : kids) m.add(name, ns);
  return m;
}

TEST(MamRules, WhatIsArchived) {
  const std::string c(xml::ns_client);
  EXPECT_TRUE(is_archivable(msg("chat", {{"body", c}})));
  EXPECT_TRUE(is_archivable(msg("", {{"body", c}})));
  EXPECT_TRUE(is_archivable(msg("normal", {{"body", c}})));
  EXPECT_FALSE(is_archivable(msg("chat", {{"active", "http://jabber.org/protocol/chatstates"}})));
  EXPECT_FALSE(is_archivable(msg("chat", {{"received", "urn:xmpp:receipts"}})));
  EXPECT_TRUE(is_archivable(msg("chat", {{"encrypted", "eu.siacs.conversations.axolotl"}})));
  EXPECT_TRUE(is_archivable(msg("chat", {{"reactions", "urn:xmpp:reactions:0"}})));
  EXPECT_FALSE(is_archivable(msg("groupchat", {{"body", c}})));
  EXPECT_FALSE(is_archivable(msg("error", {{"body", c}})));
  EXPECT_FALSE(is_archivable(msg("headline", {{"body", c}})));
  EXPECT_TRUE(is_archivable(msg("headline", {{"body", c}, {"store", "urn:xmpp:hints"}})));
  EXPECT_TRUE(is_archivable(msg("chat", {{"store", "urn:xmpp:hints"}})));
  EXPECT_FALSE(is_archivable(msg("chat", {{"body", c}, {"no-store", "urn:xmpp:hints"}})));
  EXPECT_FALSE(is_archivable(msg("chat", {{"body", c}, {"no-permanent-store", "urn:xmpp:hints"}})));
  EXPECT_FALSE(is_archivable(msg("chat", {{"store", "urn:xmpp:hints"}, {"no-store", "urn:xmpp:hints"}})));
}

TEST(MamRules, StanzaIdsClaimingTheArchiveAreStripped) {
  auto m = msg("chat", {{"body", std::string(xml::ns_client)}});
  add_stanza_id(m, "juliet@example.com", "forged");
  add_stanza_id(m, "Juliet@Example.COM", "forged2");
  add_stanza_id(m, "room@muc.example.com", "keep");
  m.add("origin-id", std::string(ns_sid)).set_attr("id", "o1");
  EXPECT_EQ(strip_stanza_ids(m, "juliet@example.com"), 2u);
  ASSERT_TRUE(m.child("stanza-id", ns_sid));
  EXPECT_EQ(m.child("stanza-id", ns_sid)->attr_or("id"), "keep");
  EXPECT_TRUE(m.child("origin-id", ns_sid));
}

TEST(MamRules, PreferenceMatching) {
  const jid owner = *jid::parse("juliet@example.com");
  archive_prefs p;
  p.mode = archive_default::roster;
  p.always = {*jid::parse("romeo@example.com")};
  p.never = {*jid::parse("tybalt@example.com"), *jid::parse("nurse@example.com/kitchen")};
  EXPECT_EQ(decide(p, owner, *jid::parse("romeo@example.com/garden")), archive_decision::archive);
  EXPECT_EQ(decide(p, owner, *jid::parse("tybalt@example.com/x")), archive_decision::skip);
  EXPECT_EQ(decide(p, owner, *jid::parse("nurse@example.com/kitchen")), archive_decision::skip);
  EXPECT_EQ(decide(p, owner, *jid::parse("nurse@example.com/hall")), archive_decision::ask_roster);
  EXPECT_EQ(decide(p, owner, *jid::parse("juliet@example.com/balcony")), archive_decision::archive);
  p.mode = archive_default::never;
  EXPECT_EQ(decide(p, owner, *jid::parse("paris@example.com")), archive_decision::skip);
  p.mode = archive_default::always;
  EXPECT_EQ(decide(p, owner, *jid::parse("paris@example.com")), archive_decision::archive);
}

}  // namespace
}  // namespace starling::modules
