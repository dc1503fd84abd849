#pragma once
// Test helper of the proto component: one element parsed from text with the stream parser.
#include <optional>
#include <string>
#include <string_view>

#include "xml/stream_parser.hpp"

namespace starling::proto::testing {

inline std::optional<xml::element> parse_element(std::string_view text) {
  struct collector : xml::stream_handler {
    std::optional<xml::element> el;
    bool failed = false;
    void on_stream_open(xml::stream_header) override {}
    void on_element(xml::element e) override {
      if (!el) el = std::move(e);
    }
    void on_stream_close() override {}
    void on_parse_error(xml::parse_error, std::string_view) override { failed = true; }
  } h;
  xml::parser_limits limits;
  limits.max_stanza_bytes = text.size() + 1024;
  xml::stream_parser p(h, limits);
  std::string doc = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
  doc.append(text);
  doc += "</stream:stream>";
  if (!p.feed(doc) || h.failed) return std::nullopt;
  return std::move(h.el);
}

}  // namespace starling::proto::testing
