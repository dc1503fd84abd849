// libFuzzer target for the XML stream parser and writer.
//
// Input layout: byte 0 selects the limits (small ones, so that limit handling is reached),
// byte 1 seeds the chunking, the rest is the stream. Checks, aborting on violation:
//  1. the events (callbacks with their full content) are identical whether the stream is fed
//     whole, in pseudo-random chunks or byte by byte;
//  2. every element reported serializes (writer) and parses back to an equal element;
//  3. stop() in a callback leaves exactly the bytes after that element for take_unparsed(),
//     and the bytes before it parse to the same events;
//  4. hibernate() between chunks (wherever it is accepted) changes no event: the resumed
//     parser reports the same elements, errors and limits as one that never hibernated.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "xml/stream_parser.hpp"
#include "xml/test_util.hpp"
#include "xml/writer.hpp"

namespace {

using namespace starling::xml;
using starling::xml::testing::recorder;

[[noreturn]] void fail(const char* what, const std::string& a = {}, const std::string& b = {}) {
  std::fprintf(stderr, "stream_parser_fuzz: %s\n--- a:\n%s\n--- b:\n%s\n", what, a.c_str(),
               b.c_str());
  std::abort();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

std::vector<size_t> chunk_sizes(size_t n, uint32_t seed) {
  std::vector<size_t> out;
  uint32_t x = seed * 2654435761u + 1;
  for (size_t total = 0; total < n;) {
    x = x * 1103515245u + 12345u;
    size_t k = (x >> 16) % 8 == 0 ? 1 + (x >> 8) % 300 : 1 + (x >> 20) % 6;
    out.push_back(k);
    total += k;
  }
  return out;
}

struct outcome {
  std::vector<std::string> events;
  std::vector<element> elements;
  std::vector<stream_header> headers;
};

outcome run(std::string_view input, const std::vector<size_t>& sizes, parser_limits limits,
            bool hibernate = false) {
  recorder r;
  stream_parser p(r, limits);
  bool ok = true;
  if (!hibernate) {
    ok = starling::xml::testing::feed_split(p, input, sizes);
  } else {
    size_t pos = 0;
    for (size_t i = 0; pos < input.size(); ++i) {
      size_t n = i < sizes.size() ? std::min(sizes[i], input.size() - pos) : input.size() - pos;
      ok = p.feed(input.substr(pos, n));
      pos += n;
      if (p.hibernate() != p.hibernated()) fail("hibernate() result disagrees with hibernated()");
    }
  }
  if (ok == p.failed()) fail("feed() result disagrees with failed()");
  return {std::move(r.events), std::move(r.elements), std::move(r.headers)};
}

void check_round_trip(const element& e, const std::string& default_ns) {
  std::string doc;
  serialize_stream_open(doc, element(), default_ns);
  const std::string body = to_string(e, default_ns);
  doc += body;
  doc += stream_close_tag;
  parser_limits big;
  big.max_depth = 1 << 20;
  big.max_stanza_bytes = SIZE_MAX;
  big.max_header_bytes = SIZE_MAX;
  recorder r;
  stream_parser p(r, big);
  if (!p.feed(doc)) fail("serialized element does not parse", body, join(r.events));
  if (r.elements.size() != 1 || !(r.elements[0] == e))
    fail("round trip changed the element", starling::xml::testing::dump(e),
         r.elements.empty() ? std::string() : starling::xml::testing::dump(r.elements[0]));
}

void check_stop(std::string_view input, parser_limits limits, const outcome& whole,
                size_t stop_at) {
  recorder r;
  stream_parser p(r, limits);
  size_t seen = 0;
  r.after_element = [&](const element&) {
    if (++seen == stop_at) p.stop();
  };
  p.feed(input);
  if (seen != stop_at) fail("stop() did not stop parsing");
  std::string rest = p.take_unparsed();
  if (rest.size() > input.size() || input.substr(input.size() - rest.size()) != rest)
    fail("unparsed bytes are not a suffix of the input", std::string(input), rest);
  // The consumed prefix ends exactly after the element: on its own it gives the same events.
  auto prefix = run(input.substr(0, input.size() - rest.size()), {SIZE_MAX}, limits);
  if (prefix.events != r.events) fail("prefix before stop point differs", join(prefix.events),
                                      join(r.events));
  for (size_t i = 0; i < r.events.size(); ++i)
    if (r.events[i] != whole.events[i]) fail("stopped run differs from whole run");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t cfg = data[0];
  const uint8_t seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  parser_limits limits;
  if (cfg & 1) {
    limits.max_stanza_bytes = 16 + (cfg >> 1) * 4;
    limits.max_depth = 2 + (cfg >> 5);
    limits.max_header_bytes = 32 + (cfg >> 2) * 8;
  }

  outcome whole = run(input, {input.size()}, limits);
  outcome chunked = run(input, chunk_sizes(input.size(), seed), limits);
  if (chunked.events != whole.events)
    fail("chunked run differs from whole run", join(whole.events), join(chunked.events));
  outcome hibernating = run(input, chunk_sizes(input.size(), seed ^ 0x5a), limits, true);
  if (hibernating.events != whole.events)
    fail("run with hibernate() differs from whole run", join(whole.events), join(hibernating.events));
  if (input.size() <= 2048) {
    outcome bytes = run(input, std::vector<size_t>(input.size(), 1), limits);
    if (bytes.events != whole.events)
      fail("byte-by-byte run differs from whole run", join(whole.events), join(bytes.events));
  }

  const std::string default_ns = whole.headers.empty() ? std::string() : whole.headers[0].default_ns;
  for (const element& e : whole.elements) check_round_trip(e, default_ns);
  if (!whole.elements.empty()) check_stop(input, limits, whole, 1 + seed % whole.elements.size());
  return 0;
}
