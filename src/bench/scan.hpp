#pragma once
// A minimal XML stream splitter for the load generator. The generator only needs to know where
// each top-level element of the server's stream ends and to read a few attributes or texts out
// of it (an id, a type, a <jid/>), so it does not build a DOM: that was most of the client's
// per-message CPU. It trusts the server to send well-formed XML (a server that does not is
// reported by the error path of whichever check then fails) and understands what servers
// actually put on the wire: the XML declaration, the stream header, start/end/empty tags with
// quoted attribute values (which may contain '>'), character data, CDATA sections, comments
// and processing instructions inside stanzas, and </stream:stream>.
#include <cstddef>
#include <string>
#include <string_view>

namespace starling::bench {

class stream_splitter {
 public:
  enum class kind { header, element, close };
  struct event {
    kind what;
    std::string_view raw;  // the whole element (or the header's start tag); valid in the callback
  };

  // Feeds bytes and calls on(event) for each complete top-level item, in order. Returns false if
  // the input cannot be XML (a '<' followed by nothing usable, an unbalanced end tag): the
  // caller reports a parse error. An incomplete element is kept (copied) until its end arrives;
  // when everything was consumed no bytes are held, so idle connections keep no buffer.
  template <class F>
  bool feed(std::string_view data, F&& on) {
    if (!pending_.empty()) {
      pending_.append(data);
      std::string work;
      work.swap(pending_);
      size_t used = 0;
      bool ok = scan(work, used, on);
      if (ok && used < work.size()) pending_.assign(work, used);
      return ok;
    }
    size_t used = 0;
    bool ok = scan(data, used, on);
    if (ok && used < data.size()) pending_.assign(data.substr(used));
    return ok;
  }

  // New stream (after STARTTLS / SASL success): drop any partial input.
  void reset() {
    pending_.clear();
    pending_.shrink_to_fit();
    in_stream_ = false;
    closed_ = false;
  }
  bool closed() const { return closed_; }

 private:
  // Length of the complete top-level item starting at s[0] == '<', 0 if incomplete, npos if
  // malformed. is_header: the stream header (a start tag left open); is_close: its end tag.
  static size_t item_length(std::string_view s, bool header_allowed, bool& is_header,
                            bool& is_close);

  template <class F>
  bool scan(std::string_view s, size_t& used, F& on) {
    size_t p = 0;
    while (p < s.size()) {
      if (closed_) {
        used = s.size();
        return true;
      }
      size_t lt = s.find('<', p);
      if (lt == std::string_view::npos) {
        p = s.size();  // whitespace (or keepalive) between stanzas
        break;
      }
      p = lt;
      bool is_header = false, is_close = false;
      size_t n = item_length(s.substr(p), !in_stream_, is_header, is_close);
      if (n == std::string_view::npos) return false;
      if (n == 0) break;  // incomplete
      std::string_view raw = s.substr(p, n);
      p += n;
      if (is_header) {
        in_stream_ = true;
        on(event{kind::header, raw});
      } else if (is_close) {
        closed_ = true;
        on(event{kind::close, raw});
      } else if (!raw.starts_with("<?")) {
        on(event{kind::element, raw});
      }
    }
    used = p;
    return true;
  }

  std::string pending_;
  bool in_stream_ = false;
  bool closed_ = false;
};

// Helpers on one raw element as handed out by stream_splitter.
namespace raw {
// Local name of the root element ("message" for "<message ...>", "features" for
// "<stream:features>").
std::string_view name(std::string_view el);
// Value of an unprefixed attribute of the root start tag, entities decoded (empty if absent).
std::string attr(std::string_view el, std::string_view name);
// Same without decoding (for ids the generator wrote itself); npos-free: empty if absent.
std::string_view attr_raw(std::string_view el, std::string_view name);
// Character data of the first element with this local name (the root itself when it matches),
// entities decoded; empty if absent or empty.
std::string text_of(std::string_view el, std::string_view name);
// True if a start tag with this local name occurs anywhere in el.
bool has_child(std::string_view el, std::string_view name);
// Local name of the first child element of the root ("not-authorized" in a SASL failure).
std::string_view first_child(std::string_view el);
// Number of start tags with this local name in el.
size_t count(std::string_view el, std::string_view name);
// Decodes the five predefined entities and numeric character references.
std::string unescape(std::string_view s);
}  // namespace raw

}  // namespace starling::bench
