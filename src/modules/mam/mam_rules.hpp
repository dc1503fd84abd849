#pragma once
// Pure rules of the MAM module (unit-tested): which messages a user archive keeps, XEP-0359
// stanza-id handling and XEP-0441 preference matching.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jid/jid.hpp"
#include "modules/offline/offline_codec.hpp"  // ns_hints (XEP-0334)
#include "xml/element.hpp"

namespace starling::modules {

inline constexpr std::string_view ns_sid = "urn:xmpp:sid:0";
inline constexpr std::string_view ns_forward = "urn:xmpp:forward:0";

// XEP-0313 §6.1.1: normal and chat messages with a <body/>, or with a payload that carries
// conversation content outside the body (end-to-end encryption, retractions, reactions,
// out-of-band data); XEP-0334 <store/> asks for storage, <no-store/> and
// <no-permanent-store/> forbid it. Never errors; groupchat belongs to the MUC archive;
// headlines only with <store/>.
bool is_archivable(const xml::element& msg);

// XEP-0359 §4 rule 2: removes every <stanza-id/> whose 'by' is `by` (forged or stale claims
// in the name of this archive). Returns how many were removed.
size_t strip_stanza_ids(xml::element& msg, std::string_view by);
void add_stanza_id(xml::element& msg, std::string_view by, std::string_view id);

// XEP-0441 preferences.
enum class archive_default { always, never, roster };
std::string_view to_string(archive_default d);
std::optional<archive_default> parse_archive_default(std::string_view s);

struct archive_prefs {
  archive_default mode = archive_default::always;
  std::vector<jid> always, never;
};

enum class archive_decision { archive, skip, ask_roster };
// XEP-0441 §2.4: `peer` is 'to' for outgoing and 'from' for incoming messages; a listed JID
// with a resource matches exactly, a bare one matches the peer's bare JID. The user's own
// account (notes to self, other resources) is always archived.
archive_decision decide(const archive_prefs& p, const jid& owner, const jid& peer);

}  // namespace starling::modules
