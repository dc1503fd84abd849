#pragma once
// Stanza and stream error vocabulary (RFC 6120 §4.9.3, §8.3.3) with the XEP-0086 legacy codes,
// and small helpers to build replies.
#include <optional>
#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace starling {

inline constexpr std::string_view ns_stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view ns_stream_errors = "urn:ietf:params:xml:ns:xmpp-streams";

enum class stanza_condition {
  bad_request, conflict, feature_not_implemented, forbidden, gone, internal_server_error,
  item_not_found, jid_malformed, not_acceptable, not_allowed, not_authorized, policy_violation,
  recipient_unavailable, redirect, registration_required, remote_server_not_found,
  remote_server_timeout, resource_constraint, service_unavailable, subscription_required,
  undefined_condition, unexpected_request,
};

enum class error_type { auth, cancel, continue_, modify, wait };

std::string_view to_string(stanza_condition c);
std::string_view to_string(error_type t);
// RFC 6120 §8.3.3 suggested type for each condition.
error_type default_type(stanza_condition c);
// XEP-0086 §3 legacy numeric code for each condition (e.g. 503 for service-unavailable).
int legacy_code(stanza_condition c);

enum class stream_condition {
  bad_format, bad_namespace_prefix, conflict, connection_timeout, host_gone, host_unknown,
  improper_addressing, internal_server_error, invalid_from, invalid_namespace, invalid_xml,
  not_authorized, not_well_formed, policy_violation, remote_connection_failed, reset,
  resource_constraint, restricted_xml, see_other_host, system_shutdown, undefined_condition,
  unsupported_encoding, unsupported_feature, unsupported_stanza_type, unsupported_version,
};
std::string_view to_string(stream_condition c);

// <stream:error><COND xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>[<text/>]</stream:error>
xml::element make_stream_error(stream_condition c, std::string_view text = {});

// <error type='T' code='N'><COND xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>[<text/>]</error>
xml::element make_error_element(stanza_condition c, std::optional<error_type> type = {},
                                std::string_view text = {});

// The error reply to `stanza` (RFC 6120 §8.3.1): to/from swapped, same id, type='error', the
// original payload kept for IQ requests. Never call this for a stanza of type 'error' (errors
// are never answered with errors, RFC 6120 §8.3.1 rule 4): is_error() tells.
xml::element make_error_reply(const xml::element& stanza, stanza_condition c,
                              std::optional<error_type> type = {}, std::string_view text = {});
bool is_error(const xml::element& stanza);

// <iq type='result' id=… to=… from=…/> answering `iq`.
xml::element make_result(const xml::element& iq);

bool is_stanza_name(std::string_view name);  // message, presence, iq

}  // namespace starling
