// XEP-0054: vcard-temp — each account stores one vCard (kept verbatim, up to 64 KiB serialized),
// reads and writes its own, and reads other local users' vCards (the server answers for them,
// XEP-0054 §3.3). XEP-0398 hooks: other modules are told of a client's new photo and may
// replace the photo (vcard_api.hpp; the PEP avatar conversion lives in modules/pep).
// XEP-0153: vCard-Based Avatars — the server computes the SHA-1 of the stored
// photo and stamps <x xmlns='vcard-temp:x:update'/> on the user's available presence when the
// client did not. Not implemented: the server's own vCard, vCards of remote users (no s2s).
#include <spdlog/spdlog.h>

#include <boost/asio/detached.hpp>
#include <cctype>
#include <mutex>
#include <unordered_map>

#include "core/c2s_session.hpp"
#include "core/per_server.hpp"
#include "core/server.hpp"
#include "modules/stored_xml/stored_xml.hpp"
#include "modules/vcard/vcard_api.hpp"
#include "modules/vcard/vcard_avatar.hpp"
#include "modules/vcard/vcard_store.hpp"

namespace starling::modules {

// Local policy ([limits] max_vcard_size): the largest vCard accepted, in bytes of its
// serialized form. The photo lives in the vCard; XEP-0153 asks publishing clients for images
// under 8 KiB (a SHOULD they do not always follow), so the default is generous. Bigger sets
// get <policy-violation/>.

// Above the presence module (priority 0): the stamp must be on the stanza it broadcasts.
constexpr int avatar_stamp_priority = 100;

// Accounts whose avatar hash is kept in memory (about 100 bytes each).
constexpr size_t max_cached_hashes = 100000;

class vcard_module;

namespace {
per_server_instance<vcard_module> registry;
per_server_listeners<vcard::photo_listener> photo_listeners;

// The PHOTO's TYPE and whitespace-free BINVAL, empty without a photo.
std::pair<std::string, std::string> photo_of(const xml::element& vcard) {
  const xml::element* photo = vcard.child("PHOTO", ns_vcard);
  if (!photo) return {};
  std::string b64;
  for (char c : photo->child_text("BINVAL", ns_vcard))
    if (!std::isspace(static_cast<unsigned char>(c))) b64 += c;
  return {photo->child_text("TYPE", ns_vcard), std::move(b64)};
}
}  // namespace

class vcard_module : public module {
 public:
  ~vcard_module() override { unregister(); }
  void stop() override { unregister(); }

  void start(server& srv) override {
    srv_ = &srv;
    registry.set(srv, this);
    store_ = make_sqlite_vcard_store(srv.sqlite());
    srv.add_migrations({{"vcard", 1,
                         "CREATE TABLE vcard ("
                         " host TEXT NOT NULL,"
                         " user TEXT NOT NULL,"
                         " xml TEXT NOT NULL,"         // the <vCard/> element as sent
                         " photo_hash TEXT NOT NULL,"  // XEP-0153 §3.1 hex SHA-1, '' without photo
                         " PRIMARY KEY (host, user),"
                         // Removed with the account, also by starlingctl deluser.
                         " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE"
                         ") WITHOUT ROWID"}});
    // XEP-0054 §4: the feature on the server and on account JIDs.
    srv.disco().add_feature(std::string(ns_vcard));
    srv.disco().add_account_feature(std::string(ns_vcard));
    srv.iq().add(iq_target::self, std::string(ns_vcard), [this](iq_request& req) { return handle_self(req); });
    srv.iq().add(iq_target::bare, std::string(ns_vcard), [this](iq_request& req) { return handle_other(req); });
    srv.hooks().session_bound.add(0, [this](c2s_session& s) {
      boost::asio::co_spawn(s.executor(), load_hash(s.bare_jid()), boost::asio::detached);
      return hook_result::next;
    });
    srv.hooks().account_removed.add(0, [this](const jid& bare) {
      std::lock_guard lock(mutex_);
      hashes_.erase(bare.str());
      return hook_result::next;
    });
    srv.hooks().client_stanza.add(avatar_stamp_priority, [this](c2s_session& s, xml::element& el) {
      stamp_presence(s, el);
      return hook_result::next;
    });
  }

 private:
  boost::asio::awaitable<void> handle_self(iq_request& req) {
    if (req.payload().name() != "vCard") {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    jid owner = req.from.bare();
    if (req.is_get()) {
      auto op = store_->get(owner);
      auto got = co_await std::move(op);
      if (got.failed) {
        reply_error(req, stanza_condition::internal_server_error);
        co_return;
      }
      // XEP-0054 §3.1: no vCard -> item-not-found (the SHOULD of the two options).
      if (!got.record) {
        reply_error(req, stanza_condition::item_not_found);
        co_return;
      }
      send_vcard(req, got.record->xml);
      co_return;
    }
    // XEP-0054 §3.2: the whole vCard is replaced (no partial updates), stored verbatim.
    const xml::element& vcard = req.payload();
    std::string text = store_xml(vcard);
    const size_t max_bytes = req.srv.cfg().limit.max_vcard_size;
    if (text.size() > max_bytes) {
      reply_error(req, stanza_condition::policy_violation, "vCard larger than " + std::to_string(max_bytes) + " bytes");
      co_return;
    }
    auto hash = avatar_hash(vcard);
    if (!hash) {
      reply_error(req, stanza_condition::bad_request, "PHOTO BINVAL is not base64");
      co_return;
    }
    std::string photo = *hash;
    // Named awaitables throughout: g++ 12 mishandles non-trivial temporaries in co_await.
    auto op = store_->put(owner, vcard_record{std::move(text), std::move(photo)});
    bool ok = co_await std::move(op);
    if (!ok) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    {
      std::lock_guard lock(mutex_);
      bound_cache();
      hashes_[owner.str()] = *hash;
    }
    req.srv.reply(req, make_result(req.stanza));
    // XEP-0398: the PEP avatar follows the vCard photo.
    auto photo_parts = photo_of(vcard);
    std::vector<vcard::photo_listener> ls = photo_listeners.of(srv_);
    for (const auto& l : ls) l(*srv_, owner, photo_parts.first, photo_parts.second, *hash);
  }

 public:
  // XEP-0398: the vCard photo follows the PEP avatar (see vcard_api.hpp).
  boost::asio::awaitable<bool> set_photo(jid owner, std::string type, std::string binval) {
    auto op = store_->get(owner);
    auto got = co_await std::move(op);
    if (got.failed) co_return false;
    xml::element vcard("vCard", std::string(ns_vcard));
    if (got.record)
      if (auto v = load_xml(got.record->xml)) vcard = std::move(*v);
    vcard.remove_children("PHOTO", ns_vcard);
    if (!binval.empty()) {
      auto& photo = vcard.add("PHOTO", std::string(ns_vcard));
      if (!type.empty()) photo.add("TYPE", std::string(ns_vcard)).add_text(type);
      photo.add("BINVAL", std::string(ns_vcard)).add_text(binval);
    }
    auto hash = avatar_hash(vcard);
    if (!hash) co_return false;
    std::string text = store_xml(vcard);
    auto put = store_->put(owner, vcard_record{std::move(text), *hash});
    bool ok = co_await std::move(put);
    if (!ok) co_return false;
    std::lock_guard lock(mutex_);
    bound_cache();
    hashes_[owner.str()] = *hash;
    co_return true;
  }

 private:
  void unregister() { registry.erase(srv_, this); }

  boost::asio::awaitable<void> handle_other(iq_request& req) {
    if (req.payload().name() != "vCard") {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    if (!req.is_get()) {
      // XEP-0054 §3.2: nobody sets another user's vCard.
      reply_error(req, stanza_condition::forbidden);
      co_return;
    }
    auto op = store_->get(req.to.bare());
    auto got = co_await std::move(op);
    if (got.failed) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    // XEP-0054 §3.3: the same error for "no vCard" and "no such user" (no directory
    // harvesting), and RFC 6121 dictates service-unavailable for the latter.
    if (!got.record) {
      reply_error(req, stanza_condition::service_unavailable);
      co_return;
    }
    send_vcard(req, got.record->xml);
  }

  static void send_vcard(iq_request& req, const std::string& stored) {
    auto vcard = load_xml(stored);
    if (!vcard) {
      spdlog::error("vcard: stored vCard of {} does not parse", req.to.bare().str());
      reply_error(req, stanza_condition::internal_server_error);
      return;
    }
    auto r = make_result(req.stanza);
    r.add_child(std::move(*vcard));
    req.srv.reply(req, r);
  }

  // Fills the avatar cache for an account that just bound a resource, unless a vCard set
  // already put a fresher value there.
  boost::asio::awaitable<void> load_hash(jid bare) {
    auto op = store_->get(bare);
    auto got = co_await std::move(op);
    if (got.failed) co_return;
    std::string hash = got.record ? got.record->photo_hash : std::string();
    std::lock_guard lock(mutex_);
    bound_cache();
    hashes_.emplace(bare.str(), std::move(hash));
  }

  // The cache outlives sessions, so that a client logging in again finds its hash at once
  // instead of racing the database read with its first presence; it is bounded by starting
  // afresh (entries are reloaded at the next login). Under mutex_.
  void bound_cache() {
    if (hashes_.size() >= max_cached_hashes) hashes_.clear();
  }

  // XEP-0153 §3.1, §4.1: available presence (broadcast or directed) carries the avatar hash;
  // a client that put its own <x/> on the stanza knows better and is left alone.
  void stamp_presence(c2s_session& s, xml::element& el) {
    if (el.name() != "presence" || el.attr("type")) return;
    // XEP-0153 §4.1 rule 2: a client's own <x/> (even empty: "not ready") is left alone.
    // (XEP-0398 §4 would fill an empty one in; XEP-0153's rule is kept until clients need it.)
    if (el.child("x", ns_vcard_update)) return;
    std::string hash;
    {
      std::lock_guard lock(mutex_);
      auto it = hashes_.find(s.bare_jid().str());
      if (it == hashes_.end()) return;  // not known yet: say nothing rather than "no avatar"
      hash = it->second;
    }
    auto& x = el.add("x", std::string(ns_vcard_update));
    // XEP-0153 §4.1 rule 3: an empty <photo/> means "no avatar".
    auto& photo = x.add("photo", std::string(ns_vcard_update));
    if (!hash.empty()) photo.add_text(hash);
  }

  server* srv_ = nullptr;
  std::unique_ptr<vcard_store> store_;
  std::mutex mutex_;
  // bare JID -> avatar hash, for accounts that bound a session (see bound_cache()).
  std::unordered_map<std::string, std::string> hashes_;
};

namespace vcard {

boost::asio::awaitable<bool> set_photo(server& srv, jid bare, std::string type, std::string binval) {
  vcard_module* m = registry.find(srv);
  if (!m) co_return false;
  bool ok = co_await m->set_photo(std::move(bare), std::move(type), std::move(binval));
  co_return ok;
}

void add_photo_listener(server& srv, photo_listener fn) {
  photo_listeners.add(srv, std::move(fn));
}

}  // namespace vcard

}  // namespace starling::modules

using starling::modules::vcard_module;
STARLING_MODULE(vcard_module, "vcard")
