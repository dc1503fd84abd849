#pragma once
// XEP-0004: Data Forms — the <x xmlns='jabber:x:data'/> payload shared by the modules that
// configure or filter something with a form (PubSub node configuration and publish-options
// XEP-0060 §16.4, MAM filters XEP-0313, ...). Parsing is strict where XEP-0004 §3 is (form
// type, field types, one value for single-valued fields) and lenient elsewhere.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xml/element.hpp"

namespace starling::proto {

inline constexpr std::string_view ns_data = "jabber:x:data";

struct form_field {
  std::string var;
  std::string type;   // XEP-0004 §3.3 field type; empty when the sender left it out
  std::string label;
  std::vector<std::string> values;
  std::vector<std::pair<std::string, std::string>> options;  // (label, value) for list-* fields
  bool required = false;

  // The first value, or empty.
  std::string_view value() const { return values.empty() ? std::string_view{} : std::string_view(values.front()); }
};

struct data_form {
  std::string type;  // form, submit, cancel, result (XEP-0004 §3.1)
  std::string title;
  std::vector<std::string> instructions;
  std::vector<form_field> fields;

  // XEP-0068: the value of the hidden FORM_TYPE field, empty if there is none.
  std::string_view form_type() const;
  const form_field* field(std::string_view var) const;
  form_field* field(std::string_view var);
  // Adds a field (or replaces the values of an existing one with the same var).
  form_field& set(std::string var, std::string type, std::vector<std::string> values, std::string label = {});

  // The form as an <x xmlns='jabber:x:data'/> element.
  xml::element to_xml() const;
};

// Parses an <x xmlns='jabber:x:data'/> element; nullopt if it is not a valid form (unknown form
// or field type, a field without 'var' outside a 'result' form, several values for a
// single-valued field, a duplicated var).
std::optional<data_form> parse_data_form(const xml::element& x);

// XEP-0004 §3.3 boolean: "0"/"false" or "1"/"true"; nullopt otherwise.
std::optional<bool> parse_form_bool(std::string_view v);

}  // namespace starling::proto
