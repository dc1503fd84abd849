#include "bench/scan.hpp"

#include <charconv>

namespace starling::bench {

namespace {

constexpr size_t npos = std::string_view::npos;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// End of the tag that starts at s[i] == '<' (index of its '>'), skipping quoted attribute
// values; npos if the tag is incomplete.
size_t tag_end(std::string_view s, size_t i) {
  char quote = 0;
  for (size_t k = i + 1; k < s.size(); ++k) {
    char c = s[k];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '>') {
      return k;
    }
  }
  return npos;
}

// Qualified name of the tag at s[i] == '<' (after an optional '/').
std::string_view tag_qname(std::string_view s, size_t i) {
  size_t b = i + 1;
  if (b < s.size() && s[b] == '/') ++b;
  size_t e = b;
  while (e < s.size() && !is_space(s[e]) && s[e] != '>' && s[e] != '/') ++e;
  return s.substr(b, e - b);
}

std::string_view local(std::string_view qname) {
  size_t colon = qname.rfind(':');
  return colon == npos ? qname : qname.substr(colon + 1);
}

// Skips a comment, CDATA section or PI at s[i]; returns the index after it (> i), 0 if
// incomplete, or npos if s[i] starts none of them.
size_t skip_special(std::string_view s, size_t i) {
  std::string_view rest = s.substr(i);
  auto past = [&](std::string_view open, std::string_view close) -> size_t {
    size_t e = s.find(close, i + open.size());
    return e == npos ? 0 : e + close.size();
  };
  if (rest.starts_with("<!--")) return past("<!--", "-->");
  if (rest.starts_with("<![CDATA[")) return past("<![CDATA[", "]]>");
  if (rest.starts_with("<?")) return past("<?", "?>");
  if (rest.size() < 9 && (std::string_view("<![CDATA[").starts_with(rest) ||
                          std::string_view("<!--").starts_with(rest)))
    return 0;  // too short to tell yet
  return npos;
}

}  // namespace

size_t stream_splitter::item_length(std::string_view s, bool header_allowed, bool& is_header,
                                    bool& is_close) {
  if (s.size() < 2) return 0;
  if (s[1] == '?' || s[1] == '!') {
    return skip_special(s, 0);  // 0: incomplete, npos: "<!DOCTYPE" and the like
  }
  if (s[1] == '/') {
    // An end tag at stream level can only close the stream (RFC 6120 §4.4).
    size_t e = tag_end(s, 0);
    if (e == npos) return 0;
    if (local(tag_qname(s, 0)) != "stream") return npos;
    is_close = true;
    return e + 1;
  }
  size_t depth = 0;
  size_t i = 0;
  for (;;) {
    // s[i] == '<'
    if (s.size() - i < 2) return 0;
    if (s[i + 1] == '!' || s[i + 1] == '?') {
      size_t e = skip_special(s, i);
      if (e == 0) return 0;
      if (e == npos) return npos;  // "<!DOCTYPE" and the like: not in XMPP (RFC 6120 §11.1)
      i = e;
    } else if (s[i + 1] == '/') {
      size_t e = tag_end(s, i);
      if (e == npos) return 0;
      if (depth == 0) return npos;
      if (--depth == 0) return e + 1;
      i = e + 1;
    } else {
      size_t e = tag_end(s, i);
      if (e == npos) return 0;
      bool empty = s[e - 1] == '/';
      if (depth == 0 && header_allowed && !empty && local(tag_qname(s, i)) == "stream") {
        is_header = true;
        return e + 1;
      }
      if (empty) {
        if (depth == 0) return e + 1;
      } else {
        ++depth;
      }
      i = e + 1;
    }
    size_t next = s.find('<', i);
    if (next == npos) return 0;
    i = next;
  }
}

namespace raw {

std::string unescape(std::string_view s) {
  std::string out;
  if (s.find('&') == npos) return std::string(s);
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == npos) {
      out += s.substr(i);
      break;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "amp") out += '&';
    else if (ent == "apos") out += '\'';
    else if (ent == "quot") out += '"';
    else if (ent.size() > 1 && ent[0] == '#') {
      uint32_t cp = 0;
      bool hex = ent[1] == 'x';
      std::from_chars(ent.data() + (hex ? 2 : 1), ent.data() + ent.size(), cp, hex ? 16 : 10);
      // UTF-8 encoding of the code point.
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

std::string_view name(std::string_view el) {
  if (el.size() < 2 || el[0] != '<') return {};
  return local(tag_qname(el, 0));
}

std::string_view attr_raw(std::string_view el, std::string_view attr_name) {
  size_t end = tag_end(el, 0);
  if (end == npos) return {};
  std::string_view tag = el.substr(0, end);
  // Walk the attributes: name = quoted value, separated by whitespace.
  size_t i = 1;
  while (i < tag.size() && !is_space(tag[i])) ++i;  // element name
  while (i < tag.size()) {
    while (i < tag.size() && is_space(tag[i])) ++i;
    size_t nb = i;
    while (i < tag.size() && tag[i] != '=' && !is_space(tag[i]) && tag[i] != '/') ++i;
    std::string_view an = tag.substr(nb, i - nb);
    while (i < tag.size() && (is_space(tag[i]) || tag[i] == '=')) ++i;
    if (i >= tag.size() || (tag[i] != '\'' && tag[i] != '"')) return {};
    char q = tag[i++];
    size_t vb = i;
    size_t ve = tag.find(q, vb);
    if (ve == npos) return {};
    if (an == attr_name) return tag.substr(vb, ve - vb);
    i = ve + 1;
  }
  return {};
}

std::string attr(std::string_view el, std::string_view attr_name) {
  return unescape(attr_raw(el, attr_name));
}

namespace {
// Index of the '<' of the first start tag with this local name, npos if none.
size_t find_start(std::string_view el, std::string_view want) {
  size_t i = 0;
  while ((i = el.find('<', i)) != npos) {
    if (i + 1 < el.size() && el[i + 1] != '/' && el[i + 1] != '!' && el[i + 1] != '?' &&
        local(tag_qname(el, i)) == want)
      return i;
    ++i;
  }
  return npos;
}
}  // namespace

bool has_child(std::string_view el, std::string_view want) { return find_start(el, want) != npos; }

size_t count(std::string_view el, std::string_view want) {
  size_t n = 0;
  size_t i = 0;
  while ((i = el.find('<', i)) != npos) {
    if (i + 1 < el.size() && el[i + 1] != '/' && el[i + 1] != '!' && el[i + 1] != '?' &&
        local(tag_qname(el, i)) == want)
      ++n;
    ++i;
  }
  return n;
}

std::string text_of(std::string_view el, std::string_view want) {
  size_t i = find_start(el, want);
  if (i == npos) return {};
  size_t e = tag_end(el, i);
  if (e == npos || el[e - 1] == '/') return {};
  size_t close = el.find('<', e + 1);
  if (close == npos) return {};
  return unescape(el.substr(e + 1, close - e - 1));
}

std::string_view first_child(std::string_view el) {
  size_t e = tag_end(el, 0);
  if (e == npos || el[e - 1] == '/') return {};
  size_t i = e + 1;
  while ((i = el.find('<', i)) != npos) {
    if (i + 1 < el.size() && el[i + 1] == '/') return {};
    if (i + 1 < el.size() && el[i + 1] != '!' && el[i + 1] != '?') return local(tag_qname(el, i));
    ++i;
  }
  return {};
}

}  // namespace raw

}  // namespace starling::bench
