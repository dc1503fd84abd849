// Conversions that keep the classic storages and PEP in step, for clients that use either:
//  - XEP-0398 (User Avatar to vCard-Based Avatars Conversion): a client's XEP-0084 metadata
//    publication puts the referenced image into the vCard PHOTO (so the XEP-0153 hash in
//    presence equals the XEP-0084 id); a client's vCard photo is published to the
//    urn:xmpp:avatar:data and :metadata nodes (the MAY direction, done too).
//  - Bookmarks: XEP-0048 bookmarks in private XML storage (XEP-0049), the XEP-0048 PEP node
//    'storage:bookmarks' (XEP-0411) and PEP native bookmarks 'urn:xmpp:bookmarks:1'
//    (XEP-0402 §4 compat): a change through any of them is written to the other two, with the
//    notifications a client publish would cause (XEP-0411 §3).
// Changes made here are flagged as the server's, so they are not converted back.
// Not implemented: conversion of bookmarks stored before this module existed until the next
// change (XEP-0411 §3 recommends a copy before the first login).
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cctype>
#include <map>

#include "core/server.hpp"
#include "modules/pep/pep_api.hpp"
#include "modules/private/private_api.hpp"
#include "modules/stored_xml/stored_xml.hpp"
#include "modules/vcard/vcard_api.hpp"
#include "util/base64.hpp"

namespace starling::modules {

namespace asio = boost::asio;

constexpr std::string_view ns_avatar_data = "urn:xmpp:avatar:data";
constexpr std::string_view ns_avatar_metadata = "urn:xmpp:avatar:metadata";
constexpr std::string_view ns_bookmarks_0048 = "storage:bookmarks";
constexpr std::string_view ns_bookmarks2 = "urn:xmpp:bookmarks:1";

namespace {

std::string sha1_hex(std::string_view data) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : md) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string strip_ws(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

bool xml_true(std::string_view v) { return v == "true" || v == "1"; }

// XEP-0402 §3.1 <conference/> (item id: the room JID) from a XEP-0048 §3.2 <conference/>.
xml::element to_bookmark2(const xml::element& c) {
  const std::string ns(ns_bookmarks2);
  xml::element b("conference", ns);
  if (const std::string* n = c.attr("name")) b.set_attr("name", *n);
  if (xml_true(c.attr_or("autojoin"))) b.set_attr("autojoin", "true");
  if (const auto* nick = c.child("nick", ns_bookmarks_0048)) b.add("nick", ns).add_text(nick->text());
  if (const auto* pw = c.child("password", ns_bookmarks_0048)) b.add("password", ns).add_text(pw->text());
  return b;
}

// And back: XEP-0048 <conference/> for room `jid` from a XEP-0402 <conference/>.
xml::element to_bookmark1(const std::string& jid, const xml::element& b) {
  const std::string ns(ns_bookmarks_0048);
  xml::element c("conference", ns);
  c.set_attr("jid", jid);
  if (const std::string* n = b.attr("name")) c.set_attr("name", *n);
  c.set_attr("autojoin", xml_true(b.attr_or("autojoin")) ? "true" : "false");
  if (const auto* nick = b.child("nick", ns_bookmarks2)) c.add("nick", ns).add_text(nick->text());
  if (const auto* pw = b.child("password", ns_bookmarks2)) c.add("password", ns).add_text(pw->text());
  return c;
}

// XEP-0402 §5 / XEP-0048 §4 publish-options: private, persistent, and for 0402 one item per room.
std::vector<std::pair<std::string, std::string>> private_options(bool many) {
  std::vector<std::pair<std::string, std::string>> o{{"pubsub#persist_items", "true"},
                                                    {"pubsub#access_model", "whitelist"}};
  if (many) {
    o.emplace_back("pubsub#max_items", "max");
    o.emplace_back("pubsub#send_last_published_item", "never");
  }
  return o;
}

}  // namespace

class pep_convert_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    srv.disco().add_account_feature("urn:xmpp:pep-vcard-conversion:0");  // XEP-0398 §2
    srv.disco().add_account_feature("urn:xmpp:bookmarks-conversion:0");  // XEP-0411 §2
    srv.disco().add_account_feature(std::string(ns_bookmarks2) + "#compat");  // XEP-0402 §4
    pep::add_change_listener(srv, [this](server&, const pep::node_change& ch) {
      if (ch.by_server) return;
      if (ch.node == ns_avatar_metadata && ch.what == pep::node_change::kind::publish && ch.payload)
        asio::co_spawn(pool_, avatar_to_vcard(ch.owner, *ch.payload), asio::detached);
      else if (ch.node == ns_bookmarks2)
        asio::co_spawn(pool_, from_bookmarks2(ch.owner), asio::detached);
      else if (ch.node == ns_bookmarks_0048 && ch.what == pep::node_change::kind::publish && ch.payload)
        asio::co_spawn(pool_, from_storage(ch.owner, *ch.payload, false), asio::detached);
    });
    vcard::add_photo_listener(srv, [this](server&, const jid& bare, const std::string& type,
                                          const std::string& binval, const std::string& hash) {
      if (!binval.empty() && !hash.empty())
        asio::co_spawn(pool_, vcard_to_avatar(bare, type, binval, hash), asio::detached);
    });
    private_xml::add_change_listener(srv, [this](server&, const jid& bare, const std::string& ns,
                                                 const std::vector<xml::element>& els) {
      if (ns != ns_bookmarks_0048 || els.empty()) return;
      asio::co_spawn(pool_, from_storage(bare, els.front(), true), asio::detached);
    });
  }

  void stop() override { pool_.join(); }

 private:
  // ------------------------------------------------------------ XEP-0398

  // §3.1: the image of the metadata's non-URL <info/> goes into the vCard.
  asio::awaitable<void> avatar_to_vcard(jid owner, xml::element metadata) {
    try {
      const xml::element* info = nullptr;
      for (const auto* i : metadata.elements())
        if (i->is("info", ns_avatar_metadata) && !i->attr("url")) {
          info = i;
          break;
        }
      if (!info) {
        // XEP-0084 §4.2: empty metadata disables the avatar.
        if (metadata.elements().empty()) {
          bool cleared = co_await vcard::set_photo(*srv_, owner, std::string(), std::string());
          (void)cleared;
        }
        co_return;
      }
      std::string id(info->attr_or("id"));
      std::string type(info->attr_or("type"));
      auto data = co_await pep::items(*srv_, owner, std::string(ns_avatar_data));
      for (const auto& [iid, payload] : data) {
        if (iid != id || !payload.is("data", ns_avatar_data)) continue;
        std::string b64 = strip_ws(payload.text());
        auto bytes = util::base64_decode(b64);
        // §3.1: SHOULD verify that the SHA-1 of the image is the id.
        if (!bytes || sha1_hex(*bytes) != id) {
          spdlog::info("pep: avatar {} of {} does not match its data; vCard left alone", id, owner.str());
          co_return;
        }
        bool stored = co_await vcard::set_photo(*srv_, owner, type, b64);
        if (!stored) spdlog::warn("pep: storing the avatar of {} in the vCard failed", owner.str());
        co_return;
      }
    } catch (const std::exception& e) {
      spdlog::error("pep: avatar conversion for {}: {}", owner.str(), e.what());
    }
  }

  // §3.2: data first (id = SHA-1 of the image), then metadata.
  asio::awaitable<void> vcard_to_avatar(jid owner, std::string type, std::string binval, std::string hash) {
    try {
      auto current = co_await pep::items(*srv_, owner, std::string(ns_avatar_metadata));
      if (!current.empty() && current.back().first == hash) co_return;  // already there
      auto bytes = util::base64_decode(binval);
      if (!bytes) co_return;
      xml::element data("data", std::string(ns_avatar_data));
      data.add_text(binval);
      bool published = co_await pep::publish(*srv_, owner, std::string(ns_avatar_data), hash, std::move(data), {});
      if (!published) co_return;
      xml::element meta("metadata", std::string(ns_avatar_metadata));
      auto& info = meta.add("info", std::string(ns_avatar_metadata));
      info.set_attr("bytes", std::to_string(bytes->size()));
      info.set_attr("id", hash);
      info.set_attr("type", type.empty() ? std::string("image/png") : type);
      co_await pep::publish(*srv_, owner, std::string(ns_avatar_metadata), hash, std::move(meta), {});
    } catch (const std::exception& e) {
      spdlog::error("pep: vCard avatar conversion for {}: {}", owner.str(), e.what());
    }
  }

  // ------------------------------------------------------------ bookmarks

  // A <storage xmlns='storage:bookmarks'/> came from private XML (`from_private`) or from the
  // XEP-0048 PEP node: write it to the other one and to XEP-0402 items.
  asio::awaitable<void> from_storage(jid owner, xml::element storage, bool from_private) {
    try {
      if (!storage.is("storage", ns_bookmarks_0048)) co_return;
      if (from_private) {
        // XEP-0411 §3: PEP subscribers of storage:bookmarks are notified.
        co_await pep::publish(*srv_, owner, std::string(ns_bookmarks_0048), "current", storage, private_options(false));
      } else {
        std::vector<xml::element> els{storage};
        co_await private_xml::set(*srv_, owner, std::string(ns_bookmarks_0048), std::move(els));
      }
      // XEP-0402 §4: one item per room.
      std::map<std::string, xml::element> wanted;
      for (const auto* c : storage.elements())
        if (c->is("conference", ns_bookmarks_0048))
          if (auto j = jid::parse(c->attr_or("jid"))) wanted.emplace(j->str(), to_bookmark2(*c));
      auto have = co_await pep::items(*srv_, owner, std::string(ns_bookmarks2));
      std::map<std::string, std::string> existing;
      for (const auto& [id, payload] : have) existing[id] = store_xml(payload);
      for (auto& [room, b] : wanted) {
        auto it = existing.find(room);
        if (it != existing.end() && it->second == store_xml(b)) continue;
        co_await pep::publish(*srv_, owner, std::string(ns_bookmarks2), room, b, private_options(true));
      }
      for (const auto& [room, text] : existing)
        if (!wanted.count(room)) co_await pep::retract(*srv_, owner, std::string(ns_bookmarks2), room);
    } catch (const std::exception& e) {
      spdlog::error("pep: bookmark conversion for {}: {}", owner.str(), e.what());
    }
  }

  // XEP-0402 items changed: rebuild the XEP-0048 storage (keeping its <url/> bookmarks).
  asio::awaitable<void> from_bookmarks2(jid owner) {
    try {
      auto items = co_await pep::items(*srv_, owner, std::string(ns_bookmarks2));
      xml::element storage("storage", std::string(ns_bookmarks_0048));
      auto current = co_await private_xml::get(*srv_, owner, std::string(ns_bookmarks_0048));
      if (current && !current->empty())
        for (const auto* u : current->front().elements())
          if (u->is("url", ns_bookmarks_0048)) storage.add_child(*u);
      for (const auto& [room, b] : items)
        if (b.is("conference", ns_bookmarks2)) storage.add_child(to_bookmark1(room, b));
      std::vector<xml::element> els{storage};
      co_await private_xml::set(*srv_, owner, std::string(ns_bookmarks_0048), std::move(els));
      co_await pep::publish(*srv_, owner, std::string(ns_bookmarks_0048), "current", storage, private_options(false));
    } catch (const std::exception& e) {
      spdlog::error("pep: bookmark conversion for {}: {}", owner.str(), e.what());
    }
  }

  server* srv_ = nullptr;
  // One thread: conversions of one account happen in the order of the changes.
  asio::thread_pool pool_{1};
};

}  // namespace starling::modules

using starling::modules::pep_convert_module;
STARLING_MODULE(pep_convert_module, "pep_convert")
