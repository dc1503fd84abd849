#include "modules/stored_xml/stored_xml.hpp"

#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

namespace starling::modules {

std::string store_xml(const xml::element& e) { return xml::to_string(e); }

namespace {
// Collects the depth-2 elements of a synthetic stream.
struct collector : xml::stream_handler {
  std::vector<xml::element> els;
  bool failed = false;
  void on_stream_open(xml::stream_header) override {}
  void on_element(xml::element e) override { els.push_back(std::move(e)); }
  void on_stream_close() override {}
  void on_parse_error(xml::parse_error, std::string_view) override { failed = true; }
};
}  // namespace

std::optional<std::vector<xml::element>> load_xml_list(std::string_view text) {
  collector h;
  // Stored data was accepted under the stanza limits once; these bounds only guard against a
  // database edited by hand.
  xml::parser_limits limits;
  limits.max_stanza_bytes = text.size() + 1024;
  limits.max_depth = 256;
  xml::stream_parser p(h, limits);
  std::string doc = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
  doc.append(text);
  doc += "</stream:stream>";
  if (!p.feed(doc) || h.failed) return std::nullopt;
  return std::move(h.els);
}

std::optional<xml::element> load_xml(std::string_view text) {
  auto list = load_xml_list(text);
  if (!list || list->size() != 1) return std::nullopt;
  return std::move(list->front());
}

}  // namespace starling::modules
