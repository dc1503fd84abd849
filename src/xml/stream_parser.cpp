// RFC 6120 §4 (XML streams) and §11 (XML usage): push parser for XMPP streams on expat.
//
// How input reaches expat. Expat re-tokenizes an incomplete token from its first byte every
// time more input arrives, so a 100 KiB start tag fed one byte at a time takes ~20 s of CPU
// (CVE-2023-52425). Expat's own remedy, reparse deferral, delays callbacks until more input
// arrives, which an interactive protocol cannot accept: a stanza must be handled when its
// last byte is received. So deferral is disabled and a small scanner (token_scanner) runs
// ahead of expat instead: character data is handed to expat at once, markup only once its
// closing '>' has arrived. Expat then never re-scans a large token, callbacks fire as soon as
// the input allows, and every byte is scanned a bounded number of times. The scanner also
// evens out two places where expat's result depends on how its input was split (the first
// two bytes of a stream, and "]]>" in character data); see token_scanner::scan.
//
// Limits are enforced on the raw byte stream: expat is never given a byte beyond the current
// limit position (the stanza's first byte + max_stanza_bytes, or max_header_bytes before the
// stream header), and a byte received at that position while the stanza is still open is an
// error. Because both the scanner's boundaries and the limit positions are functions of the
// byte stream alone, the callbacks and the error reported are the same for any chunking.
#include "xml/stream_parser.hpp"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

namespace starling::xml {

std::string_view to_string(parse_error e) {
  switch (e) {
    case parse_error::not_well_formed: return "not-well-formed";
    case parse_error::restricted_xml: return "restricted-xml";
    case parse_error::unsupported_encoding: return "unsupported-encoding";
    case parse_error::stanza_too_large: return "stanza-too-large";
    case parse_error::too_deep: return "too-deep";
    case parse_error::text_at_stream_level: return "text-at-stream-level";
  }
  return "unknown";
}

namespace {

// Separates namespace URI, local name and prefix in names reported by expat. Expat (since
// 2.4.5) rejects a namespace URI containing the separator, and a newline can occur in a URI
// only through a character reference, so no URI or name can be confused.
constexpr char ns_separator = '\n';
constexpr uint64_t no_limit = UINT64_MAX;

struct qname {
  std::string_view ns;
  std::string_view local;
};

// Splits "uri\nlocal\nprefix" (or "uri\nlocal", or "local") as reported with NS triplets.
qname split_name(const char* s) {
  std::string_view v(s);
  size_t a = v.find(ns_separator);
  if (a == std::string_view::npos) return {{}, v};
  std::string_view rest = v.substr(a + 1);
  size_t b = rest.find(ns_separator);
  return {v.substr(0, a), b == std::string_view::npos ? rest : rest.substr(0, b)};
}

// XML 1.0 §2.3 S production.
bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

uint64_t sat_add(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Tracks where complete tokens end in the raw byte stream (see the file comment). It does not
// validate: expat does. For well-formed input every token end is found; for malformed input the
// scanner may hold bytes back until a later '>' or a limit, which is deterministic too.
// It also rejects, as soon as they are recognizable, the constructs that RFC 6120 §11.1
// forbids and that start with "<!" or "<?": comments, DOCTYPE and other declarations, and
// processing instructions other than the XML declaration. Catching "<!DOCTYPE" here means a
// DTD (billion laughs and other entity tricks) never reaches expat at all.
class token_scanner {
 public:
  enum class outcome { reached_end, paused, split, restricted, not_utf8 };

  void reset() { *this = token_scanner(); }

  uint64_t pos() const { return pos_; }
  bool in_token() const { return state_ != state::text; }
  uint64_t token_start() const { return tok_start_; }
  // After outcome::split: the offset of the ']' that must begin a new XML_Parse call.
  uint64_t split_at() const { return split_at_; }
  // Everything before this offset can be given to expat without splitting a markup token.
  // Expat sees nothing before the first two bytes are checked (see the scan's prologue).
  uint64_t boundary() const {
    if (pos_ < 2) return 0;
    return in_token() ? tok_start_ : pos_;
  }

  // Scans input from pos() up to `end` (absolute offsets); `base` points at offset `base_off`.
  // pause_after_tag: return after the first complete tag (the stream header must be seen by
  // expat before later limits can be computed). token_limit: if not in a token, the first token
  // that starts may extend at most this many bytes (a stanza's bound before expat has seen it).
  outcome scan(const char* base, uint64_t base_off, uint64_t end, bool pause_after_tag,
               uint64_t token_limit) {
    auto at = [&](uint64_t k) { return base[k - base_off]; };
    bool token_limit_applied = in_token() || token_limit == no_limit;
    if (pos_ < 3) {
      for (uint64_t k = pos_; k < 3 && k < end; ++k) prefix_[k] = static_cast<unsigned char>(at(k));
      // RFC 6120 §11.6: streams are UTF-8. Expat switches to UTF-16 on a UTF-16 byte order
      // mark or a NUL among the first two bytes even when UTF-8 is forced (and then decides
      // differently depending on how those bytes were split), so check them here.
      if (pos_ < 2 && end >= 2 &&
          (prefix_[0] == 0 || prefix_[1] == 0 || (prefix_[0] == 0xFE && prefix_[1] == 0xFF) ||
           (prefix_[0] == 0xFF && prefix_[1] == 0xFE)))
        return outcome::not_utf8;
    }
    uint64_t i = pos_;
    while (i < end) {
      switch (state_) {
        case state::text: {
          i = find_markup(base + (i - base_off), end - i) + i;
          if (i == end) break;
          if (at(i) == ']') {
            // Given "text]]>" in one call, expat reports a single invalid token and drops the
            // text; given the text first, it reports the text (at depth 1: text at stream
            // level). Starting each ']' in a new call makes that independent of chunking.
            split_at_ = i;
            pos_ = i + 1;
            return outcome::split;
          }
          if (!token_limit_applied) {
            token_limit_applied = true;
            uint64_t cap = sat_add(i, token_limit);
            if (cap < end) end = cap;
            if (i >= end) break;
          }
          tok_start_ = i;
          state_ = at(i) == '<' ? state::lt : state::ref;
          ++i;
          break;
        }
        case state::ref: {
          char c = at(i);
          ++i;
          if (c == ';') {
            state_ = state::text;
          } else if (!is_ref_char(c)) {
            // Not a reference after all: hand it to expat, which reports the error.
            state_ = state::text;
          }
          break;
        }
        case state::lt: {
          char c = at(i);
          if (c == '!') {
            state_ = state::bang;
            match_ = 0;
            ++i;
          } else if (c == '?') {
            // RFC 6120 §11.1: only the XML declaration, at the very start of the stream.
            if (!xml_decl_allowed()) return restricted(i);
            state_ = state::decl_open;
            match_ = 0;
            ++i;
          } else {
            state_ = state::tag;
          }
          break;
        }
        case state::tag:
          i = find_tag_delimiter(base + (i - base_off), end - i) + i;
          if (i == end) break;
          if (at(i) == '>') {
            ++i;
            state_ = state::text;
            if (pause_after_tag) {
              pos_ = i;
              return outcome::paused;
            }
          } else {
            state_ = at(i) == '\'' ? state::tag_sq : state::tag_dq;
            ++i;
          }
          break;
        case state::tag_sq:
        case state::tag_dq: {
          const char q = state_ == state::tag_sq ? '\'' : '"';
          const void* hit = std::memchr(base + (i - base_off), q, end - i);
          if (!hit) {
            i = end;
            break;
          }
          i = static_cast<uint64_t>(static_cast<const char*>(hit) - base) + base_off;
          ++i;
          state_ = state::tag;
          break;
        }
        case state::bang: {
          // "<![CDATA[" is the only "<!" construct allowed in an XMPP stream; anything else is
          // a comment or a markup declaration (RFC 6120 §11.1).
          static constexpr std::string_view cdata = "[CDATA[";
          if (at(i) != cdata[match_]) return restricted(i);
          ++i;
          if (++match_ == cdata.size()) {
            state_ = state::cdata;
            match_ = 0;
          }
          break;
        }
        case state::cdata: {
          // match_ counts consecutive ']' (capped at 2); "]]>" ends the section.
          char c = at(i);
          ++i;
          if (c == ']') {
            if (match_ < 2) ++match_;
          } else if (c == '>' && match_ == 2) {
            state_ = state::text;
          } else {
            match_ = 0;
          }
          break;
        }
        case state::decl_open: {
          static constexpr std::string_view xml = "xml";
          char c = at(i);
          if (match_ < xml.size()) {
            if (c != xml[match_]) return restricted(i);  // a processing instruction
            ++match_;
          } else {
            if (!is_xml_space(c)) return restricted(i);  // e.g. <?xml-stylesheet ...?>
            state_ = state::decl;
            match_ = 0;
          }
          ++i;
          break;
        }
        case state::decl: {
          char c = at(i);
          ++i;
          if (c == '>' && match_ == 1) state_ = state::text;
          match_ = c == '?' ? 1 : 0;
          break;
        }
      }
    }
    pos_ = i;
    return outcome::reached_end;
  }

 private:
  enum class state : uint8_t { text, ref, lt, tag, tag_sq, tag_dq, bang, cdata, decl_open, decl };

  // Offset of the first '<', '&' or ']' in p[0, n), or n. Character data is the bulk of
  // most streams, so this uses memchr.
  static uint64_t find_markup(const char* p, uint64_t n) {
    for (char c : {'<', '&', ']'})
      if (const void* hit = std::memchr(p, c, n))
        n = static_cast<uint64_t>(static_cast<const char*>(hit) - p);
    return n;
  }
  // Offset of the first '>', '\'' or '"' in p[0, n), or n.
  static uint64_t find_tag_delimiter(const char* p, uint64_t n) {
    for (uint64_t k = 0; k < n; ++k)
      if (p[k] == '>' || p[k] == '\'' || p[k] == '"') return k;
    return n;
  }

  static bool is_ref_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
           u == '#' || u == '_' || u == ':' || u == '-' || u == '.' || u >= 0x80;
  }
  // XML 1.0 §2.8: the declaration may only be the first thing (after a UTF-8 byte order mark).
  bool xml_decl_allowed() const {
    return tok_start_ == 0 ||
           (tok_start_ == 3 && prefix_[0] == 0xEF && prefix_[1] == 0xBB && prefix_[2] == 0xBF);
  }
  outcome restricted(uint64_t at) {
    pos_ = at;
    return outcome::restricted;
  }

  uint64_t pos_ = 0;
  uint64_t tok_start_ = 0;
  uint64_t split_at_ = 0;
  state state_ = state::text;
  uint8_t match_ = 0;
  unsigned char prefix_[3] = {};  // the stream's first bytes
};

}  // namespace

struct stream_parser::impl {
  impl(stream_handler& h, parser_limits l) : handler(h), limits(l) {
    // A zero-byte stanza limit would stop the scanner before a token's first byte without
    // ever reaching the limit check; one byte rejects every stanza all the same.
    limits.max_stanza_bytes = std::max<size_t>(limits.max_stanza_bytes, 1);
    create_parser();
  }
  ~impl() { XML_ParserFree(parser); }  // null (hibernated) is allowed

  // ---- state ----------------------------------------------------------------------------
  stream_handler& handler;
  parser_limits limits;
  XML_Parser parser = nullptr;  // null while hibernated
  token_scanner scanner;

  uint64_t total = 0;       // bytes received since the last reset
  uint64_t fed = 0;         // bytes given to expat
  std::string held;         // received bytes [fed, total) when not inside feed()
  uint64_t base = 0;        // offset of the current feed()'s first byte
  std::string_view input;   // the current feed()'s bytes

  size_t depth = 0;         // open elements, root = 1
  bool header_open = false;
  uint64_t stanza_start = 0;  // offset of the open depth-2 element's '<'
  std::string root_default_ns;
  // The stream header as expat needs it to resume after hibernate(): "<prefix:name" plus the
  // namespace declarations of the root, in document order, closed with ">". Built while the
  // header is parsed; empty when it is one of the common headers in `known_roots`.
  std::string root_start;
  std::string_view root_known;  // points into known_roots when root_start is not needed
  bool replaying = false;       // the synthetic header of a resume is being parsed
  int64_t index_shift = 0;      // absolute offset = expat's byte index + index_shift
  char last_fed = 0;            // last byte given to expat
  element stanza;
  std::vector<element*> stack;  // open elements of `stanza`, innermost last

  bool in_parse = false;    // inside XML_Parse (callbacks may run)
  bool halted = false;      // expat was told to stop; ignore any further expat callbacks
  bool closed = false;      // </stream:stream> seen
  bool stopped = false;     // stop() was called
  bool reset_requested = false;
  bool failed = false;
  uint64_t stop_pos = 0;
  std::string unparsed;
  bool error_pending = false;
  parse_error error_kind = parse_error::not_well_formed;
  std::string error_detail;
  std::exception_ptr exception;

  // ---- setup ----------------------------------------------------------------------------
  void create_parser() {
    parser = XML_ParserCreateNS("UTF-8", ns_separator);
    if (!parser) throw std::bad_alloc();
    XML_SetReturnNSTriplet(parser, XML_TRUE);
    install();
  }

  void install() {
    XML_SetUserData(parser, this);
    // Deferral would delay callbacks until more input arrives; see the file comment.
    XML_SetReparseDeferralEnabled(parser, XML_FALSE);
    XML_SetElementHandler(parser, &impl::start_cb, &impl::end_cb);
    XML_SetCharacterDataHandler(parser, &impl::text_cb);
    XML_SetStartNamespaceDeclHandler(parser, &impl::ns_decl_cb);
    XML_SetXmlDeclHandler(parser, &impl::xml_decl_cb);
    // The scanner rejects these before expat sees them; kept so that restricted XML can never
    // be accepted should the two ever disagree (RFC 6120 §11.1).
    XML_SetStartDoctypeDeclHandler(parser, &impl::doctype_cb);
    XML_SetEntityDeclHandler(parser, &impl::entity_decl_cb);
    XML_SetProcessingInstructionHandler(parser, &impl::pi_cb);
    XML_SetCommentHandler(parser, &impl::comment_cb);
    XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
  }

  void do_reset() {
    if (parser) {
      XML_ParserReset(parser, "UTF-8");  // keeps the namespace separator and triplet setting
      install();
    } else {
      create_parser();
    }
    scanner.reset();
    total = fed = base = 0;
    held.clear();
    input = {};
    depth = 0;
    header_open = false;
    stanza_start = 0;
    root_default_ns.clear();
    root_start.clear();
    root_known = {};
    index_shift = 0;
    last_fed = 0;
    stanza = element();
    stack.clear();
    halted = closed = stopped = reset_requested = failed = error_pending = false;
    stop_pos = 0;
    error_detail.clear();
    exception = nullptr;
    // `unparsed` survives: it holds the bytes to feed to the restarted stream.
  }

  // ---- feeding --------------------------------------------------------------------------
  bool feed(std::string_view data) {
    if (in_parse) throw std::logic_error("stream_parser::feed called from a handler callback");
    if (failed) return false;
    if (stopped) {
      unparsed.append(data);
      return true;
    }
    if (closed || data.empty()) return true;
    if (total == 0) {
      // Whitespace keepalives (RFC 6120 §4.6.1) may arrive between a stream restart and the
      // new stream's prolog, where XML forbids anything before the declaration: skip them.
      size_t first = data.find_first_not_of(" \t\r\n");
      if (first == std::string_view::npos) return true;
      data.remove_prefix(first);
    }
    base = total;
    total += data.size();
    input = data;
    bool ok = run();
    input = {};
    return ok;
  }

  // Position up to which the scanner may run, given what expat has reported so far.
  uint64_t limit_pos(bool& pause, uint64_t& token_limit) const {
    pause = false;
    token_limit = no_limit;
    if (!header_open) {
      pause = true;
      return limits.max_header_bytes;
    }
    if (depth >= 2) return sat_add(stanza_start, limits.max_stanza_bytes);
    if (scanner.in_token()) return sat_add(scanner.token_start(), limits.max_stanza_bytes);
    token_limit = limits.max_stanza_bytes;
    return no_limit;
  }

  bool run() {
    for (;;) {
      token_scanner::outcome how = token_scanner::outcome::reached_end;
      if (scanner.pos() < total) {
        bool pause;
        uint64_t token_limit;
        uint64_t end = std::min(total, limit_pos(pause, token_limit));
        if (scanner.pos() < end)
          how = scanner.scan(input.data(), base, end, pause, token_limit);
      }
      // A restricted construct: first let expat judge everything before it, so that an
      // earlier error or the end of the stream takes precedence, as it would byte by byte.
      uint64_t upto = how == token_scanner::outcome::restricted ? scanner.token_start()
                      : how == token_scanner::outcome::split
                          ? std::min(scanner.split_at(), scanner.boundary())
                          : scanner.boundary();
      give_to_expat(upto);
      if (halted) return after_halt();
      if (how == token_scanner::outcome::not_utf8) {
        fail(parse_error::unsupported_encoding, "stream is not UTF-8 (RFC 6120 §11.6)");
        return report();
      }
      if (how == token_scanner::outcome::restricted) {
        fail(parse_error::restricted_xml,
             "comments, processing instructions and DTDs are not allowed (RFC 6120 §11.1)");
        return report();
      }
      if (how == token_scanner::outcome::paused || how == token_scanner::outcome::split) continue;
      if (scanner.pos() == total) break;
      bool pause;
      uint64_t token_limit;
      if (limit_pos(pause, token_limit) > scanner.pos()) continue;  // e.g. the stanza closed
      fail(parse_error::stanza_too_large,
           header_open ? "stanza exceeds the size limit" : "stream header exceeds the size limit");
      return report();
    }
    // Keep the incomplete token for the next feed().
    if (fed >= base) {
      held.assign(input.substr(fed - base));
    } else {
      held.erase(0, held.size() - (base - fed));
      held.append(input);
    }
    return true;
  }

  // Gives expat the received bytes [fed, upto): first any held bytes, then the current input.
  void give_to_expat(uint64_t upto) {
    if (upto <= fed) return;
    if (fed < base) {
      const uint64_t held_start = base - held.size();
      const uint64_t held_end = std::min(upto, base);
      parse(held.data() + (fed - held_start), held_end - fed);
      if (halted) return;
      fed = held_end;
    }
    if (upto > fed) {
      parse(input.data() + (fed - base), upto - fed);
      if (halted) return;
      fed = upto;
    }
  }

  void parse(const char* p, uint64_t n) {
    if (n == 0) return;
    if (!parser) resume();
    last_fed = p[n - 1];
    while (n > 0) {
      const int len = static_cast<int>(std::min<uint64_t>(n, INT_MAX / 2));
      in_parse = true;
      const XML_Status status = XML_Parse(parser, p, len, XML_FALSE);
      in_parse = false;
      if (exception) {
        failed = true;
        halted = true;
        std::rethrow_exception(std::exchange(exception, nullptr));
      }
      if (halted) return;
      if (status != XML_STATUS_OK) {
        fail(parse_error::not_well_formed, XML_ErrorString(XML_GetErrorCode(parser)));
        return;
      }
      p += len;
      n -= static_cast<uint64_t>(len);
    }
  }

  // expat stopped because of an error, stop(), reset() from a callback or the stream's end.
  bool after_halt() {
    if (error_pending) return report();
    if (stopped || reset_requested) {
      // The bytes after the stop point, held from earlier feeds and/or in the current input.
      const uint64_t held_start = base - held.size();
      unparsed.clear();
      if (stop_pos < base) unparsed.append(held, std::max(stop_pos, held_start) - held_start);
      if (stop_pos < total) unparsed.append(input.substr(std::max(stop_pos, base) - base));
      held.clear();
      if (reset_requested) {
        std::string keep = std::move(unparsed);
        do_reset();
        unparsed = std::move(keep);
      }
      return true;
    }
    held.clear();
    return true;  // closed: whatever follows </stream:stream> is ignored
  }

  bool report() {
    failed = true;
    error_pending = false;
    held.clear();
    handler.on_parse_error(error_kind, error_detail);
    return false;
  }

  // Records an error and makes expat stop at the current event.
  void fail(parse_error kind, std::string_view detail) {
    if (error_pending) return;
    error_pending = true;
    error_kind = kind;
    error_detail.assign(detail);
    halt();
  }

  void halt() {
    halted = true;
    if (in_parse) XML_StopParser(parser, XML_FALSE);
  }

  // Offset in the received byte stream of the current expat event's first byte.
  uint64_t event_start() const {
    return static_cast<uint64_t>(static_cast<int64_t>(XML_GetCurrentByteIndex(parser)) + index_shift);
  }
  uint64_t event_end() const {
    return event_start() + static_cast<uint64_t>(XML_GetCurrentByteCount(parser));
  }

  // ---- hibernation ----------------------------------------------------------------------
  // Between stanzas the only state expat holds that matters is the open root element and its
  // namespace declarations (RFC 6120 §4.8: stanzas inherit the stream's default namespace and
  // prefixes). Everything else (buffers, name pools, hash tables) is a few KiB per stream that
  // an idle stream does not need. So an idle parser frees expat, and the next input first
  // gives a new expat instance a copy of the root start tag, without reporting it.
  bool hibernate() {
    if (!parser) return true;
    if (in_parse || failed || error_pending || stopped || reset_requested || closed || halted)
      return false;
    // At stream level with nothing partial: the scanner is between tokens and expat has every
    // received byte. Expat may still hold the bytes of an incomplete character; at depth 1
    // that can only be text, which is legal only as whitespace, so require the last byte fed
    // to be a tag end or whitespace (a held trailing CR is whitespace: dropping it changes
    // nothing that is reported).
    if (!header_open || depth != 1 || scanner.in_token() || scanner.pos() != total ||
        fed != total || !held.empty())
      return false;
    if (last_fed != '>' && !is_xml_space(last_fed)) return false;
    if (root_start.empty() && root_known.empty()) return false;
    XML_ParserFree(parser);
    parser = nullptr;
    stanza = element();
    std::vector<element*>().swap(stack);
    std::string().swap(held);
    std::string().swap(error_detail);
    if (unparsed.empty()) std::string().swap(unparsed);
    return true;
  }

  void resume() {
    create_parser();
    const std::string_view start = root_known.empty() ? std::string_view(root_start) : root_known;
    depth = 0;
    replaying = true;
    const XML_Status st = XML_Parse(parser, start.data(), static_cast<int>(start.size()), XML_FALSE);
    replaying = false;
    if (st != XML_STATUS_OK || depth != 1 || halted)
      throw std::logic_error("stream_parser: could not resume a hibernated stream");
    index_shift = static_cast<int64_t>(fed) - static_cast<int64_t>(start.size());
  }

  // Appends ` xmlns[:prefix]='uri'` with the URI escaped so that it reads back unchanged
  // (XML 1.0 §3.3.3 would turn literal whitespace into spaces).
  void add_root_decl(const char* prefix, const char* uri) {
    root_start += prefix ? " xmlns:" : " xmlns";
    if (prefix) root_start += prefix;
    root_start += "='";
    for (const char* c = uri ? uri : ""; *c; ++c) {
      switch (*c) {
        case '&': root_start += "&amp;"; break;
        case '<': root_start += "&lt;"; break;
        case '\'': root_start += "&apos;"; break;
        case '\t': root_start += "&#9;"; break;
        case '\n': root_start += "&#10;"; break;
        case '\r': root_start += "&#13;"; break;
        default: root_start += *c;
      }
    }
    root_start += '\'';
  }

  // Completes root_start with the root's qualified name; the declarations were collected
  // before (expat reports them ahead of the start tag).
  void finish_root_start(const char* name) {
    std::string_view v(name);
    std::string qn;
    const size_t a = v.find(ns_separator);
    if (a != std::string_view::npos) {
      std::string_view rest = v.substr(a + 1);
      const size_t b = rest.find(ns_separator);
      if (b != std::string_view::npos) {
        qn.assign(rest.substr(b + 1));
        qn += ':';
        qn += rest.substr(0, b);
      } else {
        qn.assign(rest);
      }
    } else {
      qn.assign(v);
    }
    root_start.insert(0, "<" + qn);
    root_start += '>';
    // The usual headers need no copy per stream.
    for (std::string_view k : known_roots)
      if (root_start == k) {
        root_known = k;
        std::string().swap(root_start);
        break;
      }
  }

  static constexpr std::string_view known_roots[] = {
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
      "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>",
      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>",
      "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server'>",
      "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:db='jabber:server:dialback'>",
      "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
      "xmlns:db='jabber:server:dialback'>",
  };

  void stop() {
    if (failed || error_pending || stopped || reset_requested) return;
    stopped = true;
    if (in_parse) {
      stop_pos = event_end();  // just after the element whose callback is running
      halt();
    } else {
      // Between feeds: the held partial token has not been parsed yet.
      stop_pos = fed;
      unparsed = std::move(held);
      held.clear();
    }
  }

  void reset() {
    if (!in_parse) {
      do_reset();
      return;
    }
    // XML_ParserReset cannot run inside expat: stop here and reset once XML_Parse returns;
    // the bytes after this point are kept for take_unparsed().
    if (error_pending) return;
    if (!stopped && !reset_requested) stop_pos = event_end();
    reset_requested = true;
    halt();
  }

  // ---- expat callbacks ------------------------------------------------------------------
  template <typename F>
  void guarded(F&& f) {
    if (halted) return;  // expat may still deliver an event after XML_StopParser
    try {
      f();
    } catch (...) {
      exception = std::current_exception();
      halt();
    }
  }

  static void add_attributes(std::vector<attribute>& out, const char** atts) {
    size_t n = 0;
    while (atts[n]) n += 2;
    out.reserve(n / 2);
    for (size_t i = 0; atts[i]; i += 2) {
      qname q = split_name(atts[i]);
      out.push_back({std::string(q.ns), std::string(q.local), std::string(atts[i + 1])});
    }
  }

  void on_start(const char* name, const char** atts) {
    const size_t d = depth + 1;
    if (d > limits.max_depth) {
      fail(parse_error::too_deep, "element nesting exceeds the depth limit");
      return;
    }
    const qname q = split_name(name);
    if (replaying) {
      depth = 1;  // the copy of the root start tag given to a resumed expat (hibernate())
      return;
    }
    if (d == 1) {
      finish_root_start(name);
      stream_header h;
      h.name.assign(q.local);
      h.ns.assign(q.ns);
      h.default_ns = std::move(root_default_ns);
      h.attrs = element(h.name, h.ns);
      add_attributes(h.attrs.attributes(), atts);
      depth = 1;
      header_open = true;
      handler.on_stream_open(std::move(h));
      return;
    }
    element* e;
    if (d == 2) {
      stanza = element(std::string(q.local), std::string(q.ns));
      stanza_start = event_start();
      stack.clear();
      e = &stanza;
    } else {
      e = &stack.back()->add(std::string(q.local), std::string(q.ns));
    }
    add_attributes(e->attributes(), atts);
    stack.push_back(e);
    depth = d;
  }

  void on_end() {
    if (depth == 1) {
      depth = 0;
      closed = true;
      halt();  // RFC 6120 §4.4: nothing after the closing tag belongs to this stream
      handler.on_stream_close();
      return;
    }
    stack.pop_back();
    if (--depth == 1) handler.on_element(std::move(stanza));
  }

  void on_text(const char* s, int len) {
    if (depth >= 2) {
      stack.back()->add_text(std::string_view(s, static_cast<size_t>(len)));
      return;
    }
    // RFC 6120 §4.6.1: whitespace between stanzas is a keepalive; other text is bad-format.
    for (int i = 0; i < len; ++i)
      if (!is_xml_space(s[i])) {
        fail(parse_error::text_at_stream_level, "character data between stanzas");
        return;
      }
  }

  static impl& self(void* ud) { return *static_cast<impl*>(ud); }

  static void start_cb(void* ud, const XML_Char* name, const XML_Char** atts) {
    impl& s = self(ud);
    s.guarded([&] { s.on_start(name, atts); });
  }
  static void end_cb(void* ud, const XML_Char*) {
    impl& s = self(ud);
    s.guarded([&] { s.on_end(); });
  }
  static void text_cb(void* ud, const XML_Char* t, int len) {
    impl& s = self(ud);
    s.guarded([&] { s.on_text(t, len); });
  }
  static void ns_decl_cb(void* ud, const XML_Char* prefix, const XML_Char* uri) {
    impl& s = self(ud);
    s.guarded([&] {
      if (s.depth != 0 || s.replaying) return;
      if (!prefix) s.root_default_ns.assign(uri ? uri : "");
      s.add_root_decl(prefix, uri);
    });
  }
  static void xml_decl_cb(void* ud, const XML_Char*, const XML_Char* encoding, int) {
    impl& s = self(ud);
    s.guarded([&] {
      // RFC 6120 §11.6: streams are UTF-8; the parser was created with UTF-8 forced.
      if (encoding && !iequals_ascii(encoding, "UTF-8"))
        s.fail(parse_error::unsupported_encoding, std::string("declared encoding ") + encoding);
    });
  }
  static void restricted(void* ud, const char* what) {
    impl& s = self(ud);
    s.guarded([&] { s.fail(parse_error::restricted_xml, what); });
  }
  static void doctype_cb(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    restricted(ud, "DTD not allowed (RFC 6120 §11.1)");
  }
  static void entity_decl_cb(void* ud, const XML_Char*, int, const XML_Char*, int,
                             const XML_Char*, const XML_Char*, const XML_Char*,
                             const XML_Char*) {
    restricted(ud, "entity declaration not allowed (RFC 6120 §11.1)");
  }
  static void pi_cb(void* ud, const XML_Char*, const XML_Char*) {
    restricted(ud, "processing instruction not allowed (RFC 6120 §11.1)");
  }
  static void comment_cb(void* ud, const XML_Char*) {
    restricted(ud, "comment not allowed (RFC 6120 §11.1)");
  }
};

stream_parser::stream_parser(stream_handler& handler, parser_limits limits)
    : impl_(std::make_unique<impl>(handler, limits)) {}

stream_parser::~stream_parser() = default;

bool stream_parser::feed(std::string_view data) { return impl_->feed(data); }

void stream_parser::stop() { impl_->stop(); }

std::string stream_parser::take_unparsed() { return std::exchange(impl_->unparsed, {}); }

void stream_parser::reset() { impl_->reset(); }

bool stream_parser::hibernate() { return impl_->hibernate(); }

bool stream_parser::hibernated() const { return impl_->parser == nullptr; }

bool stream_parser::failed() const { return impl_->failed; }

}  // namespace starling::xml
