#include "core/s2s_dialback.hpp"

#include "sasl/scram.hpp"
#include "xml/writer.hpp"

namespace starling {

namespace {
std::string hex(std::string_view raw) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

constexpr stanza_condition all_conditions[] = {
    stanza_condition::bad_request, stanza_condition::conflict, stanza_condition::feature_not_implemented,
    stanza_condition::forbidden, stanza_condition::gone, stanza_condition::internal_server_error,
    stanza_condition::item_not_found, stanza_condition::jid_malformed, stanza_condition::not_acceptable,
    stanza_condition::not_allowed, stanza_condition::not_authorized, stanza_condition::policy_violation,
    stanza_condition::recipient_unavailable, stanza_condition::redirect, stanza_condition::registration_required,
    stanza_condition::remote_server_not_found, stanza_condition::remote_server_timeout,
    stanza_condition::resource_constraint, stanza_condition::service_unavailable,
    stanza_condition::subscription_required, stanza_condition::undefined_condition,
    stanza_condition::unexpected_request,
};
}  // namespace

std::string dialback_key(std::string_view secret, std::string_view receiving, std::string_view originating,
                         std::string_view stream_id) {
  // XEP-0185 §3: the HMAC key is the hex form of SHA-256(secret), the output the hex HMAC.
  std::string key = hex(sasl::hash(sasl::hash_alg::sha256, secret));
  std::string text;
  text.reserve(receiving.size() + originating.size() + stream_id.size() + 2);
  text.append(receiving).append(" ").append(originating).append(" ").append(stream_id);
  return hex(sasl::hmac(sasl::hash_alg::sha256, key, text));
}

std::string dialback_element(std::string_view name, std::string_view from, std::string_view to,
                             std::string_view id, std::optional<dialback_outcome> outcome, std::string_view key) {
  std::string out = "<db:";
  out.append(name);
  out += " from='";
  xml::escape_attr(out, from);
  out += "' to='";
  xml::escape_attr(out, to);
  out += "'";
  if (!id.empty()) {
    out += " id='";
    xml::escape_attr(out, id);
    out += "'";
  }
  if (outcome) {
    out += " type='";
    out += outcome->type == dialback_outcome::kind::valid     ? "valid"
           : outcome->type == dialback_outcome::kind::invalid ? "invalid"
                                                              : "error";
    out += "'";
  }
  if (outcome && outcome->type == dialback_outcome::kind::error) {
    // XEP-0220 §2.5: <error/> is implicitly in jabber:server, the condition in xmpp-stanzas.
    out += "><error type='cancel'><";
    out += to_string(outcome->condition);
    out += " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:";
    out.append(name);
    out += ">";
  } else if (!key.empty()) {
    out += ">";
    xml::escape_text(out, key);
    out += "</db:";
    out.append(name);
    out += ">";
  } else {
    out += "/>";
  }
  return out;
}

std::optional<dialback_outcome> parse_dialback_type(const xml::element& el) {
  std::string_view type = el.attr_or("type");
  if (type == "valid") return dialback_outcome::valid();
  if (type == "invalid") return dialback_outcome::invalid();
  if (type != "error") return std::nullopt;
  stanza_condition c = stanza_condition::undefined_condition;
  for (const xml::element* e : el.elements()) {
    if (e->name() != "error") continue;
    if (const xml::element* cond = e->child_ns(ns_stanzas)) {
      for (auto candidate : all_conditions)
        if (to_string(candidate) == cond->name()) c = candidate;
    }
  }
  return dialback_outcome::error(c);
}

}  // namespace starling
