// XEP-0060 node configuration: form mapping, preconditions, storage form.
#include "modules/pubsub/pubsub_config.hpp"

#include <charconv>
#include <map>

namespace starling::pubsub {

namespace {

std::string_view to_string(publish_model m) {
  switch (m) {
    case publish_model::publishers: return "publishers";
    case publish_model::subscribers: return "subscribers";
    case publish_model::open: return "open";
  }
  return "publishers";
}
std::optional<publish_model> parse_publish_model(std::string_view s) {
  if (s == "publishers") return publish_model::publishers;
  if (s == "subscribers") return publish_model::subscribers;
  if (s == "open") return publish_model::open;
  return std::nullopt;
}
std::string_view to_string(send_last s) {
  switch (s) {
    case send_last::never: return "never";
    case send_last::on_sub: return "on_sub";
    case send_last::on_sub_and_presence: return "on_sub_and_presence";
  }
  return "never";
}
std::optional<send_last> parse_send_last(std::string_view s) {
  if (s == "never") return send_last::never;
  if (s == "on_sub") return send_last::on_sub;
  if (s == "on_sub_and_presence") return send_last::on_sub_and_presence;
  return std::nullopt;
}
std::string to_string(const max_items_value& m) { return m.is_max ? std::string("max") : std::to_string(m.n); }
std::optional<max_items_value> parse_max_items(std::string_view s) {
  if (s == "max") return max_items_value{true, 0};
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  // XEP-0060 §16.4.4: a positive number of items (a node keeps at least one).
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty() || n == 0) return std::nullopt;
  return max_items_value{false, n};
}
const char* b(bool v) { return v ? "1" : "0"; }

// Field var -> current value(s) of `c`, as the form shows them.
std::map<std::string, std::vector<std::string>, std::less<>> values_of(const node_config& c) {
  return {
      {"pubsub#title", {c.title}},
      {"pubsub#type", {c.type}},
      {"pubsub#access_model", {std::string(to_string(c.access))}},
      {"pubsub#roster_groups_allowed", c.roster_groups_allowed},
      {"pubsub#publish_model", {std::string(to_string(c.publish))}},
      {"pubsub#max_items", {to_string(c.max_items)}},
      {"pubsub#persist_items", {b(c.persist_items)}},
      {"pubsub#deliver_notifications", {b(c.deliver_notifications)}},
      {"pubsub#deliver_payloads", {b(c.deliver_payloads)}},
      {"pubsub#notify_config", {b(c.notify_config)}},
      {"pubsub#notify_delete", {b(c.notify_delete)}},
      {"pubsub#notify_retract", {b(c.notify_retract)}},
      {"pubsub#send_last_published_item", {std::string(to_string(c.send_last_published_item))}},
      {"pubsub#notification_type", {c.notification_type_normal ? "normal" : "headline"}},
  };
}

// Sets one field; false if the value is not acceptable.
form_error set_field(node_config& c, const proto::form_field& f, uint64_t server_max) {
  const std::string_view v = f.value();
  auto boolean = [&](bool& out) {
    auto x = proto::parse_form_bool(v);
    if (!x) return form_error::bad_value;
    out = *x;
    return form_error::none;
  };
  const std::string& k = f.var;
  if (k == "pubsub#title") {
    c.title = std::string(v);
  } else if (k == "pubsub#type") {
    c.type = std::string(v);
  } else if (k == "pubsub#access_model") {
    auto m = parse_access_model(v);
    if (!m) return form_error::bad_value;
    c.access = *m;
  } else if (k == "pubsub#roster_groups_allowed") {
    c.roster_groups_allowed = f.values;
  } else if (k == "pubsub#publish_model") {
    auto m = parse_publish_model(v);
    if (!m) return form_error::bad_value;
    c.publish = *m;
  } else if (k == "pubsub#max_items") {
    auto m = parse_max_items(v);
    if (!m) return form_error::bad_value;
    if (!m->is_max && m->n > server_max) return form_error::over_limit;
    c.max_items = *m;
  } else if (k == "pubsub#persist_items") {
    return boolean(c.persist_items);
  } else if (k == "pubsub#deliver_notifications") {
    return boolean(c.deliver_notifications);
  } else if (k == "pubsub#deliver_payloads") {
    return boolean(c.deliver_payloads);
  } else if (k == "pubsub#notify_config") {
    return boolean(c.notify_config);
  } else if (k == "pubsub#notify_delete") {
    return boolean(c.notify_delete);
  } else if (k == "pubsub#notify_retract") {
    return boolean(c.notify_retract);
  } else if (k == "pubsub#send_last_published_item") {
    auto m = parse_send_last(v);
    if (!m) return form_error::bad_value;
    c.send_last_published_item = *m;
  } else if (k == "pubsub#notification_type") {
    if (v != "headline" && v != "normal") return form_error::bad_value;
    c.notification_type_normal = v == "normal";
  } else {
    return form_error::unknown_field;
  }
  return form_error::none;
}

}  // namespace

std::string_view to_string(access_model m) {
  switch (m) {
    case access_model::open: return "open";
    case access_model::presence: return "presence";
    case access_model::roster: return "roster";
    case access_model::whitelist: return "whitelist";
  }
  return "presence";
}

std::optional<access_model> parse_access_model(std::string_view s) {
  if (s == "open") return access_model::open;
  if (s == "presence") return access_model::presence;
  if (s == "roster") return access_model::roster;
  if (s == "whitelist") return access_model::whitelist;
  return std::nullopt;
}

proto::data_form to_form(const node_config& c) {
  proto::data_form f;
  f.type = "form";
  f.set("FORM_TYPE", "hidden", {std::string(ns_node_config)});
  auto vals = values_of(c);
  auto add = [&](const char* var, const char* type, const char* label,
                 std::vector<std::pair<std::string, std::string>> options = {}) {
    auto& fld = f.set(var, type, vals[var], label);
    fld.options = std::move(options);
  };
  add("pubsub#title", "text-single", "A friendly name for the node");
  add("pubsub#type", "text-single", "The type of node data, usually specified by the namespace of the payload");
  add("pubsub#access_model", "list-single", "Specify the subscriber model",
      {{"", "open"}, {"", "presence"}, {"", "roster"}, {"", "whitelist"}});
  add("pubsub#roster_groups_allowed", "list-multi", "Roster groups allowed to subscribe");
  add("pubsub#publish_model", "list-single", "Specify the publisher model",
      {{"", "publishers"}, {"", "subscribers"}, {"", "open"}});
  add("pubsub#max_items", "text-single", "Max # of items to persist. `max` for no specific limit other than a server imposed maximum.");
  add("pubsub#persist_items", "boolean", "Persist items to storage");
  add("pubsub#deliver_notifications", "boolean", "Whether to deliver event notifications");
  add("pubsub#deliver_payloads", "boolean", "Whether to deliver payloads with event notifications");
  add("pubsub#notify_config", "boolean", "Notify subscribers when the node configuration changes");
  add("pubsub#notify_delete", "boolean", "Notify subscribers when the node is deleted");
  add("pubsub#notify_retract", "boolean", "Notify subscribers when items are removed from the node");
  add("pubsub#send_last_published_item", "list-single", "When to send the last published item",
      {{"", "never"}, {"", "on_sub"}, {"", "on_sub_and_presence"}});
  add("pubsub#notification_type", "list-single", "Specify the delivery style for notifications",
      {{"", "normal"}, {"", "headline"}});
  return f;
}

form_error apply_form(node_config& c, const proto::data_form& f, uint64_t server_max) {
  for (const auto& fld : f.fields) {
    if (fld.var == "FORM_TYPE" || fld.var.empty()) continue;
    auto e = set_field(c, fld, server_max);
    if (e != form_error::none) return e;
  }
  return form_error::none;
}

bool preconditions_met(const node_config& c, const proto::data_form& f, uint64_t server_max) {
  for (const auto& fld : f.fields) {
    if (fld.var == "FORM_TYPE" || fld.var.empty()) continue;
    // Normalise the submitted value through the same parser, then compare.
    node_config probe = c;
    if (set_field(probe, fld, server_max) != form_error::none) return false;
    if (!(probe == c)) return false;
  }
  return true;
}

std::string serialize(const node_config& c) {
  std::string out;
  for (const auto& [k, vs] : values_of(c)) {
    out += k;
    out += '=';
    for (size_t i = 0; i < vs.size(); ++i) {
      if (i) out += '\x1f';
      for (char ch : vs[i]) out += ch == '\n' ? ' ' : ch;
    }
    out += '\n';
  }
  return out;
}

node_config deserialize(std::string_view text) {
  node_config c;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    proto::form_field f;
    f.var = std::string(line.substr(0, eq));
    std::string_view v = line.substr(eq + 1);
    if (f.var == "pubsub#roster_groups_allowed") {
      while (!v.empty()) {
        size_t us = v.find('\x1f');
        f.values.emplace_back(v.substr(0, us));
        v = us == std::string_view::npos ? std::string_view{} : v.substr(us + 1);
      }
    } else {
      f.values.emplace_back(v);
    }
    node_config probe = c;
    if (set_field(probe, f, UINT64_MAX) == form_error::none) c = probe;
  }
  return c;
}

}  // namespace starling::pubsub
