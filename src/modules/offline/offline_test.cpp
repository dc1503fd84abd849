// Unit tests for the offline module's pure parts and its SQLite store (XEP-0160, XEP-0013).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "modules/offline/offline_codec.hpp"
#include "modules/offline/offline_store.hpp"
#include "storage/sqlite.hpp"
#include "storage/test_support.hpp"
#include "util/random.hpp"
#include "xml/writer.hpp"

using namespace starling;
using namespace starling::modules;
namespace asio = boost::asio;

namespace {

using starling::test_support::run_on;

xml::element parse(std::string_view text) {
  auto e = decode_stanza(text);
  EXPECT_TRUE(e) << text;
  return e ? *e : xml::element();
}

}  // namespace

TEST(offline_codec, xep0082_stamp_is_utc_with_milliseconds) {
  auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1031699305123));
  EXPECT_EQ(xep0082_stamp(t), "2002-09-10T23:08:25.123Z");
}

TEST(offline_codec, delay_is_appended_xep0203) {
  auto m = parse("<message from='a@h/r' to='b@h'><body>x</body></message>");
  add_offline_delay(m, "h", "2002-09-10T23:08:25.000Z");
  const auto* d = m.child("delay", ns_delay);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->attr_or("from"), "h");
  EXPECT_EQ(d->attr_or("stamp"), "2002-09-10T23:08:25.000Z");
  EXPECT_EQ(m.elements().back(), d);
}

TEST(offline_codec, chat_states_only_xep0160_3) {
  EXPECT_TRUE(is_chat_states_only(
      parse("<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")));
  EXPECT_FALSE(is_chat_states_only(parse(
      "<message type='chat'><body>x</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>")));
  EXPECT_FALSE(is_chat_states_only(parse("<message type='chat'/>")));
  EXPECT_FALSE(is_chat_states_only(parse("<message><request xmlns='urn:xmpp:receipts'/></message>")));
}

TEST(offline_codec, storage_hints_xep0334) {
  // §4.2 no-store and §4.4 no-permanent-store keep a message with a body out of storage.
  EXPECT_FALSE(should_store_offline(
      parse("<message><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>")));
  EXPECT_FALSE(should_store_offline(
      parse("<message><body>x</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>")));
  // §4.3 store: even a chat-state-only message is stored.
  EXPECT_TRUE(should_store_offline(parse(
      "<message><active xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>")));
  // A hint is not content: chat state plus an unrelated hint is still chat-state-only.
  EXPECT_FALSE(should_store_offline(parse(
      "<message><active xmlns='http://jabber.org/protocol/chatstates'/><no-copy xmlns='urn:xmpp:hints'/></message>")));
  EXPECT_TRUE(should_store_offline(parse("<message><body>x</body></message>")));
}

TEST(offline_codec, stored_form_round_trips_namespaces_and_mixed_content) {
  const char* text =
      "<message from='a@h/r' to='b@h' xml:lang='fr'><body>a &amp; b</body>"
      "<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>"
      "<p style='x'>one <em>two</em> three</p></body></html>"
      "<x xmlns='urn:example:unknown' xmlns:e='urn:example:attr' e:flag='1'><deep a='b'><deeper/>t</deep></x>"
      "</message>";
  auto m = parse(text);
  auto again = parse(encode_stanza(m));
  EXPECT_EQ(again, m) << encode_stanza(m);
  const auto* x = again.child("x", "urn:example:unknown");
  ASSERT_TRUE(x);
  ASSERT_TRUE(x->attr_ns("urn:example:attr", "flag"));
  EXPECT_FALSE(decode_stanza("<message><unclosed></message>"));
}

TEST(offline_codec, node_round_trip) {
  offline_message m;
  m.id = 42;
  m.stamp = "2002-09-10T23:08:25.123Z";
  EXPECT_EQ(offline_node(m), "2002-09-10T23:08:25.123Z-000000000042");
  EXPECT_EQ(parse_offline_node(offline_node(m)), 42);
  EXPECT_FALSE(parse_offline_node("nonsense"));
  EXPECT_FALSE(parse_offline_node("x-12"));
  EXPECT_FALSE(parse_offline_node("x-00000000004a"));
}

class offline_store_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-offline-" + util::random_token(12));
    std::string error;
    db_ = storage::open_sqlite_database(dir_ / "t.db", {}, error);
    ASSERT_TRUE(db_) << error;
    ASSERT_TRUE(db_->migrate(offline_store::migrations(), error)) << error;
    db_->run_blocking([](storage::connection& c) {
      c.execute("INSERT INTO accounts (host, user, created) VALUES ('h', 'bob', 0)");
      return 0;
    });
    store_ = std::make_unique<offline_store>(*db_);
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  offline_store_result put(std::string user, std::string body, int64_t quota = 100, bool keep = true) {
    offline_message m;
    m.stamp = "2020-01-01T00:00:00.000Z";
    m.sender = "a@h/r";
    m.stanza = "<message><body>" + body + "</body></message>";
    return run_on(io_, store_->store("h", std::move(user), std::move(m), quota, keep));
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_database> db_;
  std::unique_ptr<offline_store> store_;
  asio::io_context io_;
};

TEST_F(offline_store_test, store_list_in_order_and_quota) {
  EXPECT_EQ(put("nobody", "x"), offline_store_result::no_account);
  EXPECT_EQ(put("bob", "1", 2), offline_store_result::stored);
  EXPECT_EQ(put("bob", "2", 2), offline_store_result::stored);
  EXPECT_EQ(put("bob", "3", 2), offline_store_result::full);
  EXPECT_EQ(put("bob", "4", 2, false), offline_store_result::not_stored);
  auto rows = run_on(io_, store_->list("h", "bob", false));
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].stanza, "<message><body>1</body></message>");
  EXPECT_EQ((*rows)[1].stanza, "<message><body>2</body></message>");
  EXPECT_EQ(run_on(io_, store_->count("h", "bob")), 2);
}

TEST_F(offline_store_test, get_remove_purge_and_account_cascade) {
  put("bob", "1");
  put("bob", "2");
  put("bob", "3");
  auto rows = *run_on(io_, store_->list("h", "bob", true));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_TRUE(rows[0].stanza.empty());
  EXPECT_FALSE(run_on(io_, store_->get("h", "bob", {rows[0].id, 9999})));
  auto got = run_on(io_, store_->get("h", "bob", {rows[1].id}));
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)[0].stanza, "<message><body>2</body></message>");
  // All or nothing: a missing id removes nothing.
  EXPECT_FALSE(run_on(io_, store_->remove("h", "bob", {rows[0].id, 9999}, true)));
  EXPECT_EQ(run_on(io_, store_->count("h", "bob")), 3);
  EXPECT_TRUE(run_on(io_, store_->remove("h", "bob", {rows[0].id}, true)));
  EXPECT_EQ(run_on(io_, store_->count("h", "bob")), 2);
  EXPECT_TRUE(run_on(io_, store_->purge("h", "bob")));
  EXPECT_EQ(run_on(io_, store_->count("h", "bob")), 0);
  put("bob", "4");
  db_->run_blocking([](storage::connection& c) { return c.execute("DELETE FROM accounts WHERE user = 'bob'"); });
  EXPECT_EQ(run_on(io_, store_->count("h", "bob")), 0);
}
