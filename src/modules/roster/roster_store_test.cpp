// roster_store over SQLite: visibility of pending requests (RFC 6121 §3.1.3), versions
// (§2.6), removal, size limit.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "modules/roster/roster_store.hpp"
#include "storage/sqlite.hpp"
#include "storage/test_support.hpp"
#include "util/random.hpp"

namespace starling::roster {
namespace {

namespace asio = boost::asio;

using starling::test_support::run_on;

class roster_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-roster-" + util::random_token(12));
    std::string error;
    db_ = storage::open_sqlite_database(dir_ / "t.db", {}, error);
    ASSERT_TRUE(db_) << error;
    ASSERT_TRUE(db_->migrate(sqlite_roster_migrations(), error)) << error;
    // Roster rows belong to an existing account (foreign key, removed with it).
    storage::account owner;
    owner.host = "example.com";
    owner.user = "juliet";
    ASSERT_EQ(run_on(io_, db_->accounts().create(owner)), storage::write_result::ok);
    store_ = make_sqlite_roster_store(*db_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::vector<item> items() { return run_on(io_, store_->roster(owner_)).first; }
  int64_t version() { return run_on(io_, store_->version(owner_)); }
  apply_result apply(const jid& contact, sub_type t, bool out, std::string status = {}) {
    return run_on(io_, store_->apply(owner_, contact, t, out, std::move(status), 10));
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_database> db_;
  std::unique_ptr<roster_store> store_;
  asio::io_context io_;
  jid owner_ = *jid::parse("juliet@example.com");
  jid romeo_ = *jid::parse("romeo@example.net");
};

TEST_F(roster_store_test, set_then_update_bumps_version) {
  EXPECT_EQ(version(), 0);
  item it;
  it.contact = romeo_;
  it.name = "Romeo";
  it.groups = {"Friends", "Lovers"};
  auto r = run_on(io_, store_->set(owner_, it, 10));
  EXPECT_EQ(r.status, set_status::ok);
  EXPECT_EQ(r.ver, 1);
  auto all = items();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "Romeo");
  EXPECT_EQ(all[0].groups, (std::vector<std::string>{"Friends", "Lovers"}));
  it.groups.clear();
  r = run_on(io_, store_->set(owner_, it, 10));
  EXPECT_EQ(r.ver, 2);
  EXPECT_TRUE(items()[0].groups.empty());
}

TEST_F(roster_store_test, inbound_request_is_hidden_until_approved) {
  auto r = apply(romeo_, sub_type::subscribe, false, "let me in");
  EXPECT_TRUE(r.t.forward);
  EXPECT_FALSE(r.push);  // §3.1.3: not a roster item yet
  EXPECT_TRUE(items().empty());
  EXPECT_EQ(version(), 0);
  auto pending = run_on(io_, store_->pending(owner_));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].contact, romeo_);
  EXPECT_EQ(pending[0].status, "let me in");
  r = apply(romeo_, sub_type::subscribed, true);  // approve
  EXPECT_TRUE(r.push);
  EXPECT_EQ(r.it.sub, subscription::from);
  EXPECT_EQ(items().size(), 1u);
  EXPECT_TRUE(run_on(io_, store_->pending(owner_)).empty());
}

TEST_F(roster_store_test, denied_request_leaves_nothing) {
  apply(romeo_, sub_type::subscribe, false);
  auto r = apply(romeo_, sub_type::unsubscribed, true);
  EXPECT_TRUE(r.t.forward);
  EXPECT_FALSE(r.push);
  EXPECT_FALSE(run_on(io_, store_->get(owner_, romeo_)).has_value());
}

TEST_F(roster_store_test, outbound_subscribe_creates_item_with_ask) {
  auto r = apply(romeo_, sub_type::subscribe, true);
  EXPECT_TRUE(r.push);
  EXPECT_TRUE(r.it.ask_out);
  EXPECT_EQ(r.ver, 1);
  r = apply(romeo_, sub_type::subscribed, false);
  EXPECT_EQ(r.it.sub, subscription::to);
  EXPECT_FALSE(r.it.ask_out);
  EXPECT_EQ(r.ver, 2);
}

TEST_F(roster_store_test, remove_and_limit) {
  EXPECT_FALSE(run_on(io_, store_->remove(owner_, romeo_)).has_value());
  for (int i = 0; i < 10; ++i) {
    item it;
    it.contact = *jid::parse("c" + std::to_string(i) + "@example.org");
    EXPECT_EQ(run_on(io_, store_->set(owner_, it, 10)).status, set_status::ok);
  }
  item extra;
  extra.contact = romeo_;
  EXPECT_EQ(run_on(io_, store_->set(owner_, extra, 10)).status, set_status::limit_reached);
  EXPECT_TRUE(apply(romeo_, sub_type::subscribe, false).rejected);
  auto removed = run_on(io_, store_->remove(owner_, *jid::parse("c3@example.org")));
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(items().size(), 9u);
}

TEST_F(roster_store_test, subscribers_are_the_owners_with_from_or_both) {
  // RFC 6121 §4.3.2 rule 1: only an owner whose item for the contact has 'from' or 'both' lets
  // the contact see its presence; 'to', 'none', pending-in and pre-approval do not.
  storage::account other;
  other.host = "example.com";
  other.user = "nurse";
  ASSERT_EQ(run_on(io_, db_->accounts().create(other)), storage::write_result::ok);
  const jid nurse = *jid::parse("nurse@example.com");
  auto subs = [&] {
    auto v = run_on(io_, store_->subscribers(romeo_));
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_TRUE(subs().empty());
  apply(romeo_, sub_type::subscribe, false);  // pending-in only
  EXPECT_TRUE(subs().empty());
  apply(romeo_, sub_type::subscribed, true);  // juliet approves: 'from'
  EXPECT_EQ(subs(), (std::vector<std::string>{"juliet@example.com"}));
  // The nurse asked for romeo's presence ('to' after approval): not a subscriber.
  run_on(io_, store_->apply(nurse, romeo_, sub_type::subscribe, true, {}, 10));
  run_on(io_, store_->apply(nurse, romeo_, sub_type::subscribed, false, {}, 10));
  EXPECT_EQ(run_on(io_, store_->get(nurse, romeo_))->sub, subscription::to);
  EXPECT_EQ(subs(), (std::vector<std::string>{"juliet@example.com"}));
  // Mutual ('both') counts.
  run_on(io_, store_->apply(nurse, romeo_, sub_type::subscribe, false, {}, 10));
  run_on(io_, store_->apply(nurse, romeo_, sub_type::subscribed, true, {}, 10));
  EXPECT_EQ(run_on(io_, store_->get(nurse, romeo_))->sub, subscription::both);
  EXPECT_EQ(subs(), (std::vector<std::string>{"juliet@example.com", "nurse@example.com"}));
  // Cancelled: gone at once (no cache).
  apply(romeo_, sub_type::unsubscribed, true);
  EXPECT_EQ(subs(), (std::vector<std::string>{"nurse@example.com"}));
  // Removed with the account (foreign key cascade).
  ASSERT_EQ(run_on(io_, db_->accounts().remove("example.com", "nurse")), storage::write_result::ok);
  EXPECT_TRUE(subs().empty());
}

TEST_F(roster_store_test, presence_contacts_are_visible_items_with_a_subscription) {
  // RFC 6121 §4.2.2 / §4.5.2: broadcasts go by subscription; a hidden pending-in row (§3.1.3)
  // and an item with 'none' are not contacts for presence.
  const jid a = *jid::parse("a@example.org"), b = *jid::parse("b@example.org"),
            c = *jid::parse("c@example.org"), d = *jid::parse("d@example.org");
  apply(a, sub_type::subscribe, false);  // hidden request
  item plain;
  plain.contact = b;  // 'none'
  run_on(io_, store_->set(owner_, plain, 10));
  apply(c, sub_type::subscribe, true);
  apply(c, sub_type::subscribed, false);  // 'to'
  apply(d, sub_type::subscribe, false);
  apply(d, sub_type::subscribed, true);  // 'from'
  auto got = run_on(io_, store_->presence_contacts(owner_));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].contact, "c@example.org");
  EXPECT_EQ(got[0].sub, subscription::to);
  EXPECT_EQ(got[1].contact, "d@example.org");
  EXPECT_EQ(got[1].sub, subscription::from);
  // Same state as the full roster read.
  for (const auto& it : items()) {
    if (it.contact == c || it.contact == d) {
      EXPECT_EQ(it.sub, it.contact == c ? subscription::to : subscription::from);
    }
  }
  // Both presence queries (as roster_store_sqlite.cpp writes them) are answered from their
  // covering indexes, without a table look-up per row.
  auto plans = db_->run_blocking([](storage::connection& conn) {
    std::pair<std::string, std::string> out;
    auto a = conn.prepare(
        "EXPLAIN QUERY PLAN SELECT contact, sub FROM roster_items WHERE host = ?1 AND user = ?2 AND visible = 1 "
        "AND (sub & 3) != 0 ORDER BY contact",
        "example.com", "juliet");
    while (a.step()) out.first += a.column_text(3) + "\n";
    auto b = conn.prepare(
        "EXPLAIN QUERY PLAN SELECT user, host FROM roster_items WHERE contact = ?1 AND (sub & 3) IN (?2, ?3)",
        "romeo@example.net", int64_t{2}, int64_t{3});
    while (b.step()) out.second += b.column_text(3) + "\n";
    return out;
  });
  EXPECT_NE(plans.first.find("COVERING INDEX roster_items_presence"), std::string::npos) << plans.first;
  EXPECT_NE(plans.second.find("COVERING INDEX roster_items_contact"), std::string::npos) << plans.second;
}

TEST_F(roster_store_test, initial_presence_reads_contacts_and_pending_requests_together) {
  // RFC 6121 §4.2.2 and §3.1.3: what an initial presence needs, in one read, the same as the
  // two separate reads give.
  const jid a = *jid::parse("a@example.org"), c = *jid::parse("c@example.org"), d = *jid::parse("d@example.org");
  apply(a, sub_type::subscribe, false, "hello");  // hidden request, waiting
  apply(c, sub_type::subscribe, true);
  apply(c, sub_type::subscribed, false);  // 'to'
  apply(d, sub_type::subscribe, false);
  apply(d, sub_type::subscribed, true);  // 'from', answered: no longer pending
  auto data = run_on(io_, store_->initial_presence(owner_));
  auto contacts = run_on(io_, store_->presence_contacts(owner_));
  auto pending = run_on(io_, store_->pending(owner_));
  ASSERT_EQ(data.contacts.size(), 2u);
  EXPECT_EQ(data.contacts[0].contact, "c@example.org");
  EXPECT_EQ(data.contacts[1].contact, "d@example.org");
  ASSERT_EQ(contacts.size(), data.contacts.size());
  for (size_t i = 0; i < contacts.size(); ++i) {
    EXPECT_EQ(contacts[i].contact, data.contacts[i].contact);
    EXPECT_EQ(contacts[i].sub, data.contacts[i].sub);
  }
  ASSERT_EQ(data.pending.size(), 1u);
  EXPECT_EQ(data.pending[0].contact, a);
  EXPECT_EQ(data.pending[0].status, "hello");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].contact, a);
  // The pending read uses the partial index of waiting requests (migration 4), not a scan of
  // the owner's whole roster.
  auto plan = db_->run_blocking([](storage::connection& conn) {
    std::string out;
    auto st = conn.prepare(
        "EXPLAIN QUERY PLAN SELECT contact, request_status FROM roster_items WHERE host = ?1 AND user = ?2 "
        "AND pending_in = 1 ORDER BY contact",
        "example.com", "juliet");
    while (st.step()) out += st.column_text(3) + "\n";
    return out;
  });
  EXPECT_NE(plan.find("COVERING INDEX roster_items_pending"), std::string::npos) << plan;
  // Answering the request takes it off the index.
  apply(a, sub_type::subscribed, true);
  EXPECT_TRUE(run_on(io_, store_->initial_presence(owner_)).pending.empty());
}

}  // namespace
}  // namespace starling::roster
