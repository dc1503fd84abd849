#include "modules/mam/mam_rules.hpp"

#include <algorithm>

namespace starling::modules {

namespace {
// Payloads that carry what a user would want to find again in their history, though the
// message has no <body/>.
bool has_content_payload(const xml::element& msg) {
  for (const xml::element* c : msg.elements()) {
    const std::string& ns = c->ns();
    if ((c->name() == "encrypted" && (ns == "eu.siacs.conversations.axolotl" || ns == "urn:xmpp:omemo:2")) ||
        (c->name() == "openpgp" && ns == "urn:xmpp:openpgp:0") || (c->name() == "x" && ns == "jabber:x:encrypted") ||
        (c->name() == "retract" && ns == "urn:xmpp:message-retract:1") ||
        (c->name() == "reactions" && ns == "urn:xmpp:reactions:0") || (c->name() == "x" && ns == "jabber:x:oob"))
      return true;
  }
  return false;
}
}  // namespace

bool is_archivable(const xml::element& msg) {
  if (msg.name() != "message") return false;
  const std::string_view type = msg.attr_or("type", "normal");
  if (type == "error" || type == "groupchat") return false;
  // XEP-0334 §4.1-4.2: no storage at all, or no permanent one.
  if (msg.child("no-store", ns_hints) || msg.child("no-permanent-store", ns_hints)) return false;
  // XEP-0334 §4.4: <store/> on anything but an error.
  if (msg.child("store", ns_hints)) return true;
  if (type == "headline") return false;  // XEP-0313 §6.1.1: "not generally suggested"
  if (msg.child("body", xml::ns_client) || msg.child("body", xml::ns_server)) return true;
  return has_content_payload(msg);
}

size_t strip_stanza_ids(xml::element& msg, std::string_view by) {
  auto& kids = msg.children();
  size_t before = kids.size();
  kids.erase(std::remove_if(kids.begin(), kids.end(),
                            [&](const xml::node& n) {
                              const auto* e = std::get_if<xml::element>(&n);
                              if (!e || !e->is("stanza-id", ns_sid)) return false;
                              // Compare as JIDs: the forger need not use our canonical form.
                              const std::string_view b = e->attr_or("by");
                              if (b == by) return true;
                              auto j = jid::parse(b);
                              return j && j->str() == by;
                            }),
             kids.end());
  return before - kids.size();
}

void add_stanza_id(xml::element& msg, std::string_view by, std::string_view id) {
  msg.add("stanza-id", std::string(ns_sid)).set_attr("by", std::string(by)).set_attr("id", std::string(id));
}

std::string_view to_string(archive_default d) {
  switch (d) {
    case archive_default::always: return "always";
    case archive_default::never: return "never";
    case archive_default::roster: return "roster";
  }
  return "always";
}

std::optional<archive_default> parse_archive_default(std::string_view s) {
  if (s == "always") return archive_default::always;
  if (s == "never") return archive_default::never;
  if (s == "roster") return archive_default::roster;
  return std::nullopt;
}

namespace {
bool listed(const std::vector<jid>& list, const jid& peer) {
  for (const jid& j : list)
    if (j.has_resource() ? j == peer : j == peer.bare()) return true;
  return false;
}
}  // namespace

archive_decision decide(const archive_prefs& p, const jid& owner, const jid& peer) {
  if (peer.bare() == owner.bare()) return archive_decision::archive;
  // 'never' first: when a JID is in both lists, not archiving is the safe reading.
  if (listed(p.never, peer)) return archive_decision::skip;
  if (listed(p.always, peer)) return archive_decision::archive;
  switch (p.mode) {
    case archive_default::always: return archive_decision::archive;
    case archive_default::never: return archive_decision::skip;
    case archive_default::roster: return archive_decision::ask_roster;
  }
  return archive_decision::archive;
}

}  // namespace starling::modules
