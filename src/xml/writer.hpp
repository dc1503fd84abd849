#pragma once
// Serialization of element trees to UTF-8 XML text.
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling::xml {

// Escapes character data (& < >) and attribute values (& < > " '). So that the output parses
// back to the same string, CR in text and TAB/LF/CR in attribute values are written as character
// references (XML 1.0 §2.11 and §3.3.3 would otherwise normalize them), and C0 control
// characters, which XML 1.0 cannot represent at all, are dropped. Input must be UTF-8; text
// from the parser always is.
void escape_text(std::string& out, std::string_view text);
void escape_attr(std::string& out, std::string_view text);

// Appends `e` to `out`. `default_ns` is the default namespace in scope where `e` is written
// (for a stanza on a c2s stream: "jabber:client"); an xmlns attribute is written only where an
// element's namespace differs from the one in scope. Elements in ns_streams are written with
// the "stream:" prefix, which the stream header declares. Other qualified attributes get
// generated prefixes (xml:lang keeps "xml:"). Unqualified attributes named xmlns or xmlns:*
// are not written: namespaces come from element::ns() and attribute::ns only.
void serialize(std::string& out, const element& e, std::string_view default_ns = {});
std::string to_string(const element& e, std::string_view default_ns = {});

// Appends a stream header (RFC 6120 §4.7): optionally the XML declaration, then
// <stream:stream xmlns='default_ns' xmlns:stream='http://etherx.jabber.org/streams' ...>
// with the attributes of `attrs` (to, from, id, version, xml:lang); its name is not used.
void serialize_stream_open(std::string& out, const element& attrs, std::string_view default_ns,
                           bool xml_declaration = true);
inline constexpr std::string_view stream_close_tag = "</stream:stream>";

}  // namespace starling::xml
