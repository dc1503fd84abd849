// XEP-0004 data forms: parsing and serialization.
#include "proto/data_form.hpp"

#include <algorithm>
#include <set>

namespace starling::proto {

namespace {

constexpr std::string_view field_types[] = {"boolean",    "fixed",      "hidden",     "jid-multi",   "jid-single",
                                            "list-multi", "list-single", "text-multi", "text-private", "text-single"};

bool is_known_type(std::string_view t) {
  return std::find(std::begin(field_types), std::end(field_types), t) != std::end(field_types);
}

bool is_multi(std::string_view t) { return t == "jid-multi" || t == "list-multi" || t == "text-multi"; }

}  // namespace

std::string_view data_form::form_type() const {
  const form_field* f = field("FORM_TYPE");
  return f ? f->value() : std::string_view{};
}

const form_field* data_form::field(std::string_view var) const {
  for (const auto& f : fields)
    if (f.var == var) return &f;
  return nullptr;
}

form_field* data_form::field(std::string_view var) {
  for (auto& f : fields)
    if (f.var == var) return &f;
  return nullptr;
}

form_field& data_form::set(std::string var, std::string type, std::vector<std::string> values, std::string label) {
  if (form_field* f = field(var)) {
    f->values = std::move(values);
    return *f;
  }
  form_field f;
  f.var = std::move(var);
  f.type = std::move(type);
  f.values = std::move(values);
  f.label = std::move(label);
  fields.push_back(std::move(f));
  return fields.back();
}

xml::element data_form::to_xml() const {
  const std::string ns(ns_data);
  xml::element x("x", ns);
  x.set_attr("type", type.empty() ? std::string("form") : type);
  if (!title.empty()) x.add("title", ns).add_text(title);
  for (const auto& i : instructions) x.add("instructions", ns).add_text(i);
  for (const auto& f : fields) {
    auto& fe = x.add("field", ns);
    if (!f.var.empty()) fe.set_attr("var", f.var);
    // A submitted form carries no types or labels (XEP-0004 §3.2 lets them through; we only
    // leave them out to keep submissions short).
    if (!f.type.empty() && type != "submit") fe.set_attr("type", f.type);
    if (!f.label.empty() && type != "submit") fe.set_attr("label", f.label);
    if (f.required && type == "form") fe.add("required", ns);
    for (const auto& v : f.values) fe.add("value", ns).add_text(v);
    if (type == "form")
      for (const auto& [label, value] : f.options) {
        auto& o = fe.add("option", ns);
        if (!label.empty()) o.set_attr("label", label);
        o.add("value", ns).add_text(value);
      }
  }
  return x;
}

std::optional<data_form> parse_data_form(const xml::element& x) {
  if (!x.is("x", ns_data)) return std::nullopt;
  data_form form;
  form.type = std::string(x.attr_or("type"));
  if (form.type != "form" && form.type != "submit" && form.type != "cancel" && form.type != "result")
    return std::nullopt;
  std::set<std::string, std::less<>> seen;
  for (const xml::element* c : x.elements()) {
    if (c->ns() != ns_data) continue;  // foreign extensions (XEP-0122 and the like) are ignored
    if (c->name() == "title") {
      form.title = c->text();
    } else if (c->name() == "instructions") {
      form.instructions.push_back(c->text());
    } else if (c->name() == "field") {
      form_field f;
      f.var = std::string(c->attr_or("var"));
      f.type = std::string(c->attr_or("type"));
      f.label = std::string(c->attr_or("label"));
      if (!f.type.empty() && !is_known_type(f.type)) return std::nullopt;
      // XEP-0004 §3.2: 'var' is required unless the field is of type 'fixed'.
      if (f.var.empty() && f.type != "fixed") return std::nullopt;
      if (!f.var.empty() && !seen.insert(f.var).second) return std::nullopt;
      for (const xml::element* v : c->elements()) {
        if (v->ns() != ns_data) continue;
        if (v->name() == "value") {
          f.values.push_back(v->text());
        } else if (v->name() == "required") {
          f.required = true;
        } else if (v->name() == "option") {
          f.options.emplace_back(std::string(v->attr_or("label")), v->child_text("value", ns_data));
        }
      }
      if (!f.type.empty() && !is_multi(f.type) && f.values.size() > 1) return std::nullopt;
      if (f.type == "boolean" && !f.values.empty() && !parse_form_bool(f.values.front())) return std::nullopt;
      form.fields.push_back(std::move(f));
    }
    // <reported/> and <item/> of result forms are not needed by any user yet.
  }
  return form;
}

std::optional<bool> parse_form_bool(std::string_view v) {
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  return std::nullopt;
}

}  // namespace starling::proto
