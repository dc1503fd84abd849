#pragma once
// XEP-0004 data forms as used by server-side protocols: parsing a submitted form (MAM and
// PubSub queries, configuration forms) and building forms and results. Codec only: what a
// field means is the using protocol's business.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace starling::proto {

inline constexpr std::string_view ns_data = "jabber:x:data";

struct form_field {
  std::string var;
  std::string type;                 // XEP-0004 §3.3 field type; empty when not given
  std::vector<std::string> values;  // every <value/>, in order

  // The single value ('' if none). XEP-0004 §3.3: single-valued types carry at most one.
  const std::string& value() const;
};

struct data_form {
  std::string type;  // form, submit, cancel, result (XEP-0004 §3.1)
  std::vector<form_field> fields;

  const form_field* field(std::string_view var) const;
  // The value of the hidden FORM_TYPE field (XEP-0068 §3), empty if absent.
  std::string form_type() const;
};

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

// Parses <x xmlns='jabber:x:data'/>. On failure returns nullopt and sets `err`.
std::optional<data_form> parse_form(const xml::element& x, form_error& err, const form_limits& limits = {});

// Builders.
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
