#pragma once
// An XML element tree for stanzas: qualified by namespace URI, mixed content kept in order so
// that payloads such as XHTML-IM are routed exactly as received.
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace starling::xml {

// Namespace URIs used by the core.
inline constexpr std::string_view ns_streams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view ns_client = "jabber:client";
inline constexpr std::string_view ns_server = "jabber:server";
inline constexpr std::string_view ns_xml = "http://www.w3.org/XML/1998/namespace";

struct attribute {
  std::string ns;  // empty for unqualified attributes; ns_xml for xml:lang
  std::string name;
  std::string value;

  friend bool operator==(const attribute&, const attribute&) = default;
};

class element;
using node = std::variant<element, std::string>;  // child element or character data

class element {
 public:
  element() = default;
  element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}

  const std::string& name() const { return name_; }
  const std::string& ns() const { return ns_; }
  void set_name(std::string n) { name_ = std::move(n); }
  void set_ns(std::string n) { ns_ = std::move(n); }
  bool is(std::string_view name, std::string_view ns) const { return name_ == name && ns_ == ns; }
  // Deep equality: name, namespace, attributes in order, children in order.
  bool operator==(const element& other) const;

  // Unqualified attributes (the usual case: to, from, id, type).
  const std::string* attr(std::string_view name) const;
  std::string_view attr_or(std::string_view name, std::string_view fallback = {}) const;
  element& set_attr(std::string_view name, std::string value);
  void remove_attr(std::string_view name);
  // Namespace-qualified attributes (xml:lang and the like).
  const std::string* attr_ns(std::string_view ns, std::string_view name) const;
  element& set_attr_ns(std::string_view ns, std::string_view name, std::string value);
  const std::vector<attribute>& attributes() const { return attrs_; }
  std::vector<attribute>& attributes() { return attrs_; }

  const std::vector<node>& children() const { return children_; }
  std::vector<node>& children() { return children_; }

  // First child element with this name and namespace (ns empty: any namespace).
  const element* child(std::string_view name, std::string_view ns = {}) const;
  element* child(std::string_view name, std::string_view ns = {});
  // First child element of any name in this namespace.
  const element* child_ns(std::string_view ns) const;
  // Child elements only, in order.
  std::vector<const element*> elements() const;
  const element* first_element() const;
  size_t element_count() const;

  element& add_child(element e);  // returns the added child
  element& add(std::string name, std::string ns);  // new empty child in the given namespace
  element& add_text(std::string_view text);        // appends character data
  void remove_children(std::string_view name, std::string_view ns);

  // Concatenated character data of the direct children.
  std::string text() const;
  // Text of the named child, empty if absent.
  std::string child_text(std::string_view name, std::string_view ns = {}) const;

 private:
  std::string name_;
  std::string ns_;
  std::vector<attribute> attrs_;
  std::vector<node> children_;
};

}  // namespace starling::xml
