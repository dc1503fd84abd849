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
      e.received_us = t0 + i * 1000;
      e.uid = util::random_token(16);
      e.with_bare = i % 2 ? "nurse@example.com" : "romeo@example.com";
      e.with_full = e.with_bare + (i % 4 == 0 ? "/garden" : "/home");
      e.outgoing = i % 3 == 0;
      e.stanza = "<message><body>" + std::to_string(i) + "</body></message>";
      uids.push_back(e.uid);
      batch.push_back(std::move(e));
    }
    run([&](storage::connection& c) { mam_store::insert_batch(c, batch, last_seq_, limits); });
    return uids;
  }
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

TEST_F(mam_store_test, SequenceIsStrictlyIncreasingEvenWithEqualTimestamps) {
  std::vector<mam_entry> batch(3);
  for (auto& e : batch) {
    e.host = "example.com", e.user = "juliet", e.received_us = 5, e.uid = util::random_token(16);
    e.with_bare = e.with_full = "romeo@example.com", e.stanza = "<message/>";
  }
  run([&](storage::connection& c) { mam_store::insert_batch(c, batch, last_seq_, {}); });
  mam_page page;
  ASSERT_EQ(query({}, {}, page), mam_status::ok);
  ASSERT_EQ(page.items.size(), 3u);
  EXPECT_LT(page.items[0].seq, page.items[1].seq);
  EXPECT_LT(page.items[1].seq, page.items[2].seq);
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
    auto st = c.prepare("SELECT count FROM mam_archives WHERE user = 'juliet'");
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
  // Everything goes with the account (foreign keys).
  run([](storage::connection& c) { c.execute("DELETE FROM accounts WHERE user = 'juliet'"); });
  auto left = run([](storage::connection& c) {
    auto st = c.prepare("SELECT (SELECT count(*) FROM mam_messages) + (SELECT count(*) FROM mam_archives) + "
                        "(SELECT count(*) FROM mam_prefs)");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(left, 0);
  // No archive for accounts that do not exist.
  std::vector<mam_entry> ghost(1);
  ghost[0].host = "example.com", ghost[0].user = "ghost", ghost[0].uid = "x", ghost[0].stanza = "<message/>";
  run([&](storage::connection& c) { mam_store::insert_batch(c, ghost, last_seq_, {}); });
  left = run([](storage::connection& c) {
    auto st = c.prepare("SELECT count(*) FROM mam_messages");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(left, 0);
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
          EXPECT_NE(plan.find(wb ? "INDEX mam_messages_with (host=? AND user=? AND with_bare=? AND rowid>? AND rowid<?)"
                                 : "INDEX mam_messages_owner (host=? AND user=? AND rowid>? AND rowid<?)"),
                    std::string::npos);
          EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos);
          EXPECT_EQ(plan.find("SCAN"), std::string::npos);
        }
  std::string uid_plan = run([](storage::connection& c) {
    auto st = c.prepare("EXPLAIN QUERY PLAN SELECT seq FROM mam_messages WHERE host = ?1 AND user = ?2 AND uid = ?3");
    st.step();
    return st.column_text(3);
  });
  EXPECT_NE(uid_plan.find("mam_messages_uid"), std::string::npos) << uid_plan;
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
