// libFuzzer target for the XEP-0004 form parser: arbitrary bytes as the content of a stream;
// every top-level element is parsed as a form, and a parsed form must survive to_xml() and
// parse back to the same fields.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "proto/data_form.hpp"
#include "xml/stream_parser.hpp"

namespace {
using namespace starling;

struct handler : xml::stream_handler {
  void on_stream_open(xml::stream_header) override {}
  void on_element(xml::element e) override {
    for (const xml::element* x : e.elements()) check(*x);
    check(e);
  }
  void on_stream_close() override {}
  void on_parse_error(xml::parse_error, std::string_view) override {}
  static void check(const xml::element& x) {
    auto f = proto::parse_data_form(x);
    if (!f || f->type == "submit") return;  // submissions drop types on output
    auto back = proto::parse_data_form(f->to_xml());
    if (!back || back->fields.size() != f->fields.size()) std::abort();
    for (size_t i = 0; i < f->fields.size(); ++i)
      if (back->fields[i].var != f->fields[i].var || back->fields[i].values != f->fields[i].values) std::abort();
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  handler h;
  xml::parser_limits limits;
  limits.max_stanza_bytes = 65536;
  xml::stream_parser p(h, limits);
  std::string doc = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
  doc.append(reinterpret_cast<const char*>(data), size);
  p.feed(doc);
  return 0;
}
