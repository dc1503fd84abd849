// XEP-0484 FAST: token selection rules and the SQLite token store (two slots, rotation,
// replay counter, revocation with the password and the account).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "modules/fast/fast_store.hpp"
#include "sasl/ht.hpp"
#include "sasl/scram.hpp"
#include "storage/sqlite.hpp"
#include "storage/test_support.hpp"
#include "util/random.hpp"

using namespace starling;
using namespace starling::modules;
namespace asio = boost::asio;

namespace {

using starling::test_support::run_on;

fast_token make(fast_slot slot, std::string key, int64_t expiry, std::string mech = "HT-SHA-256-NONE", int64_t count = 0) {
  fast_token t;
  t.slot = slot;
  t.mechanism = std::move(mech);
  t.key = std::move(key);
  t.issued = 0;
  t.expiry = expiry;
  t.count = count;
  return t;
}

}  // namespace

TEST(fast_select, new_slot_first_then_current) {
  std::vector<fast_token> tokens = {make(fast_slot::current, "A", 100), make(fast_slot::fresh, "B", 200)};
  auto is = [](std::string want) { return [want](const std::string& k) { return k == want; }; };
  auto a = select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, is("A"));
  ASSERT_FALSE(a.failure);
  EXPECT_EQ(a.token->slot, fast_slot::current);
  auto b = select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, is("B"));
  ASSERT_FALSE(b.failure);
  EXPECT_EQ(b.token->slot, fast_slot::fresh);
  auto none = select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, is("C"));
  EXPECT_EQ(none.failure, sasl::failure::not_authorized);
}

TEST(fast_select, bound_to_mechanism_xep0484_3_3) {
  std::vector<fast_token> tokens = {make(fast_slot::current, "A", 100, "HT-SHA-256-EXPR")};
  auto any = [](const std::string&) { return true; };
  EXPECT_EQ(select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, any).failure, sasl::failure::not_authorized);
  EXPECT_FALSE(select_fast_token(tokens, "HT-SHA-256-EXPR", std::nullopt, 50, any).failure);
}

TEST(fast_select, expired_is_credentials_expired) {
  std::vector<fast_token> tokens = {make(fast_slot::current, "A", 100)};
  auto any = [](const std::string&) { return true; };
  EXPECT_EQ(select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 100, any).failure,
            sasl::failure::credentials_expired);
  EXPECT_FALSE(select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 99, any).failure);
}

TEST(fast_select, count_must_grow) {
  std::vector<fast_token> tokens = {make(fast_slot::current, "A", 100, "HT-SHA-256-NONE", 5)};
  auto any = [](const std::string&) { return true; };
  EXPECT_EQ(select_fast_token(tokens, "HT-SHA-256-NONE", 5, 50, any).failure, sasl::failure::not_authorized);
  EXPECT_EQ(select_fast_token(tokens, "HT-SHA-256-NONE", 4, 50, any).failure, sasl::failure::not_authorized);
  EXPECT_FALSE(select_fast_token(tokens, "HT-SHA-256-NONE", 6, 50, any).failure);
  EXPECT_FALSE(select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, any).failure);
}

TEST(fast_select, client_hmac_over_stored_key) {
  // The server verifies with SHA-256(token); the client computes with the token itself.
  const std::string token = util::random_token(80);
  const std::string cb = "channel-binding-data";
  std::vector<fast_token> tokens = {make(fast_slot::fresh, sasl::ht_key(sasl::hash_alg::sha256, token), 100)};
  const std::string client_proof = sasl::hmac(sasl::hash_alg::sha256, token, "Initiator" + cb);
  auto check = [&](const std::string& key) {
    return sasl::equal_consttime(sasl::ht_initiator(sasl::hash_alg::sha256, key, cb), client_proof);
  };
  EXPECT_FALSE(select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, check).failure);
  auto other_cb = [&](const std::string& key) {
    return sasl::equal_consttime(sasl::ht_initiator(sasl::hash_alg::sha256, key, "other"), client_proof);
  };
  EXPECT_TRUE(select_fast_token(tokens, "HT-SHA-256-NONE", std::nullopt, 50, other_cb).failure);
}

class fast_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-fast-" + util::random_token(12));
    std::string error;
    db_ = storage::open_sqlite_database(dir_ / "t.db", {}, error);
    ASSERT_TRUE(db_) << error;
    ASSERT_TRUE(db_->migrate(fast_store::migrations(), error)) << error;
    db_->run_blocking([](storage::connection& c) {
      c.execute("INSERT INTO accounts (host, user, created) VALUES ('h', 'bob', 0)");
      c.execute("INSERT INTO credentials (host, user, alg, salt, iterations, stored_key, server_key)"
                " VALUES ('h', 'bob', 'SHA-256', x'00', 4096, x'00', x'00')");
      return 0;
    });
    store_ = std::make_unique<fast_store>(*db_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::vector<fast_token> load(std::string agent = "ua") { return *run_on(io_, store_->load("h", "bob", agent)); }
  bool issue(std::string key, std::string agent = "ua") {
    return run_on(io_, store_->issue("h", "bob", agent, make(fast_slot::fresh, std::move(key), 1000)));
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_database> db_;
  std::unique_ptr<fast_store> store_;
  asio::io_context io_;
};

TEST_F(fast_store_test, rotation_keeps_old_token_until_new_one_is_used) {
  ASSERT_TRUE(issue("K1"));
  ASSERT_TRUE(run_on(io_, store_->used("h", "bob", "ua", fast_slot::fresh, std::nullopt)));
  auto t = load();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].slot, fast_slot::current);
  EXPECT_EQ(t[0].key, "K1");
  // A rotated token goes to 'new'; the current one still works (XEP-0484 §3.4).
  ASSERT_TRUE(issue("K2"));
  EXPECT_EQ(load().size(), 2u);
  // An unused new token is replaced by the next one (§3.4 SHOULD).
  ASSERT_TRUE(issue("K3"));
  t = load();
  ASSERT_EQ(t.size(), 2u);
  for (auto& x : t) EXPECT_NE(x.key, "K2");
  // Using the new one drops the older current token.
  ASSERT_TRUE(run_on(io_, store_->used("h", "bob", "ua", fast_slot::fresh, 7)));
  t = load();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].key, "K3");
  EXPECT_EQ(t[0].count, 7);
  // Other client installations are separate.
  EXPECT_TRUE(load("other").empty());
}

TEST_F(fast_store_test, invalidate_removes_the_token) {
  ASSERT_TRUE(issue("K1"));
  ASSERT_TRUE(run_on(io_, store_->used("h", "bob", "ua", fast_slot::fresh, std::nullopt)));
  ASSERT_TRUE(run_on(io_, store_->invalidate("h", "bob", "ua", fast_slot::current)));
  EXPECT_TRUE(load().empty());
}

TEST_F(fast_store_test, password_change_and_account_removal_revoke_tokens) {
  ASSERT_TRUE(issue("K1"));
  // What set_credentials() does: the old credentials rows are replaced.
  db_->run_blocking([](storage::connection& c) {
    c.execute("DELETE FROM credentials WHERE host = 'h' AND user = 'bob'");
    return 0;
  });
  EXPECT_TRUE(load().empty());
  ASSERT_TRUE(issue("K2"));
  EXPECT_EQ(load().size(), 1u);
  db_->run_blocking([](storage::connection& c) {
    c.execute("DELETE FROM accounts WHERE host = 'h' AND user = 'bob'");
    return 0;
  });
  EXPECT_TRUE(load().empty());
  // No token for an account that is gone.
  EXPECT_FALSE(issue("K3"));
}
