#include "xml/element.hpp"

namespace starling::xml {

bool element::operator==(const element& other) const {
  return name_ == other.name_ && ns_ == other.ns_ && attrs_ == other.attrs_ &&
         children_ == other.children_;
}

const std::string* element::attr(std::string_view name) const {
  for (const auto& a : attrs_)
    if (a.ns.empty() && a.name == name) return &a.value;
  return nullptr;
}

std::string_view element::attr_or(std::string_view name, std::string_view fallback) const {
  const std::string* v = attr(name);
  return v ? std::string_view(*v) : fallback;
}

element& element::set_attr(std::string_view name, std::string value) {
  for (auto& a : attrs_)
    if (a.ns.empty() && a.name == name) {
      a.value = std::move(value);
      return *this;
    }
  attrs_.push_back({{}, std::string(name), std::move(value)});
  return *this;
}

void element::remove_attr(std::string_view name) {
  std::erase_if(attrs_, [&](const attribute& a) { return a.ns.empty() && a.name == name; });
}

const std::string* element::attr_ns(std::string_view ns, std::string_view name) const {
  for (const auto& a : attrs_)
    if (a.ns == ns && a.name == name) return &a.value;
  return nullptr;
}

element& element::set_attr_ns(std::string_view ns, std::string_view name, std::string value) {
  for (auto& a : attrs_)
    if (a.ns == ns && a.name == name) {
      a.value = std::move(value);
      return *this;
    }
  attrs_.push_back({std::string(ns), std::string(name), std::move(value)});
  return *this;
}

const element* element::child(std::string_view name, std::string_view ns) const {
  for (const auto& c : children_)
    if (const auto* e = std::get_if<element>(&c))
      if (e->name_ == name && (ns.empty() || e->ns_ == ns)) return e;
  return nullptr;
}

element* element::child(std::string_view name, std::string_view ns) {
  return const_cast<element*>(static_cast<const element*>(this)->child(name, ns));
}

const element* element::child_ns(std::string_view ns) const {
  for (const auto& c : children_)
    if (const auto* e = std::get_if<element>(&c))
      if (e->ns_ == ns) return e;
  return nullptr;
}

std::vector<const element*> element::elements() const {
  std::vector<const element*> out;
  for (const auto& c : children_)
    if (const auto* e = std::get_if<element>(&c)) out.push_back(e);
  return out;
}

const element* element::first_element() const {
  for (const auto& c : children_)
    if (const auto* e = std::get_if<element>(&c)) return e;
  return nullptr;
}

size_t element::element_count() const {
  size_t n = 0;
  for (const auto& c : children_) n += std::holds_alternative<element>(c);
  return n;
}

element& element::add_child(element e) {
  children_.emplace_back(std::move(e));
  return std::get<element>(children_.back());
}

element& element::add(std::string name, std::string ns) {
  return add_child(element(std::move(name), std::move(ns)));
}

element& element::add_text(std::string_view text) {
  if (!children_.empty())
    if (auto* s = std::get_if<std::string>(&children_.back())) {
      s->append(text);
      return *this;
    }
  children_.emplace_back(std::string(text));
  return *this;
}

void element::remove_children(std::string_view name, std::string_view ns) {
  std::erase_if(children_, [&](const node& n) {
    const auto* e = std::get_if<element>(&n);
    return e && e->name_ == name && e->ns_ == ns;
  });
}

std::string element::text() const {
  std::string out;
  for (const auto& c : children_)
    if (const auto* s = std::get_if<std::string>(&c)) out += *s;
  return out;
}

std::string element::child_text(std::string_view name, std::string_view ns) const {
  const element* c = child(name, ns);
  return c ? c->text() : std::string();
}

}  // namespace starling::xml
