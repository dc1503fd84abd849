#include "modules/offline/offline_codec.hpp"

#include <fmt/format.h>

#include <ctime>

#include "xml/stream_parser.hpp"
#include "xml/writer.hpp"

namespace starling::modules {

std::string xep0082_stamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(ms % 1000));
}

void add_offline_delay(xml::element& msg, std::string_view domain, std::string_view stamp) {
  auto& d = msg.add("delay", std::string(ns_delay));
  d.set_attr("from", std::string(domain));
  d.set_attr("stamp", std::string(stamp));
  d.add_text("Offline Storage");
}

bool is_chat_states_only(const xml::element& msg) {
  bool has_state = false;
  for (const xml::element* c : msg.elements()) {
    if (c->ns() == ns_chatstates)
      has_state = true;
    else if (c->ns() != ns_hints)
      return false;  // a body, a receipt, any other payload: worth keeping
  }
  return has_state;
}

bool should_store_offline(const xml::element& msg) {
  if (msg.child("no-store", ns_hints) || msg.child("no-permanent-store", ns_hints)) return false;
  if (msg.child("store", ns_hints)) return true;
  return !is_chat_states_only(msg);
}

std::string encode_stanza(const xml::element& msg) { return xml::to_string(msg, "jabber:client"); }

namespace {
// Collects the first element of a one-stanza "stream".
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
}  // namespace

std::optional<xml::element> decode_stanza(std::string_view text) {
  one_element h;
  // The stanza was accepted under the stream limits when it arrived; stored text is trusted.
  xml::parser_limits limits;
  limits.max_stanza_bytes = text.size() + 1024;
  limits.max_depth = 1024;
  xml::stream_parser p(h, limits);
  p.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
  p.feed(text);
  if (h.failed) return std::nullopt;
  return std::move(h.el);
}

}  // namespace starling::modules
