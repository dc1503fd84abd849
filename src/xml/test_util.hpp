#pragma once
// Helpers shared by the xml unit tests: a handler that records callbacks as text, a canonical
// dump of element trees that does not depend on the writer, and chunked feeding.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"
#include "xml/stream_parser.hpp"

namespace starling::xml::testing {

// {ns}name[{ns}attr="value" ...](children); text as "..." with \n, \r, \t, \", \\ escaped.
inline void dump(std::string& out, const element& e) {
  auto quoted = [&](std::string_view s) {
    out += '"';
    for (char c : s) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        default: out += c;
      }
    }
    out += '"';
  };
  out += '{' + e.ns() + '}' + e.name() + '[';
  for (size_t i = 0; i < e.attributes().size(); ++i) {
    const attribute& a = e.attributes()[i];
    if (i) out += ' ';
    if (!a.ns.empty()) out += '{' + a.ns + '}';
    out += a.name + '=';
    quoted(a.value);
  }
  out += "](";
  for (size_t i = 0; i < e.children().size(); ++i) {
    if (i) out += ' ';
    if (const auto* c = std::get_if<element>(&e.children()[i]))
      dump(out, *c);
    else
      quoted(std::get<std::string>(e.children()[i]));
  }
  out += ')';
}

inline std::string dump(const element& e) {
  std::string out;
  dump(out, e);
  return out;
}

// Records every callback as one line; the element trees are also kept.
class recorder : public stream_handler {
 public:
  std::vector<std::string> events;
  std::vector<element> elements;
  std::vector<stream_header> headers;
  std::vector<parse_error> errors;
  // Optional hooks run after an element/header has been recorded (e.g. to call stop()).
  std::function<void(const element&)> after_element;
  std::function<void(const stream_header&)> after_open;
  std::function<void()> after_close;

  void on_stream_open(stream_header h) override {
    events.push_back("open {" + h.ns + "}" + h.name + " default=" + h.default_ns + " " +
                     dump(h.attrs));
    headers.push_back(std::move(h));
    if (after_open) after_open(headers.back());
  }
  void on_element(element e) override {
    events.push_back("element " + dump(e));
    elements.push_back(std::move(e));
    if (after_element) after_element(elements.back());
  }
  void on_stream_close() override {
    events.push_back("close");
    if (after_close) after_close();
  }
  void on_parse_error(parse_error err, std::string_view detail) override {
    events.push_back("error " + std::string(to_string(err)) + ": " + std::string(detail));
    errors.push_back(err);
  }
};

// Feeds `input` split at the given chunk sizes (the last chunk takes the rest). Returns the
// result of the last feed().
inline bool feed_split(stream_parser& p, std::string_view input, const std::vector<size_t>& sizes) {
  bool ok = true;
  size_t pos = 0;
  for (size_t n : sizes) {
    if (pos >= input.size()) break;
    n = std::min(n, input.size() - pos);
    ok = p.feed(input.substr(pos, n));
    pos += n;
  }
  if (pos < input.size()) ok = p.feed(input.substr(pos));
  return ok;
}

inline std::vector<size_t> byte_chunks(size_t n) { return std::vector<size_t>(n, 1); }

// Random chunk sizes: mostly small (the interesting splits), sometimes large.
inline std::vector<size_t> random_chunks(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<size_t> out;
  size_t total = 0;
  while (total < n) {
    size_t k = rng() % 4 == 0 ? 1 + rng() % 200 : 1 + rng() % 7;
    out.push_back(k);
    total += k;
  }
  return out;
}

struct run_result {
  std::vector<std::string> events;
  bool ok = true;
  bool failed = false;
};

inline run_result run(std::string_view input, const std::vector<size_t>& sizes,
                      parser_limits limits = {}) {
  recorder r;
  stream_parser p(r, limits);
  run_result out;
  out.ok = feed_split(p, input, sizes);
  out.failed = p.failed();
  out.events = std::move(r.events);
  return out;
}

inline run_result run_whole(std::string_view input, parser_limits limits = {}) {
  return run(input, {input.size()}, limits);
}

}  // namespace starling::xml::testing
