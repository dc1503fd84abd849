#pragma once
// Serialization of element trees to UTF-8 XML text.
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling::xml {

// Escapes character data (& < >) and attribute values (& < > " ').
void escape_text(std::string& out, std::string_view text);
void escape_attr(std::string& out, std::string_view text);

// Appends `e` to `out`. `default_ns` is the default namespace in scope where `e` is written
// (for a stanza on a c2s stream: "jabber:client"); an xmlns attribute is written only where an
// element's namespace differs from the one in scope. Elements in ns_streams are written with
// the "stream:" prefix, which the stream header declares. Other qualified attributes get
// generated prefixes (xml:lang keeps "xml:").
void serialize(std::string& out, const element& e, std::string_view default_ns = {});
std::string to_string(const element& e, std::string_view default_ns = {});

}  // namespace starling::xml
