#include "proto/data_form.hpp"

#include <gtest/gtest.h>

#include "proto/proto_test_util.hpp"

using namespace starling::proto;
using starling::proto::testing::parse_element;

namespace {

std::optional<data_form> form_of(std::string_view text) {
  auto e = parse_element(text);
  if (!e) return std::nullopt;
  return parse_data_form(*e);
}

}  // namespace

TEST(DataForm, ParsesSubmittedPublishOptions) {
  auto f = form_of(
      "<x xmlns='jabber:x:data' type='submit'>"
      "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
      "<field var='pubsub#persist_items'><value>true</value></field>"
      "<field var='pubsub#roster_groups_allowed' type='list-multi'><value>a</value><value>b</value></field>"
      "</x>");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->type, "submit");
  EXPECT_EQ(f->form_type(), "http://jabber.org/protocol/pubsub#publish-options");
  ASSERT_NE(f->field("pubsub#persist_items"), nullptr);
  EXPECT_EQ(f->field("pubsub#persist_items")->value(), "true");
  EXPECT_EQ(f->field("pubsub#roster_groups_allowed")->values.size(), 2u);
  EXPECT_EQ(f->field("nope"), nullptr);
}

TEST(DataForm, RejectsInvalidForms) {
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data' type='bogus'/>"));
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data'/>"));  // XEP-0004 §3.1: type is required
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data' type='submit'><field type='text-single'/></x>"));
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data' type='submit'><field var='a' type='weird'/></x>"));
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data' type='submit'>"
                       "<field var='a' type='text-single'><value>1</value><value>2</value></field></x>"));
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>"));
  EXPECT_FALSE(form_of("<x xmlns='jabber:x:data' type='submit'>"
                       "<field var='b' type='boolean'><value>yes</value></field></x>"));
  EXPECT_FALSE(form_of("<x xmlns='urn:other' type='submit'/>"));
}

TEST(DataForm, RoundTripsThroughXml) {
  data_form f;
  f.type = "form";
  f.set("FORM_TYPE", "hidden", {"urn:example"});
  auto& l = f.set("pubsub#access_model", "list-single", {"presence"}, "Access model");
  l.options = {{"", "open"}, {"", "presence"}};
  f.set("pubsub#max_items", "text-single", {"max"});
  auto back = parse_data_form(f.to_xml());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->form_type(), "urn:example");
  EXPECT_EQ(back->field("pubsub#access_model")->options.size(), 2u);
  EXPECT_EQ(back->field("pubsub#access_model")->label, "Access model");
  EXPECT_EQ(back->field("pubsub#max_items")->value(), "max");
  // Replacing keeps one field per var.
  f.set("pubsub#max_items", "text-single", {"10"});
  EXPECT_EQ(f.field("pubsub#max_items")->value(), "10");
  EXPECT_EQ(f.fields.size(), 3u);
}

TEST(DataForm, Booleans) {
  EXPECT_EQ(parse_form_bool("1"), true);
  EXPECT_EQ(parse_form_bool("true"), true);
  EXPECT_EQ(parse_form_bool("0"), false);
  EXPECT_EQ(parse_form_bool("false"), false);
  EXPECT_FALSE(parse_form_bool("TRUE"));
  EXPECT_FALSE(parse_form_bool(""));
}
