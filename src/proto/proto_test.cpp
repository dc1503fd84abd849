// Unit tests of the shared payload codecs: XEP-0004 forms, XEP-0059 RSM, XEP-0313 queries.
#include <gtest/gtest.h>

#include "proto/data_form.hpp"
#include "proto/mam_query.hpp"
#include "proto/proto_test_util.hpp"
#include "proto/rsm.hpp"

using namespace starling;
using namespace starling::proto;

namespace {
xml::element el(std::string_view text) {
  auto e = test_util::parse(text);
  EXPECT_TRUE(e.has_value()) << text;
  return e ? *e : xml::element();
}

std::optional<mam_query> mam(std::string_view inner, mam_query_error& err) {
  std::string text;
  return parse_mam_query(el("<query xmlns='urn:xmpp:mam:2' queryid='q1'>" + std::string(inner) + "</query>"), err,
                         text);
}

std::string form(std::string_view fields) {
  return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value>"
         "</field>" +
         std::string(fields) + "</x>";
}
}  // namespace

TEST(DataForm, ParsesFieldsAndFormType) {
  form_error err;
  auto f = parse_form(el("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:a</value>"
                         "</field><field var='m' type='list-multi'><value>1</value><value>2</value></field>"
                         "<field var='e'/></x>"),
                      err);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, "submit");
  EXPECT_EQ(f->form_type(), "urn:a");
  ASSERT_TRUE(f->field("m"));
  EXPECT_EQ(f->field("m")->values, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(f->field("e")->value(), "");
  EXPECT_EQ(f->field("nope"), nullptr);
}

TEST(DataForm, RejectsMalformedForms) {
  form_error err;
  EXPECT_FALSE(parse_form(el("<x xmlns='jabber:x:data'/>"), err));
  EXPECT_EQ(err, form_error::bad_type);
  EXPECT_FALSE(parse_form(el("<x xmlns='jabber:x:data' type='submit'><field><value>1</value></field></x>"), err));
  EXPECT_EQ(err, form_error::field_without_var);
  EXPECT_FALSE(parse_form(el("<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>"), err));
  EXPECT_EQ(err, form_error::duplicate_field);
  EXPECT_FALSE(parse_form(
      el("<x xmlns='jabber:x:data' type='submit'><field var='a' type='text-single'><value>1</value><value>2</value>"
         "</field></x>"),
      err));
  EXPECT_EQ(err, form_error::too_many_values);
  std::string many = "<x xmlns='jabber:x:data' type='submit'>";
  for (int i = 0; i < 70; ++i) many += "<field var='f" + std::to_string(i) + "'/>";
  EXPECT_FALSE(parse_form(el(many + "</x>"), err));
  EXPECT_EQ(err, form_error::too_large);
}

TEST(DataForm, BuildsForms) {
  auto x = make_form("result", "urn:t");
  add_field(x, "v", "", {"a", "b"});
  form_error err;
  auto f = parse_form(x, err);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->form_type(), "urn:t");
  EXPECT_EQ(f->field("v")->values.size(), 2u);
}

TEST(DateTime, Xep0082Profiles) {
  EXPECT_EQ(parse_xep0082_datetime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_xep0082_datetime("2010-07-10T23:08:25Z"), int64_t{1278803305} * 1000000);
  EXPECT_EQ(parse_xep0082_datetime("2010-07-10T23:08:25.123Z"), int64_t{1278803305} * 1000000 + 123000);
  EXPECT_EQ(parse_xep0082_datetime("2010-07-10T23:08:25.1234567Z"), int64_t{1278803305} * 1000000 + 123456);
  EXPECT_EQ(parse_xep0082_datetime("2010-07-11T01:08:25+02:00"), int64_t{1278803305} * 1000000);
  EXPECT_EQ(parse_xep0082_datetime("2010-07-10T20:08:25-03:00"), int64_t{1278803305} * 1000000);
  EXPECT_EQ(parse_xep0082_datetime("2024-02-29T00:00:00Z").has_value(), true);
  for (auto bad : {"", "2010-07-10", "2010-07-10T23:08:25", "2010-13-10T23:08:25Z", "2023-02-29T00:00:00Z",
                   "2010-07-10T24:00:00Z", "2010-07-10T23:08:25.Z", "2010-07-10T23:08:25Zjunk", "2010-07-10 23:08:25Z",
                   "2010-07-10T23:08:25+0200"})
    EXPECT_FALSE(parse_xep0082_datetime(bad)) << bad;
  EXPECT_EQ(format_xep0082_datetime(int64_t{1278803305} * 1000000), "2010-07-10T23:08:25Z");
  EXPECT_EQ(format_xep0082_datetime(int64_t{1278803305} * 1000000 + 5), "2010-07-10T23:08:25.000005Z");
  for (int64_t t : {int64_t{0}, int64_t{951782400123456}, int64_t{4102444799999999}})
    EXPECT_EQ(parse_xep0082_datetime(format_xep0082_datetime(t)), t);
}

TEST(Rsm, ParsesRequests) {
  rsm_error err;
  auto r = parse_rsm(el("<set xmlns='http://jabber.org/protocol/rsm'><max> 10 </max><after>abc</after></set>"), err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->max, 10u);
  EXPECT_EQ(r->after, "abc");
  EXPECT_FALSE(r->before);
  r = parse_rsm(el("<set xmlns='http://jabber.org/protocol/rsm'><before/></set>"), err);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->before);
  EXPECT_EQ(*r->before, "");
  r = parse_rsm(el("<set xmlns='http://jabber.org/protocol/rsm'><max>0</max><index>7</index></set>"), err);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->max, 0u);
  EXPECT_EQ(r->index, 7u);
  for (auto bad : {"<max>-1</max>", "<max>x</max>", "<max></max>", "<index>1.5</index>", "<after/>",
                   "<max>1</max><max>2</max>", "<max>99999999999999999999</max>"}) {
    EXPECT_FALSE(parse_rsm(el("<set xmlns='http://jabber.org/protocol/rsm'>" + std::string(bad) + "</set>"), err))
        << bad;
  }
}

TEST(Rsm, BuildsReplies) {
  rsm_reply r;
  r.count = 3;
  auto empty = make_rsm_reply(r);
  EXPECT_EQ(empty.child("first"), nullptr);
  EXPECT_EQ(empty.child_text("count"), "3");
  r.first = "a";
  r.first_index = 0;
  r.last = "c";
  auto full = make_rsm_reply(r);
  EXPECT_EQ(full.child_text("first"), "a");
  EXPECT_EQ(full.child("first")->attr_or("index"), "0");
  EXPECT_EQ(full.child_text("last"), "c");
}

TEST(MamQuery, ParsesEveryFilter) {
  mam_query_error err;
  auto q = mam(form("<field var='with'><value>juliet@capulet.lit</value></field>"
                    "<field var='start'><value>2010-06-07T00:00:00Z</value></field>"
                    "<field var='end'><value>2010-07-07T13:23:54Z</value></field>"
                    "<field var='after-id'><value>a1</value></field>"
                    "<field var='before-id'><value>b1</value></field>"
                    "<field var='ids'><value>i1</value><value>i2</value></field>") +
                   "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before/></set><flip-page/>",
               err);
  ASSERT_TRUE(q) << static_cast<int>(err);
  EXPECT_EQ(q->queryid, "q1");
  EXPECT_EQ(q->with->str(), "juliet@capulet.lit");
  EXPECT_TRUE(q->start && q->end && *q->start < *q->end);
  EXPECT_EQ(q->after_id, "a1");
  EXPECT_EQ(q->before_id, "b1");
  EXPECT_EQ(q->ids.size(), 2u);
  ASSERT_TRUE(q->rsm);
  EXPECT_EQ(q->rsm->max, 10u);
  EXPECT_TRUE(q->flip_page);
  q = mam("", err);
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->rsm);
  EXPECT_FALSE(q->with);
}

TEST(MamQuery, ErrorsTheXepNames) {
  mam_query_error err;
  // §4.1.5: an unknown field is feature-not-implemented.
  EXPECT_FALSE(mam(form("<field var='{urn:x}search'><value>x</value></field>"), err));
  EXPECT_EQ(err, mam_query_error::feature_not_implemented);
  EXPECT_FALSE(mam(form("<field var='include-groupchat'><value>true</value></field>"), err));
  EXPECT_EQ(err, mam_query_error::feature_not_implemented);
  EXPECT_FALSE(mam(form("<field var='with'><value>@bad</value></field>"), err));
  EXPECT_EQ(err, mam_query_error::jid_malformed);
  EXPECT_FALSE(mam(form("<field var='start'><value>yesterday</value></field>"), err));
  EXPECT_EQ(err, mam_query_error::bad_request);
  EXPECT_FALSE(mam("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value>"
                   "</field></x>",
                   err));
  EXPECT_EQ(err, mam_query_error::bad_request);
  EXPECT_FALSE(mam("<x xmlns='jabber:x:data' type='form'/>", err));
  EXPECT_EQ(err, mam_query_error::bad_request);
  EXPECT_FALSE(mam("<set xmlns='http://jabber.org/protocol/rsm'><max>ten</max></set>", err));
  EXPECT_EQ(err, mam_query_error::bad_request);
  EXPECT_FALSE(mam("<set xmlns='http://jabber.org/protocol/rsm'><after>a</after><before>b</before></set>", err));
  EXPECT_EQ(err, mam_query_error::bad_request);
  EXPECT_FALSE(mam(form("<field var='ids'/>"), err));
  EXPECT_EQ(err, mam_query_error::bad_request);
}

TEST(MamQuery, FormListsTheSupportedFields) {
  auto x = mam_query_form();
  form_error err;
  auto f = parse_form(x, err);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->form_type(), ns_mam);
  for (auto var : {"with", "start", "end", "before-id", "after-id", "ids"}) EXPECT_TRUE(f->field(var)) << var;
}
