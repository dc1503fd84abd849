#include "core/stanza.hpp"

#include <array>

namespace starling {
namespace {
struct condition_info {
  std::string_view name;
  error_type type;
  int code;
};
// RFC 6120 §8.3.3 conditions with their usual types; XEP-0086 §3 codes.
constexpr std::array<condition_info, 22> conditions{{
    {"bad-request", error_type::modify, 400},
    {"conflict", error_type::cancel, 409},
    {"feature-not-implemented", error_type::cancel, 501},
    {"forbidden", error_type::auth, 403},
    {"gone", error_type::cancel, 302},
    {"internal-server-error", error_type::cancel, 500},
    {"item-not-found", error_type::cancel, 404},
    {"jid-malformed", error_type::modify, 400},
    {"not-acceptable", error_type::modify, 406},
    {"not-allowed", error_type::cancel, 405},
    {"not-authorized", error_type::auth, 401},
    {"policy-violation", error_type::modify, 406},
    {"recipient-unavailable", error_type::wait, 404},
    {"redirect", error_type::modify, 302},
    {"registration-required", error_type::auth, 407},
    {"remote-server-not-found", error_type::cancel, 404},
    {"remote-server-timeout", error_type::wait, 504},
    {"resource-constraint", error_type::wait, 500},
    {"service-unavailable", error_type::cancel, 503},
    {"subscription-required", error_type::auth, 407},
    {"undefined-condition", error_type::cancel, 500},
    {"unexpected-request", error_type::wait, 400},
}};

constexpr std::array<std::string_view, 25> stream_conditions{
    "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone",
    "host-unknown", "improper-addressing", "internal-server-error", "invalid-from",
    "invalid-namespace", "invalid-xml", "not-authorized", "not-well-formed", "policy-violation",
    "remote-connection-failed", "reset", "resource-constraint", "restricted-xml",
    "see-other-host", "system-shutdown", "undefined-condition", "unsupported-encoding",
    "unsupported-feature", "unsupported-stanza-type", "unsupported-version",
};
}  // namespace

std::string_view to_string(stanza_condition c) { return conditions[static_cast<size_t>(c)].name; }
error_type default_type(stanza_condition c) { return conditions[static_cast<size_t>(c)].type; }
int legacy_code(stanza_condition c) { return conditions[static_cast<size_t>(c)].code; }

std::string_view to_string(error_type t) {
  switch (t) {
    case error_type::auth: return "auth";
    case error_type::cancel: return "cancel";
    case error_type::continue_: return "continue";
    case error_type::modify: return "modify";
    case error_type::wait: return "wait";
  }
  return "cancel";
}

std::string_view to_string(stream_condition c) { return stream_conditions[static_cast<size_t>(c)]; }

xml::element make_stream_error(stream_condition c, std::string_view text) {
  xml::element e("error", std::string(xml::ns_streams));
  e.add(std::string(to_string(c)), std::string(ns_stream_errors));
  if (!text.empty()) {
    auto& t = e.add("text", std::string(ns_stream_errors));
    t.set_attr_ns(xml::ns_xml, "lang", "en");
    t.add_text(text);
  }
  return e;
}

xml::element make_error_element(stanza_condition c, std::optional<error_type> type, std::string_view text) {
  xml::element e("error", std::string(xml::ns_client));
  e.set_attr("type", std::string(to_string(type.value_or(default_type(c)))));
  // XEP-0086: legacy clients read only the numeric code.
  e.set_attr("code", std::to_string(legacy_code(c)));
  e.add(std::string(to_string(c)), std::string(ns_stanzas));
  if (!text.empty()) {
    auto& t = e.add("text", std::string(ns_stanzas));
    t.set_attr_ns(xml::ns_xml, "lang", "en");
    t.add_text(text);
  }
  return e;
}

bool is_error(const xml::element& stanza) { return stanza.attr_or("type") == "error"; }

xml::element make_error_reply(const xml::element& stanza, stanza_condition c,
                              std::optional<error_type> type, std::string_view text) {
  xml::element r(stanza.name(), stanza.ns());
  if (auto* v = stanza.attr("from")) r.set_attr("to", *v);
  if (auto* v = stanza.attr("to")) r.set_attr("from", *v);
  if (auto* v = stanza.attr("id")) r.set_attr("id", *v);
  r.set_attr("type", "error");
  // RFC 6120 §8.3.1: include the original payload of a request so the requester can match it.
  if (stanza.name() == "iq")
    if (const auto* child = stanza.first_element()) r.add_child(*child);
  r.add_child(make_error_element(c, type, text));
  return r;
}

xml::element make_result(const xml::element& iq) {
  xml::element r("iq", iq.ns());
  if (auto* v = iq.attr("from")) r.set_attr("to", *v);
  if (auto* v = iq.attr("to")) r.set_attr("from", *v);
  if (auto* v = iq.attr("id")) r.set_attr("id", *v);
  r.set_attr("type", "result");
  return r;
}

bool is_stanza_name(std::string_view name) {
  return name == "message" || name == "presence" || name == "iq";
}

}  // namespace starling
