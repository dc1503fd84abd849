#pragma once
// Push parser for XML streams (RFC 6120 §4, §11) on expat with namespace processing.
// Accepts input in any chunking; emits the stream header, each complete top-level element
// (stanza, nonza), and the stream close.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling::xml {

// Why parsing stopped; the c2s/s2s layer maps each to its stream error condition.
enum class parse_error {
  not_well_formed,       // <not-well-formed/> (RFC 6120 §4.9.3.13)
  restricted_xml,        // DTD, entity declaration, PI, comment (RFC 6120 §11.1) -> <restricted-xml/>
  unsupported_encoding,  // not UTF-8 (declared, UTF-16 BOM or NUL bytes) -> <unsupported-encoding/>
  stanza_too_large,      // a top-level element exceeded limits.max_stanza_bytes -> <policy-violation/>
  too_deep,              // nesting beyond limits.max_depth -> <policy-violation/>
  text_at_stream_level,  // non-whitespace character data between stanzas -> <bad-format/>
};
std::string_view to_string(parse_error e);

struct parser_limits {
  size_t max_stanza_bytes = 256 * 1024;  // bytes of input from a stanza's '<' to its end
                                         // (also bounds markup pending between stanzas)
  size_t max_depth = 32;                 // element depth counted from the stream root (root = 1)
  size_t max_header_bytes = 8 * 1024;    // bytes before the stream header is complete
};

// Stream header as received: the root element's qualified name and attributes.
struct stream_header {
  std::string name;        // local name (expected "stream")
  std::string ns;          // namespace of the root (expected ns_streams)
  std::string default_ns;  // default namespace declared on the root ("jabber:client"...), may be empty
  element attrs;           // attributes of the root (to, from, version, xml:lang, id)
};

class stream_handler {
 public:
  virtual ~stream_handler() = default;
  virtual void on_stream_open(stream_header header) = 0;
  // A complete depth-2 element, namespace-qualified. Whitespace between stanzas is not reported.
  virtual void on_element(element el) = 0;
  // </stream:stream> was received.
  virtual void on_stream_close() = 0;
  // Parsing failed; no further callbacks follow until reset().
  virtual void on_parse_error(parse_error err, std::string_view detail) = 0;
};

class stream_parser {
 public:
  stream_parser(stream_handler& handler, parser_limits limits = {});
  ~stream_parser();
  stream_parser(const stream_parser&) = delete;
  stream_parser& operator=(const stream_parser&) = delete;

  // Feeds bytes. Callbacks run synchronously from inside feed(). Returns false once an error
  // was reported (further input is ignored until reset()). The callbacks and the error are the
  // same however the input is split into feed() calls; a stanza is reported by the feed() that
  // delivers its last byte. An error inside markup that is still incomplete (a tag without its
  // '>') is reported once that markup is complete or a size limit is reached.
  // From a callback the handler may call stop() or reset(), but must not call feed() (throws
  // std::logic_error) or destroy the parser. An exception thrown by a callback propagates out
  // of feed(); the parser is then failed (without on_parse_error) until reset().
  // After on_stream_close() the rest of the input is ignored (RFC 6120 §4.4).
  bool feed(std::string_view data);
  // Makes the current feed() return after the current callback; unparsed input is kept and
  // returned by take_unparsed() (bytes the peer pipelined after e.g. <starttls/>). Called
  // between feeds, it keeps the bytes of an incomplete token not yet parsed. Until reset(),
  // later feed() calls only append to the unparsed bytes and return true.
  void stop();
  std::string take_unparsed();
  // Fresh parser state for a stream restart (RFC 6120 §4.3.3). Bytes kept by stop() stay
  // available to take_unparsed(). Called from a callback, it acts like stop() followed by a
  // reset once the callback returns, so the restarted stream begins with take_unparsed().
  void reset();
  bool failed() const;

  // Idle streams: frees the expat instance and the buffers of a stream that is between
  // stanzas (root open, nothing partial received, no error, not stopped or closed) and returns
  // true; otherwise changes nothing and returns false. The next feed() that brings bytes
  // recreates expat with the root's namespace declarations, so callbacks, errors, limits and
  // offsets are exactly those of a parser that never hibernated. Not from a callback.
  bool hibernate();
  bool hibernated() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace starling::xml
