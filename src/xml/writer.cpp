// Serialization of element trees; the output parses back (stream_parser) to the same tree.
#include "xml/writer.hpp"

#include <array>
#include <vector>

namespace starling::xml {
namespace {

constexpr std::string_view ns_xmlns = "http://www.w3.org/2000/xmlns/";

// Replacement for each byte: nullptr = copy as is, "" = drop.
using escape_table = std::array<const char*, 256>;

constexpr escape_table make_table(bool attr) {
  escape_table t{};
  // XML 1.0 §2.2: C0 controls other than TAB, LF, CR cannot appear in a document.
  for (int c = 0; c < 0x20; ++c) t[c] = "";
  t['\t'] = attr ? "&#9;" : nullptr;
  t['\n'] = attr ? "&#10;" : nullptr;
  t['\r'] = "&#13;";
  t['&'] = "&amp;";
  t['<'] = "&lt;";
  t['>'] = "&gt;";
  if (attr) {
    t['"'] = "&quot;";
    t['\''] = "&apos;";
  }
  return t;
}

constexpr escape_table text_table = make_table(false);
constexpr escape_table attr_table = make_table(true);

void escape(std::string& out, std::string_view s, const escape_table& t) {
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char* rep = t[static_cast<unsigned char>(s[i])];
    if (!rep) continue;
    out.append(s.data() + start, i - start);
    out.append(rep);
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

bool is_namespace_declaration(const attribute& a) {
  if (a.ns == ns_xmlns) return true;
  return a.ns.empty() && (a.name == "xmlns" || a.name.starts_with("xmlns:"));
}

void write_attr(std::string& out, std::string_view prefix, std::string_view name,
                std::string_view value) {
  out += ' ';
  if (!prefix.empty()) {
    out += prefix;
    out += ':';
  }
  out += name;
  out += "='";
  escape_attr(out, value);
  out += '\'';
}

// Writes the attributes of `e`; namespaced ones other than xml:* get prefixes ns0, ns1, ...
// declared on the same element. Elements themselves never use these prefixes (they use
// default-namespace declarations or "stream:"), so a prefix cannot clash with one in scope.
void write_attributes(std::string& out, const element& e) {
  std::vector<std::string_view> declared;  // index i <-> prefix "ns<i>"; rarely used
  auto prefix_index = [&](std::string_view ns, bool& is_new) {
    for (size_t i = 0; i < declared.size(); ++i)
      if (declared[i] == ns) return i;
    is_new = true;
    declared.push_back(ns);
    return declared.size() - 1;
  };
  for (const attribute& a : e.attributes()) {
    if (is_namespace_declaration(a)) continue;
    if (a.ns.empty()) {
      write_attr(out, {}, a.name, a.value);
    } else if (a.ns == ns_xml) {
      write_attr(out, "xml", a.name, a.value);  // the xml prefix is bound by definition
    } else {
      bool is_new = false;
      const std::string prefix = "ns" + std::to_string(prefix_index(a.ns, is_new));
      if (is_new) write_attr(out, "xmlns", prefix, a.ns);
      write_attr(out, prefix, a.name, a.value);
    }
  }
}

// The prefix an element is written with: "stream" for stream-level elements (RFC 6120 §4.8.1,
// bound on the stream header), "xml" for the XML namespace (Namespaces in XML §3: it must not
// be declared as a default namespace), none otherwise.
std::string_view element_prefix(const element& e) {
  if (e.ns() == ns_streams) return "stream";
  if (e.ns() == ns_xml) return "xml";
  return {};
}

void write_name(std::string& out, std::string_view prefix, const std::string& name) {
  if (!prefix.empty()) {
    out += prefix;
    out += ':';
  }
  out += name;
}

void write_element(std::string& out, const element& e, std::string_view scope_ns) {
  const std::string_view prefix = element_prefix(e);
  out += '<';
  write_name(out, prefix, e.name());
  std::string_view child_scope = scope_ns;
  if (prefix.empty() && e.ns() != scope_ns) {
    write_attr(out, {}, "xmlns", e.ns());  // xmlns='' when leaving a default namespace
    child_scope = e.ns();
  }
  write_attributes(out, e);
  if (e.children().empty()) {
    out += "/>";
    return;
  }
  out += '>';
  for (const node& n : e.children()) {
    if (const auto* child = std::get_if<element>(&n))
      write_element(out, *child, child_scope);
    else
      escape_text(out, std::get<std::string>(n));
  }
  out += "</";
  write_name(out, prefix, e.name());
  out += '>';
}

}  // namespace

void escape_text(std::string& out, std::string_view text) { escape(out, text, text_table); }

void escape_attr(std::string& out, std::string_view text) { escape(out, text, attr_table); }

void serialize(std::string& out, const element& e, std::string_view default_ns) {
  write_element(out, e, default_ns);
}

std::string to_string(const element& e, std::string_view default_ns) {
  std::string out;
  serialize(out, e, default_ns);
  return out;
}

void serialize_stream_open(std::string& out, const element& attrs, std::string_view default_ns,
                           bool xml_declaration) {
  if (xml_declaration) out += "<?xml version='1.0'?>";
  out += "<stream:stream";
  if (!default_ns.empty()) write_attr(out, {}, "xmlns", default_ns);
  write_attr(out, "xmlns", "stream", ns_streams);
  write_attributes(out, attrs);
  out += '>';
}

}  // namespace starling::xml
