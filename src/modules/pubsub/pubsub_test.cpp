// The XEP-0060 engine and its SQLite store: node configuration forms and preconditions,
// publish/auto-create/max_items, access models, retract/purge/delete, subscriptions,
// affiliations, the errors of §6–§8, and removal with the account.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>

#include "modules/pubsub/pubsub_engine.hpp"
#include "proto/proto_test_util.hpp"
#include "storage/sqlite.hpp"
#include "util/random.hpp"

namespace starling::pubsub {
namespace {

namespace asio = boost::asio;

xml::element parse(std::string_view text) {
  auto e = proto::testing::parse_element(text);
  EXPECT_TRUE(e) << text;
  return e ? std::move(*e) : xml::element();
}

proto::data_form form(std::string_view text) {
  auto f = proto::parse_data_form(parse(text));
  EXPECT_TRUE(f);
  return f ? std::move(*f) : proto::data_form{};
}

// ------------------------------------------------------------------ node configuration

TEST(PubsubConfig, FormRoundTripsAndApplies) {
  node_config c;
  c.access = access_model::whitelist;
  c.max_items = {true, 0};
  c.roster_groups_allowed = {"friends", "family"};
  node_config d;
  auto f = to_form(c);
  f.type = "submit";
  ASSERT_EQ(apply_form(d, f, 100), form_error::none);
  EXPECT_EQ(d, c);
  EXPECT_EQ(deserialize(serialize(c)), c);
  EXPECT_EQ(deserialize(serialize(node_config{})), node_config{});
}

TEST(PubsubConfig, RejectsBadValues) {
  node_config c;
  EXPECT_EQ(apply_form(c, form("<x xmlns='jabber:x:data' type='submit'><field var='pubsub#nope'><value>1</value></field></x>"), 10),
            form_error::unknown_field);
  EXPECT_EQ(apply_form(c, form("<x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>authorize</value></field></x>"), 10),
            form_error::bad_value);
  EXPECT_EQ(apply_form(c, form("<x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>0</value></field></x>"), 10),
            form_error::bad_value);
  EXPECT_EQ(apply_form(c, form("<x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>11</value></field></x>"), 10),
            form_error::over_limit);
  EXPECT_EQ(apply_form(c, form("<x xmlns='jabber:x:data' type='submit'><field var='pubsub#persist_items'><value>maybe</value></field></x>"), 10),
            form_error::bad_value);
}

TEST(PubsubConfig, Preconditions) {
  node_config c;
  c.access = access_model::whitelist;
  c.max_items = {true, 0};
  auto ok = form(
      "<x xmlns='jabber:x:data' type='submit'>"
      "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
      "<field var='pubsub#access_model'><value>whitelist</value></field>"
      "<field var='pubsub#max_items'><value>max</value></field>"
      "<field var='pubsub#persist_items'><value>1</value></field></x>");
  EXPECT_TRUE(preconditions_met(c, ok, 100));
  c.access = access_model::presence;
  EXPECT_FALSE(preconditions_met(c, ok, 100));
  c.access = access_model::whitelist;
  c.max_items = {false, 100};  // a number is not "max"
  EXPECT_FALSE(preconditions_met(c, ok, 100));
  EXPECT_FALSE(preconditions_met(node_config{}, form("<x xmlns='jabber:x:data' type='submit'><field var='pubsub#x'><value>1</value></field></x>"), 10));
  node_config t;
  t.persist_items = false;
  t.max_items = {false, 50};
  EXPECT_EQ(t.effective_max(10), 1u);  // transient: only the last item
  t.persist_items = true;
  EXPECT_EQ(t.effective_max(10), 10u);
}

// ------------------------------------------------------------------ engine over SQLite

class pubsub_engine_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("starling-pubsub-" + util::random_token(12));
    std::string error;
    db_ = storage::open_sqlite_database(dir_ / "t.db", {}, error);
    ASSERT_TRUE(db_) << error;
    ASSERT_TRUE(db_->migrate(migrations(), error)) << error;
    for (const char* u : {"juliet", "romeo"}) {
      storage::account a;
      a.host = "example.com";
      a.user = u;
      std::optional<storage::write_result> res;
      asio::co_spawn(io_, db_->accounts().create(a), [&](std::exception_ptr, storage::write_result r) { res = r; });
      io_.restart();
      io_.run();
      ASSERT_EQ(res, storage::write_result::ok);
    }
    policy_.defaults.max_items = {false, 1};
    policy_.limits.max_items = 5;
    policy_.limits.max_payload_bytes = 512;
    policy_.limits.max_nodes = 3;
    owner_.from = *jid::parse("juliet@example.com/balcony");
    owner_.is_owner = true;
    contact_.from = *jid::parse("romeo@example.com/orchard");
    stranger_.from = *jid::parse("tybalt@example.com/street");
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  outcome run(const requester& r, std::string_view iq) {
    xml::element e = parse(iq);
    return db_->run_blocking([&](storage::connection& c) {
      store st(c);
      return handle(st, "juliet@example.com", r, policy_, e, ++now_);
    });
  }
  template <class F>
  auto with_store(F f) {
    return db_->run_blocking([&](storage::connection& c) {
      store st(c);
      return f(st);
    });
  }

  static std::string type(const outcome& o) { return std::string(o.reply.attr_or("type")); }
  // "condition/app" of an error reply.
  static std::string error(const outcome& o) {
    const xml::element* e = o.reply.child("error");
    if (!e) return "none";
    std::string cond, app;
    for (const auto* c : e->elements()) {
      if (c->ns() == ns_stanzas) cond = c->name();
      if (c->ns() == ns_pubsub_errors) app = c->name();
    }
    return app.empty() ? cond : cond + "/" + app;
  }
  static std::string publish(std::string_view node, std::string_view id, std::string_view payload = "<p xmlns='urn:t'/>",
                             std::string_view options = "") {
    std::string item = id.empty() ? "<item>" : "<item id='" + std::string(id) + "'>";
    return "<iq type='set' id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" + std::string(node) +
           "'>" + item + std::string(payload) + "</item></publish>" + std::string(options) + "</pubsub></iq>";
  }
  static std::string options(std::string_view fields) {
    return "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
           "<value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
           std::string(fields) + "</x></publish-options>";
  }
  static std::string items(std::string_view node, std::string_view extra = "") {
    return "<iq type='get' id='2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='" + std::string(node) +
           "'" + std::string(extra) + "</pubsub></iq>";
  }
  static std::vector<std::string> item_ids(const outcome& o) {
    std::vector<std::string> out;
    const auto* ps = o.reply.child("pubsub", ns_pubsub);
    if (!ps) return out;
    const auto* its = ps->child("items", ns_pubsub);
    if (!its) return out;
    for (const auto* i : its->elements()) out.emplace_back(i->attr_or("id"));
    return out;
  }

  asio::io_context io_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::sqlite_database> db_;
  service_policy policy_;
  requester owner_, contact_, stranger_;
  int64_t now_ = 1000;
};

TEST_F(pubsub_engine_test, PublishAutoCreatesAndNotifies) {
  auto o = run(owner_, publish("urn:t", "a1"));
  ASSERT_EQ(type(o), "result");
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].node, "urn:t");
  EXPECT_EQ(o.events[0].items.at(0).id, "a1");
  EXPECT_EQ(o.events[0].items.at(0).publisher, "juliet@example.com/balcony");
  auto ev = event_payload(o.events[0]);
  ASSERT_NE(ev.child("items"), nullptr);
  EXPECT_NE(ev.child("items")->child("item")->child("p", "urn:t"), nullptr);
  // The owner is recorded as such.
  auto affs = with_store([](store& st) { return st.affiliations(st.find_node("juliet@example.com", "urn:t")->id); });
  ASSERT_EQ(affs.size(), 1u);
  EXPECT_EQ(affs[0].second, affiliation::owner);
}

TEST_F(pubsub_engine_test, GeneratesItemIds) {
  auto o = run(owner_, publish("urn:t", ""));
  ASSERT_EQ(type(o), "result");
  std::string id(o.reply.child("pubsub")->child("publish")->child("item")->attr_or("id"));
  EXPECT_GE(id.size(), 10u);
}

TEST_F(pubsub_engine_test, PublishErrors) {
  EXPECT_EQ(error(run(contact_, publish("urn:t", "x"))), "forbidden");  // PEP: the owner only
  ASSERT_EQ(type(run(owner_, publish("urn:t", "x"))), "result");
  EXPECT_EQ(error(run(contact_, publish("urn:t", "x"))), "forbidden");
  EXPECT_EQ(error(run(owner_, "<iq type='set' id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:t'/></pubsub></iq>")),
            "bad-request/item-required");
  EXPECT_EQ(error(run(owner_, "<iq type='set' id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish/></pubsub></iq>")),
            "bad-request/nodeid-required");
  EXPECT_EQ(error(run(owner_, publish("urn:t", "x", "<a xmlns='urn:t'/><b xmlns='urn:t'/>"))), "bad-request/invalid-payload");
  EXPECT_EQ(error(run(owner_, publish("urn:t", "x", std::string(600, ' ') + "<a xmlns='urn:t'>" + std::string(600, 'x') + "</a>"))),
            "not-acceptable/payload-too-big");
  // max_nodes = 3
  ASSERT_EQ(type(run(owner_, publish("n2", "x"))), "result");
  ASSERT_EQ(type(run(owner_, publish("n3", "x"))), "result");
  EXPECT_EQ(error(run(owner_, publish("n4", "x"))), "resource-constraint");
}

TEST_F(pubsub_engine_test, MaxItemsKeepsTheNewest) {
  ASSERT_EQ(type(run(owner_, publish("urn:t", "a", "<p xmlns='urn:t'/>", options("<field var='pubsub#max_items'><value>2</value></field>")))), "result");
  run(owner_, publish("urn:t", "b"));
  run(owner_, publish("urn:t", "c"));
  EXPECT_EQ(item_ids(run(owner_, items("urn:t", "/>"))), (std::vector<std::string>{"b", "c"}));
  // Republishing an id makes it the newest (XEP-0060 §12.1 data model).
  run(owner_, publish("urn:t", "b"));
  EXPECT_EQ(item_ids(run(owner_, items("urn:t", "/>"))), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(item_ids(run(owner_, items("urn:t", " max_items='1'/>"))), (std::vector<std::string>{"b"}));
  EXPECT_EQ(item_ids(run(owner_, items("urn:t", "><item id='c'/></items>").replace(0, 0, ""))), (std::vector<std::string>{"c"}));
  EXPECT_EQ(error(run(owner_, items("urn:t", "><item id='zzz'/></items>"))), "item-not-found");
  EXPECT_EQ(error(run(owner_, items("urn:t", " max_items='zero'/>"))), "bad-request");
}

TEST_F(pubsub_engine_test, MaxItemsMax) {
  ASSERT_EQ(type(run(owner_, publish("urn:t", "0", "<p xmlns='urn:t'/>", options("<field var='pubsub#max_items'><value>max</value></field>")))), "result");
  for (int i = 1; i < 8; ++i) run(owner_, publish("urn:t", std::to_string(i)));
  EXPECT_EQ(item_ids(run(owner_, items("urn:t", "/>"))).size(), 5u);  // the service limit
  // Over the limit as a number: refused.
  EXPECT_EQ(error(run(owner_, publish("urn:u", "0", "<p xmlns='urn:t'/>", options("<field var='pubsub#max_items'><value>6</value></field>")))),
            "conflict/precondition-not-met");
}

TEST_F(pubsub_engine_test, PublishOptionsPreconditions) {
  std::string wl = options("<field var='pubsub#access_model'><value>whitelist</value></field>");
  ASSERT_EQ(type(run(owner_, publish("urn:t", "a", "<p xmlns='urn:t'/>", wl))), "result");
  EXPECT_EQ(type(run(owner_, publish("urn:t", "b", "<p xmlns='urn:t'/>", wl))), "result");
  auto o = run(owner_, publish("urn:t", "c", "<p xmlns='urn:t'/>", options("<field var='pubsub#access_model'><value>open</value></field>")));
  EXPECT_EQ(error(o), "conflict/precondition-not-met");
  EXPECT_TRUE(o.events.empty());
  EXPECT_EQ(error(run(owner_, publish("urn:t", "c", "<p xmlns='urn:t'/>", options("<field var='pubsub#bogus'><value>1</value></field>")))),
            "conflict/precondition-not-met");
  EXPECT_EQ(item_ids(run(owner_, items("urn:t", "/>"))), (std::vector<std::string>{"b"}));
}

TEST_F(pubsub_engine_test, AccessModels) {
  ASSERT_EQ(type(run(owner_, publish("pres", "a"))), "result");
  EXPECT_EQ(error(run(contact_, items("pres", "/>"))), "not-authorized/presence-subscription-required");
  requester sub = contact_;
  sub.has_presence_sub = true;
  EXPECT_EQ(type(run(sub, items("pres", "/>"))), "result");

  ASSERT_EQ(type(run(owner_, publish("open", "a", "<p xmlns='urn:t'/>", options("<field var='pubsub#access_model'><value>open</value></field>")))), "result");
  EXPECT_EQ(type(run(stranger_, items("open", "/>"))), "result");

  ASSERT_EQ(type(run(owner_, publish("wl", "a", "<p xmlns='urn:t'/>", options("<field var='pubsub#access_model'><value>whitelist</value></field>")))), "result");
  EXPECT_EQ(error(run(sub, items("wl", "/>"))), "not-allowed/closed-node");
  auto set_aff = [&](std::string_view aff) {
    return run(owner_, "<iq type='set' id='3'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='wl'>"
                       "<affiliation jid='romeo@example.com' affiliation='" + std::string(aff) + "'/></affiliations></pubsub></iq>");
  };
  ASSERT_EQ(type(set_aff("member")), "result");
  EXPECT_EQ(type(run(contact_, items("wl", "/>"))), "result");
  ASSERT_EQ(type(set_aff("outcast")), "result");
  EXPECT_EQ(error(run(contact_, items("wl", "/>"))), "forbidden");
  EXPECT_EQ(error(set_aff("owner")), "not-acceptable");  // PEP: the account stays the only owner
  EXPECT_EQ(error(set_aff("bogus")), "bad-request");
  // Affiliations are the owner's business.
  EXPECT_EQ(error(run(contact_, "<iq type='get' id='3'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='wl'/></pubsub></iq>")),
            "forbidden");
  EXPECT_EQ(error(run(contact_, items("nosuch", "/>"))), "item-not-found");

  node_config c;
  c.access = access_model::roster;
  c.roster_groups_allowed = {"friends"};
  requester g = contact_;
  EXPECT_EQ(check_access(c, affiliation::none, g), access_result::not_in_group);
  g.groups = {"work", "friends"};
  EXPECT_EQ(check_access(c, affiliation::none, g), access_result::allowed);
}

TEST_F(pubsub_engine_test, RetractPurgeDelete) {
  run(owner_, publish("urn:t", "a", "<p xmlns='urn:t'/>", options("<field var='pubsub#max_items'><value>3</value></field>")));
  run(owner_, publish("urn:t", "b"));
  auto retract = [&](const requester& r, std::string_view id, std::string_view notify = "") {
    return run(r, "<iq type='set' id='4'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='urn:t'" +
                      std::string(notify) + "><item id='" + std::string(id) + "'/></retract></pubsub></iq>");
  };
  EXPECT_EQ(error(retract(contact_, "a")), "forbidden");
  auto o = retract(owner_, "a", " notify='true'");
  ASSERT_EQ(type(o), "result");
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].what, event::kind::retract);
  EXPECT_EQ(o.events[0].retracted, std::vector<std::string>{"a"});
  EXPECT_EQ(error(retract(owner_, "a")), "item-not-found");
  EXPECT_TRUE(retract(owner_, "b", " notify='false'").events.empty());
  run(owner_, publish("urn:t", "c"));
  auto owner_op = [&](const requester& r, std::string_view op) {
    return run(r, "<iq type='set' id='5'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><" + std::string(op) +
                      " node='urn:t'/></pubsub></iq>");
  };
  EXPECT_EQ(error(owner_op(contact_, "purge")), "forbidden");
  ASSERT_EQ(type(owner_op(owner_, "purge")), "result");
  EXPECT_TRUE(item_ids(run(owner_, items("urn:t", "/>"))).empty());
  EXPECT_EQ(error(owner_op(contact_, "delete")), "forbidden");
  ASSERT_EQ(type(owner_op(owner_, "delete")), "result");
  EXPECT_EQ(error(owner_op(owner_, "delete")), "item-not-found");
  EXPECT_EQ(error(run(owner_, items("urn:t", "/>"))), "item-not-found");
}

TEST_F(pubsub_engine_test, ConfigureGetSet) {
  run(owner_, publish("urn:t", "a"));
  auto get = run(owner_, "<iq type='get' id='6'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:t'/></pubsub></iq>");
  ASSERT_EQ(type(get), "result");
  auto f = proto::parse_data_form(*get.reply.child("pubsub")->child("configure")->child("x"));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->form_type(), ns_node_config);
  EXPECT_EQ(f->field("pubsub#access_model")->value(), "presence");
  EXPECT_EQ(f->field("pubsub#send_last_published_item")->value(), "on_sub_and_presence");
  auto set = [&](std::string_view fields) {
    return run(owner_, "<iq type='set' id='7'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:t'>"
                       "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
                       "<value>http://jabber.org/protocol/pubsub#node_config</value></field>" +
                       std::string(fields) + "</x></configure></pubsub></iq>");
  };
  ASSERT_EQ(type(set("<field var='pubsub#access_model'><value>open</value></field><field var='pubsub#notify_config'><value>1</value></field>")), "result");
  EXPECT_EQ(type(run(stranger_, items("urn:t", "/>"))), "result");
  auto o = set("<field var='pubsub#title'><value>T</value></field>");
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].what, event::kind::configuration);
  EXPECT_EQ(error(set("<field var='pubsub#max_items'><value>-1</value></field>")), "not-acceptable");
  EXPECT_EQ(error(run(contact_, "<iq type='get' id='6'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='urn:t'/></pubsub></iq>")),
            "forbidden");
}

TEST_F(pubsub_engine_test, SubscribeOpenNodeGetsLastItem) {
  run(owner_, publish("urn:t", "a", "<p xmlns='urn:t'/>", options("<field var='pubsub#access_model'><value>open</value></field>")));
  auto sub = [&](const requester& r, std::string_view jid, std::string_view op = "subscribe") {
    return run(r, "<iq type='set' id='8'><pubsub xmlns='http://jabber.org/protocol/pubsub'><" + std::string(op) +
                      " node='urn:t' jid='" + std::string(jid) + "'/></pubsub></iq>");
  };
  EXPECT_EQ(error(sub(stranger_, "romeo@example.com")), "bad-request/invalid-jid");
  auto o = sub(stranger_, "tybalt@example.com");
  ASSERT_EQ(type(o), "result");
  ASSERT_TRUE(o.last);
  EXPECT_EQ(o.last_to, "tybalt@example.com");
  EXPECT_EQ(o.last->items.at(0).id, "a");
  auto p = run(owner_, publish("urn:t", "b"));
  ASSERT_EQ(p.events.at(0).subscriptions.size(), 1u);
  EXPECT_EQ(p.events[0].subscriptions[0].jid, "tybalt@example.com");
  EXPECT_EQ(type(sub(stranger_, "tybalt@example.com", "unsubscribe")), "result");
  EXPECT_EQ(error(sub(stranger_, "tybalt@example.com", "unsubscribe")), "unexpected-request/not-subscribed");
  // Presence access: no subscription for strangers.
  run(owner_, publish("pres", "a"));
  EXPECT_EQ(error(run(stranger_, "<iq type='set' id='8'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='pres' jid='tybalt@example.com'/></pubsub></iq>")),
            "not-authorized/presence-subscription-required");
}

TEST_F(pubsub_engine_test, UnsupportedAndMalformed) {
  EXPECT_EQ(error(run(owner_, "<iq type='get' id='9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><options node='x' jid='juliet@example.com'/></pubsub></iq>")),
            "feature-not-implemented/unsupported");
  EXPECT_EQ(error(run(owner_, "<iq type='get' id='9'><pubsub xmlns='http://jabber.org/protocol/pubsub'/></iq>")), "bad-request");
  EXPECT_EQ(error(run(owner_, "<iq type='set' id='9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create/></pubsub></iq>")),
            "not-acceptable/nodeid-required");
  ASSERT_EQ(type(run(owner_, "<iq type='set' id='9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='c'/></pubsub></iq>")), "result");
  EXPECT_EQ(error(run(owner_, "<iq type='set' id='9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='c'/></pubsub></iq>")), "conflict");
  EXPECT_EQ(error(run(contact_, "<iq type='set' id='9'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='d'/></pubsub></iq>")), "forbidden");
}

TEST_F(pubsub_engine_test, RemovedWithTheAccount) {
  run(owner_, publish("urn:t", "a", "<p xmlns='urn:t'/>", options("<field var='pubsub#access_model'><value>open</value></field>")));
  // Whole-account removal through the foreign key (as starlingctl deluser does).
  db_->run_blocking([](storage::connection& c) {
    c.execute("DELETE FROM accounts WHERE host = 'example.com' AND user = 'juliet'");
  });
  EXPECT_EQ(with_store([](store& st) { return st.node_count("juliet@example.com"); }), 0u);
  auto n = db_->run_blocking([](storage::connection& c) {
    auto st = c.prepare("SELECT count(*) FROM pubsub_item");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(n, 0);
}

}  // namespace
}  // namespace starling::pubsub
