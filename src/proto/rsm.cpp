#include "proto/rsm.hpp"

namespace starling::proto {

namespace {
std::optional<uint64_t> parse_number(std::string_view s) {
  // XEP-0059 §2.1: an integer (the schema says xs:int; negative values make no sense).
  if (s.empty() || s.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string_view trim(const std::string& s) {
  std::string_view v(s);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\n' || v.front() == '\r'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\n' || v.back() == '\r'))
    v.remove_suffix(1);
  return v;
}
}  // namespace

std::optional<rsm_request> parse_rsm(const xml::element& set, rsm_error& err) {
  err = rsm_error::none;
  rsm_request r;
  for (const xml::element* c : set.elements()) {
    if (c->ns() != ns_rsm) continue;
    const std::string text = c->text();
    if (c->name() == "max" || c->name() == "index") {
      auto& slot = c->name() == "max" ? r.max : r.index;
      if (slot) {
        err = rsm_error::duplicate;
        return std::nullopt;
      }
      slot = parse_number(trim(text));
      if (!slot) {
        err = rsm_error::bad_number;
        return std::nullopt;
      }
    } else if (c->name() == "after") {
      if (r.after) {
        err = rsm_error::duplicate;
        return std::nullopt;
      }
      if (text.empty()) {
        err = rsm_error::empty_after;
        return std::nullopt;
      }
      r.after = text;
    } else if (c->name() == "before") {
      if (r.before) {
        err = rsm_error::duplicate;
        return std::nullopt;
      }
      r.before = text;  // empty: the last page (§2.5)
    }
  }
  return r;
}

xml::element make_rsm_reply(const rsm_reply& r) {
  xml::element set("set", std::string(ns_rsm));
  if (r.first) {
    auto& f = set.add("first", std::string(ns_rsm));
    if (r.first_index) f.set_attr("index", std::to_string(*r.first_index));
    f.add_text(*r.first);
  }
  if (r.last) set.add("last", std::string(ns_rsm)).add_text(*r.last);
  if (r.count) set.add("count", std::string(ns_rsm)).add_text(std::to_string(*r.count));
  return set;
}

}  // namespace starling::proto
