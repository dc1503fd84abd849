// XEP-0280: Message Carbons (urn:xmpp:carbons:2). Implemented: enable/disable per session
// (repeatable, §9.1), <sent/> copies of messages a client sends to the account's other enabled
// resources (§8), <received/> copies of messages delivered to the account to the enabled
// resources that did not get the original (§7, also for messages to the bare JID delivered
// to several resources, and for messages stored offline), the §6.1 rules with <private/> and
// XEP-0334 <no-copy/>, copies never bounced back to the sender (§9.3: they go straight to the
// sessions). Not implemented: copying errors in response to eligible messages (that needs
// tracking of every message sent), hence urn:xmpp:carbons:rules:0 is not advertised.
#include <spdlog/spdlog.h>

#include <mutex>
#include <unordered_map>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/carbons/carbons_api.hpp"

namespace starling::modules::carbons {

namespace {
constexpr std::string_view ns_forward = "urn:xmpp:forward:0";
constexpr std::string_view ns_hints = "urn:xmpp:hints";
constexpr std::string_view ns_muc_user = "http://jabber.org/protocol/muc#user";

bool has_child_ns(const xml::element& msg, std::string_view ns) { return msg.child_ns(ns) != nullptr; }
}  // namespace

bool is_eligible(const xml::element& msg, direction dir) {
  if (msg.name() != "message") return false;
  // §8: <private/> (with the XEP-0334 <no-copy/> hint, or alone) keeps the message out.
  if (msg.child("private", ns_carbons) || msg.child("no-copy", ns_hints)) return false;
  // Never a copy of a copy, nor of archive results.
  if (msg.child("sent", ns_carbons) || msg.child("received", ns_carbons) || msg.child("result", "urn:xmpp:mam:2"))
    return false;
  const std::string_view type = msg.attr_or("type", "normal");
  // §6.1: groupchat is not copied; errors only as answers to eligible messages (not tracked).
  if (type == "groupchat" || type == "error" || type == "headline") return false;
  const xml::element* muc = msg.child("x", ns_muc_user);
  // §6.1: a private message from a MUC participant is already sent to every joined client.
  if (dir == direction::received && muc && !muc->child("invite", ns_muc_user)) return false;
  if (type == "chat") return true;
  if (msg.child("body", xml::ns_client) || msg.child("body", xml::ns_server)) return true;
  // §6.1: IM payloads (receipts, chat states, markers) and invitations (XEP-0249, mediated).
  if (has_child_ns(msg, "urn:xmpp:receipts") || has_child_ns(msg, "http://jabber.org/protocol/chatstates") ||
      has_child_ns(msg, "urn:xmpp:chat-markers:0") || msg.child("x", "jabber:x:conference"))
    return true;
  return muc && muc->child("invite", ns_muc_user);
}

namespace {
// Carbons-enabled sessions per account; read from any routing thread.
class registry {
 public:
  void set(c2s_session& s, bool on) {
    std::lock_guard lock(mutex_);
    auto& m = by_bare_[s.bare_jid().str()];
    if (on) {
      m[s.full_jid().resource()] = &s;
    } else {
      auto it = m.find(s.full_jid().resource());
      if (it != m.end() && it->second == &s) m.erase(it);
    }
    if (m.empty()) by_bare_.erase(s.bare_jid().str());
  }
  // XEP-0198 resumption: the new connection's session carries on with the old one's state.
  void moved(const c2s_session& before, c2s_session& now) {
    std::lock_guard lock(mutex_);
    auto it = by_bare_.find(now.bare_jid().str());
    if (it == by_bare_.end()) return;
    for (auto& [res, s] : it->second)
      if (s == &before) s = &now;
  }
  std::vector<std::string> enabled(const jid& bare) const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    auto it = by_bare_.find(bare.str());
    if (it != by_bare_.end())
      for (const auto& [res, _] : it->second) out.push_back(res);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unordered_map<std::string, const c2s_session*>> by_bare_;
};

registry& the_registry() {
  static registry r;
  return r;
}

xml::element wrap(const xml::element& original, std::string_view kind, const jid& bare, const jid& to) {
  // §7, §8: from the bare JID, to the receiving resource, same type, XEP-0297 forwarded.
  xml::element m("message", std::string(xml::ns_client));
  m.set_attr("from", bare.str());
  m.set_attr("to", to.str());
  if (const std::string* t = original.attr("type")) m.set_attr("type", *t);
  auto& fwd = m.add(std::string(kind), std::string(ns_carbons)).add("forwarded", std::string(ns_forward));
  fwd.add_child(original);
  return m;
}
}  // namespace

void set_enabled(c2s_session& s, bool enabled) { the_registry().set(s, enabled); }

class carbons_module : public module {
 public:
  // XEP-0280 §4 via XEP-0386: <enable xmlns='urn:xmpp:carbons:2'/> inline in the Bind 2
  // request enables carbons for the new session (there is no answer element).
  static boost::asio::awaitable<void> bind2_inline(c2s_session& s, const xml::element& req, xml::element&) {
    if (req.name() == "enable") set_enabled(s, true);
    co_return;
  }

  void start(server& srv) override {
    srv_ = &srv;
    srv.bind2().add(std::string(ns_carbons), bind2_inline);
    srv.disco().add_feature(std::string(ns_carbons));  // §4
    auto handler = [](iq_request& r) { return handle_iq(r); };
    srv.iq().add(iq_target::self, std::string(ns_carbons), handler);
    srv.iq().add(iq_target::host, std::string(ns_carbons), handler);
    // After MAM (900), so that the copy carries the sender's archive id (XEP-0313 §3.3).
    srv.hooks().client_stanza.add(500, [this](c2s_session& s, xml::element& st) { return on_sent(s, st); });
    srv.hooks().message_delivered.add(0, [this](const xml::element& st, const jid& to, const std::vector<jid>& got) {
      return on_received(st, to, got);
    });
    srv.hooks().session_resumed.add(0, [](c2s_session& now, const c2s_session& before) {
      the_registry().moved(before, now);
      return hook_result::next;
    });
    srv.hooks().session_closed.add(0, [](c2s_session& s) {
      the_registry().set(s, false);
      return hook_result::next;
    });
  }

 private:
  static boost::asio::awaitable<void> handle_iq(iq_request& req) {
    const xml::element& p = req.payload();
    if (req.is_get() || (p.name() != "enable" && p.name() != "disable")) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    // §5.1: only for the sender's own sessions on this server.
    if (!req.session || req.from.bare() != req.session->bare_jid()) {
      reply_error(req, stanza_condition::not_allowed);
      co_return;
    }
    // §9.1: enabling or disabling twice is no error.
    set_enabled(*req.session, p.name() == "enable");
    req.srv.reply(req, make_result(req.stanza));
  }

  // §8: a copy for each other enabled resource of the sender, whether or not the sending
  // client has carbons enabled.
  hook_result on_sent(c2s_session& s, xml::element& st) {
    if (st.name() != "message" || !is_eligible(st, direction::sent)) return hook_result::next;
    const jid bare = s.bare_jid();
    auto to = jid::parse(st.attr_or("to"));
    // To the account itself: its resources get the original or a <received/> copy.
    if (!to || to->bare() == bare) return hook_result::next;
    for (const auto& res : the_registry().enabled(bare)) {
      if (res == s.full_jid().resource()) continue;
      const jid target = bare.with_resource(res);
      srv_->deliver_to_full(target, wrap(st, "sent", bare, target));
    }
    return hook_result::next;
  }

  // §7: a copy for each enabled resource that did not receive the original.
  hook_result on_received(const xml::element& st, const jid& to, const std::vector<jid>& delivered) {
    if (!is_eligible(st, direction::received)) return hook_result::next;
    const jid bare = to.bare();
    for (const auto& res : the_registry().enabled(bare)) {
      const jid target = bare.with_resource(res);
      if (std::find(delivered.begin(), delivered.end(), target) != delivered.end()) continue;
      // The sending resource of a note to self already has it.
      if (st.attr_or("from") == target.str()) continue;
      srv_->deliver_to_full(target, wrap(st, "received", bare, target));
    }
    return hook_result::next;
  }

  server* srv_ = nullptr;
};

}  // namespace starling::modules::carbons

using starling::modules::carbons::carbons_module;
STARLING_MODULE(carbons_module, "carbons")
