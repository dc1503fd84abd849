#pragma once
// Parses one element from text, for the proto unit tests and fuzz targets.
#include <optional>
#include <string>
#include <string_view>

#include "xml/stream_parser.hpp"

namespace starling::proto::test_util {

struct one_element : xml::stream_handler {
  std::optional<xml::element> el;
  bool failed = false;
  void on_stream_open(xml::stream_header) override {}
  void on_element(xml::element e) override {
    if (!el) el = std::move(e);
  }
  void on_stream_close() override {}
  void on_parse_error(xml::parse_error, std::string_view) override { failed = true; }
};

inline std::optional<xml::element> parse(std::string_view text) {
  one_element h;
  xml::parser_limits limits;
  xml::stream_parser p(h, limits);
  p.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  p.feed(text);
  if (h.failed) return std::nullopt;
  return std::move(h.el);
}

}  // namespace starling::proto::test_util

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
