#pragma once
// Payloads that modules keep verbatim in storage (vcard-temp, private XML storage...):
// serialized with the stanza writer and parsed back with the stream parser, so that what a
// client stored comes back as the same element tree (XEP-0049 §2, XEP-0054 §3.2).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace starling::modules {

// Serialized form of `e`, namespaces declared where they change (no default in scope).
std::string store_xml(const xml::element& e);
// Parses a single element written by store_xml(); nullopt if the text is not one well-formed
// element (storage corrupted by hand, say).
std::optional<xml::element> load_xml(std::string_view text);
// Parses a sequence of elements (several store_xml() outputs appended); nullopt on bad data.
std::optional<std::vector<xml::element>> load_xml_list(std::string_view text);

}  // namespace starling::modules
