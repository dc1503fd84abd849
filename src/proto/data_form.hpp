#pragma once
// XEP-0004: Data Forms — the <x xmlns='jabber:x:data'/> payload shared by the modules that
// configure or filter something with a form (PubSub node configuration and publish-options
// XEP-0060 §16.4, MAM filters XEP-0313, ...). Parsing is strict where XEP-0004 §3 is (form
// type, field types, one value for single-valued fields) and lenient elsewhere.
#include <cstdint>
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

// --- Strict parsing of submitted forms (query protocols) and element builders ---

enum class form_error {
  none,
  bad_type,          // missing or unknown 'type' attribute on <x/>
  field_without_var, // XEP-0004 §3.2: every field of a submitted form has a 'var'
  duplicate_field,   // the same var twice
  too_many_values,   // more than one value for a single-valued type, or above the limit
  too_large,         // more fields than the parser accepts
};

struct form_limits {
  size_t max_fields = 64;
  size_t max_values = 1024;  // per field
};

// Parses <x xmlns='jabber:x:data'/> with limits; on failure returns nullopt and sets `err`.
std::optional<data_form> parse_form(const xml::element& x, form_error& err, const form_limits& limits = {});

xml::element make_form(std::string_view type, std::string_view form_type);
// Appends a field; type may be empty (then no 'type' attribute).
xml::element& add_field(xml::element& form, std::string_view var, std::string_view type,
                        const std::vector<std::string>& values = {});

// XEP-0082 §3.2 DateTime (CCYY-MM-DDThh:mm:ss[.sss]TZD) to microseconds since the Unix epoch,
// UTC. Fractions beyond microseconds are truncated. nullopt if malformed.
std::optional<int64_t> parse_xep0082_datetime(std::string_view s);
// Microseconds since the epoch to CCYY-MM-DDThh:mm:ss.ssssssZ (or without fraction if whole).
std::string format_xep0082_datetime(int64_t micros);

}  // namespace starling::proto
