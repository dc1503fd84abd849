#pragma once
// XEP-0313 Message Archive Management: the query codec (the <query/> a client sends, with its
// XEP-0004 filter form, XEP-0059 <set/> and <flip-page/>). Pure and fuzzed; what the archive
// does with a query lives in src/modules/mam/.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jid/jid.hpp"
#include "proto/rsm.hpp"
#include "xml/element.hpp"

namespace starling::proto {

inline constexpr std::string_view ns_mam = "urn:xmpp:mam:2";
inline constexpr std::string_view ns_mam_extended = "urn:xmpp:mam:2#extended";

struct mam_query {
  std::string queryid;
  std::optional<jid> with;             // 'with' field (bare or full)
  std::optional<int64_t> start, end;   // µs since the epoch, inclusive (XEP-0313 §4.1.2)
  std::optional<std::string> after_id, before_id;  // exclusive bounds (#extended)
  std::vector<std::string> ids;        // 'ids' field (#extended)
  std::optional<rsm_request> rsm;
  bool flip_page = false;              // <flip-page/> (#extended)
};

enum class mam_query_error { none, bad_request, feature_not_implemented, jid_malformed };

// Parses <query xmlns='urn:xmpp:mam:2'/>. On failure: nullopt, `err` is the stanza error
// condition XEP-0313 names (feature-not-implemented for an unknown field, §4.1.5; bad-request
// for a malformed form, timestamp or RSM element) and `text` says what was wrong.
std::optional<mam_query> parse_mam_query(const xml::element& query, mam_query_error& err, std::string& text);

// The form returned to <iq type='get'><query/></iq> (XEP-0313 §4.1.5).
xml::element mam_query_form();

}  // namespace starling::proto
