// XEP-0160: Best Practices for Handling Offline Messages — normal and chat messages that no
// available resource can take (RFC 6121 §8.5.2.2.1, decided by src/modules/message/) are
// stored with a XEP-0203 <delay/> (from = the server's domain) and delivered when the account
// sends initial presence. A per-account quota bounces <service-unavailable/> past it (XEP-0160
// §2). Messages holding only XEP-0085 chat states are not stored (XEP-0160 §3).
// XEP-0013: Flexible Offline Message Retrieval — count and headers through disco on the
// offline node, view/remove by node, fetch, purge; a session that uses it before its initial
// presence gets no flood (XEP-0013 §3, §4). XEP-0334 hints: <no-store/> and
// <no-permanent-store/> keep a message out of storage, <store/> stores even chat states.
#include <atomic>
#include <memory>
#include <vector>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/message/message_api.hpp"
#include "modules/offline/offline_codec.hpp"
#include "modules/offline/offline_store.hpp"

namespace starling::modules {

constexpr std::string_view ns_disco_info = "http://jabber.org/protocol/disco#info";
constexpr std::string_view ns_disco_items = "http://jabber.org/protocol/disco#items";
constexpr std::string_view ns_data = "jabber:x:data";

// Per-session state (ARCHITECTURE.md: typed slots).
struct offline_session_state {
  bool flexible = false;  // XEP-0013 used: no flood on initial presence
  // Set while the initial-presence flood is on its way: stanzas delivered live meanwhile wait
  // here and follow the stored messages (XEP-0160 §4: those come first, in order).
  // A pointer: most sessions never hold anything, and this state lives as long as they do.
  std::unique_ptr<std::vector<xml::element>> held;
};

class offline_module : public module, public offline_sink {
 public:
  // XEP-0160 §2: "the recipient's offline message queue is full". Configurable later.

  void start(server& srv) override {
    srv_ = &srv;
    quota_ = srv.cfg().limit.max_offline_messages;  // XEP-0160 §5 quota ([limits])
    store_ = std::make_unique<offline_store>(srv.sqlite());
    srv.add_migrations(offline_store::migrations());
    set_offline_sink(srv, this);
    srv.disco().add_feature("msgoffline");                         // XEP-0160 §4
    srv.disco().add_account_feature(std::string(ns_offline));       // XEP-0013 §2.1
    srv.disco().add_feature(std::string(ns_offline));
    srv.disco().add_account_node(std::string(ns_offline), {node_info_handler(), node_items_handler()});
    srv.iq().add(iq_target::self, std::string(ns_offline), [this](iq_request& r) { return handle_iq(r); });
    // XEP-0013 §2: another user's offline queue is forbidden.
    srv.iq().add(iq_target::bare, std::string(ns_offline), forbidden);
    srv.hooks().initial_presence.add(0, [this](c2s_session& s) { return on_initial_presence(s); });
    // Before XEP-0352 client state indication (priority 0), which may hold stanzas in turn.
    // Every stanza is held, not only messages, so that the client still sees them in the order
    // they were routed (e.g. XEP-0313 results before the IQ that ends the query).
    srv.hooks().outbound_stanza.add(100, [this](c2s_session& s, const xml::element& el) {
      if (flooding_.load(std::memory_order_relaxed) == 0) return hook_result::next;
      auto& st = s.slot<offline_session_state>();
      if (!st.held) return hook_result::next;
      st.held->push_back(el);
      return hook_result::stop;
    });
    srv.hooks().session_resumed.add(0, [](c2s_session& now, const c2s_session&) {
      // XEP-0198 §5: the slots moved to the resuming session, the flood's release() will find
      // the old one empty: what is held goes out now, after the retransmitted stanzas. The
      // stored messages stay stored (release() sees the old session gone).
      auto held = std::move(now.slot<offline_session_state>().held);
      if (held)
        for (const auto& el : *held) now.send(el);
      return hook_result::next;
    });
  }

  void stop() override {
    if (srv_) set_offline_sink(*srv_, nullptr);
    pool_.join();
  }

  // offline_sink: called from routing on any thread.
  void take(xml::element msg, jid bare_to) override {
    storing_.fetch_add(1, std::memory_order_acq_rel);  // before the store is issued: see flood
    // Tracked: a graceful shutdown waits until the message is stored (XEP-0160).
    srv_->spawn(pool_, store_message(this, std::move(msg), std::move(bare_to)));
  }

 private:
  static void bounce(server& srv, const xml::element& original, stanza_condition c) {
    if (is_error(original)) return;  // RFC 6120 §8.3.1
    auto reply = make_error_reply(original, c);
    if (auto to = jid::parse(reply.attr_or("to"))) srv.deliver_to_full(*to, reply);
  }

  // Runs on pool_, one at a time in call order: the store() below is issued before this
  // coroutine first suspends, so the writer sees stores (and floods) in arrival order.
  static boost::asio::awaitable<void> store_message(offline_module* self, xml::element msg, jid to) {
    const bool keep = should_store_offline(msg);
    offline_message m;
    m.stamp = xep0082_stamp(std::chrono::system_clock::now());
    m.sender = std::string(msg.attr_or("from"));
    xml::element stored = msg;
    add_offline_delay(stored, to.domain(), m.stamp);
    m.stanza = encode_stanza(stored);
    auto r = co_await self->store_->store(to.domain(), to.local(), std::move(m), self->quota_, keep);
    self->storing_.fetch_sub(1, std::memory_order_acq_rel);
    switch (r) {
      case offline_store_result::stored:
        self->srv_->hooks().offline_stored.run(to, msg);  // XEP-0357 push notifications
        break;
      case offline_store_result::not_stored:
        break;
      case offline_store_result::no_account:
        // RFC 6121 §8.5.1: no such account.
        bounce(*self->srv_, msg, stanza_condition::service_unavailable);
        break;
      case offline_store_result::full:
        // XEP-0160 §2: the queue is full -> service-unavailable to the sender.
        bounce(*self->srv_, msg, stanza_condition::service_unavailable);
        break;
      case offline_store_result::failed:
        spdlog::error("offline: storing a message for {} failed", to.str());
        bounce(*self->srv_, msg, stanza_condition::internal_server_error);
        break;
    }
  }

  // RFC 6121 §4.2 / XEP-0160: initial presence brings the stored messages, unless the
  // session already took charge of them through XEP-0013.
  hook_result on_initial_presence(c2s_session& s) {
    if (s.slot<offline_session_state>().flexible) return hook_result::next;
    // Most logins find nothing stored: say so from a read on this thread instead of two hops
    // (to pool_, then to the writer) and back. Only when no store is in flight: a message
    // handed to take() before this login must not be missed (the writer's order guarantees
    // that on the slow path; a committed store is visible to the read).
    if (storing_.load(std::memory_order_acquire) == 0) {
      const jid& bare = s.bare_jid();
      if (store_->any_now(bare.domain(), bare.local()) == false) return hook_result::next;
    }
    // Messages routed to this session from now on (e.g. ones that were still on their way
    // while the others were stored) wait until the stored ones went out (see release()).
    auto& st = s.slot<offline_session_state>();
    if (st.held) return hook_result::next;  // a flood is already on its way
    st.held = std::make_unique<std::vector<xml::element>>();
    flooding_.fetch_add(1, std::memory_order_relaxed);
    // Tracked: a graceful shutdown waits until the held messages are sent or stored again.
    srv_->spawn(pool_, flood(this, s.shared_from_this()));
    return hook_result::next;
  }

  static boost::asio::awaitable<void> flood(offline_module* self, std::shared_ptr<c2s_session> s) {
    const jid full = s->full_jid();
    std::vector<xml::element> stored;
    std::vector<int64_t> ids;
    try {
      auto rows = co_await self->store_->list(full.domain(), full.local(), false);
      if (rows) {
        for (auto& m : *rows) {
          auto el = decode_stanza(m.stanza);
          if (el) stored.push_back(std::move(*el));
          else spdlog::error("offline: dropping unreadable stored message {} of {}", m.id, full.bare_str());
          ids.push_back(m.id);
        }
      }
    } catch (const std::exception& e) {
      // Nothing is removed; the held messages still go out (below).
      spdlog::error("offline: reading the messages of {}: {}", full.bare_str(), e.what());
    }
    // Always released, whatever happened above: a session must not hold its messages forever.
    auto op = release(self, s, std::move(stored));
    const bool sent = co_await boost::asio::co_spawn(s->executor(), std::move(op), boost::asio::use_awaitable);
    if (sent && !ids.empty()) co_await self->store_->remove(full.domain(), full.local(), std::move(ids), false);
  }

  // On the session's thread, where the hook above holds messages: the stored messages, then
  // the held ones, with nothing in between. Returns whether the stored ones went out.
  static boost::asio::awaitable<bool> release(offline_module* self, std::shared_ptr<c2s_session> s,
                                              std::vector<xml::element> stored) {
    auto held = std::move(s->slot<offline_session_state>().held);
    self->flooding_.fetch_sub(1, std::memory_order_relaxed);
    const jid full = s->full_jid();
    if (!s->is_closing() && self->srv_->sessions().find(full) == s) {
      for (const auto& el : stored) s->send(el);
      if (held)
        for (const auto& el : *held) s->send(el);
      co_return true;
    }
    // The session went while the messages were read: the stored ones stay for the next one,
    // and held messages that would have been stored for an unavailable account join them
    // (RFC 6121 §8.5.3.2.1 and §8.5.2.2.1: chat and normal messages from others; XEP-0160 §3
    // rules still decide in take()). The rest (presence, IQs, the account's own carbons and
    // archive results) was for this session only.
    if (held)
      for (auto& el : *held)
        if (storable_for_later(el, full)) self->take(std::move(el), full.bare());
    co_return false;
  }

  static bool storable_for_later(const xml::element& el, const jid& owner) {
    if (el.name() != "message") return false;
    // The router's own classification (RFC 6121 §5.2.2: an unknown type is "normal").
    const message_type type = message_type_of(el);
    if (type != message_type::normal && type != message_type::chat) return false;
    auto from = jid::parse(el.attr_or("from"));
    return from && from->bare() != owner.bare();
  }

  // ---- XEP-0013

  static void mark_flexible(iq_request& req) {
    if (req.session) req.session->slot<offline_session_state>().flexible = true;
  }

  // XEP-0013 §2.2-2.3: only the account itself may look at its queue.
  static bool is_owner(iq_request& req) {
    if (req.from.bare() == req.to.bare()) return true;
    req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::forbidden));
    return false;
  }

  static boost::asio::awaitable<void> forbidden(iq_request& req) {
    req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::forbidden));
    co_return;
  }

  iq_handler node_info_handler() {
    return [this](iq_request& r) { return node_info(r); };
  }
  iq_handler node_items_handler() {
    return [this](iq_request& r) { return node_items(r); };
  }

  // XEP-0013 §2.2: identity, feature and the number of messages (XEP-0128 form).
  boost::asio::awaitable<void> node_info(iq_request& req) {
    if (!is_owner(req)) co_return;
    mark_flexible(req);
    auto n = co_await store_->count(req.to.domain(), req.to.local());
    if (!n) {
      req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::internal_server_error));
      co_return;
    }
    auto r = make_result(req.stanza);
    auto& q = r.add("query", std::string(ns_disco_info));
    q.set_attr("node", std::string(ns_offline));
    q.add("identity", std::string(ns_disco_info)).set_attr("category", "automation").set_attr("type", "message-list");
    q.add("feature", std::string(ns_disco_info)).set_attr("var", std::string(ns_offline));
    auto& x = q.add("x", std::string(ns_data));
    x.set_attr("type", "result");
    auto& ft = x.add("field", std::string(ns_data));
    ft.set_attr("var", "FORM_TYPE").set_attr("type", "hidden");
    ft.add("value", std::string(ns_data)).add_text(ns_offline);
    auto& f = x.add("field", std::string(ns_data));
    f.set_attr("var", "number_of_messages");
    f.add("value", std::string(ns_data)).add_text(std::to_string(*n));
    req.srv.reply(req, r);
  }

  // XEP-0013 §2.3: one item per message: jid = the account, node = its id, name = sender.
  boost::asio::awaitable<void> node_items(iq_request& req) {
    if (!is_owner(req)) co_return;
    mark_flexible(req);
    auto rows = co_await store_->list(req.to.domain(), req.to.local(), true);
    if (!rows) {
      req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::internal_server_error));
      co_return;
    }
    auto r = make_result(req.stanza);
    auto& q = r.add("query", std::string(ns_disco_items));
    q.set_attr("node", std::string(ns_offline));
    const std::string account = req.to.bare_str();
    for (const auto& m : *rows) {
      auto& i = q.add("item", std::string(ns_disco_items));
      i.set_attr("jid", account).set_attr("node", offline_node(m)).set_attr("name", m.sender);
    }
    req.srv.reply(req, r);
  }

  // Sends stored messages to the requesting session, each tagged with its node (§2.4, §2.6).
  static void send_tagged(iq_request& req, const std::vector<offline_message>& rows) {
    if (!req.session || req.session->is_closing()) return;
    for (const auto& m : rows) {
      auto el = decode_stanza(m.stanza);
      if (!el) continue;
      el->add("offline", std::string(ns_offline)).add("item", std::string(ns_offline)).set_attr("node", offline_node(m));
      req.session->send(*el);
    }
  }

  boost::asio::awaitable<void> handle_iq(iq_request& req) {
    if (!is_owner(req)) co_return;
    mark_flexible(req);
    const auto& q = req.payload();
    const std::string host = req.to.domain(), user = req.to.local();
    auto error = [&req](stanza_condition c) { req.srv.reply(req, make_error_reply(req.stanza, c)); };
    if (q.name() != "offline") {
      error(stanza_condition::bad_request);
      co_return;
    }
    if (q.child("fetch", ns_offline)) {
      // §2.6: every message, tagged; nothing is removed.
      if (!req.is_get()) co_return error(stanza_condition::bad_request);
      auto rows = co_await store_->list(host, user, false);
      if (!rows) co_return error(stanza_condition::internal_server_error);
      send_tagged(req, *rows);
      req.srv.reply(req, make_result(req.stanza));
      co_return;
    }
    if (q.child("purge", ns_offline)) {
      // §2.7
      if (req.is_get()) co_return error(stanza_condition::bad_request);
      if (!co_await store_->purge(host, user)) co_return error(stanza_condition::internal_server_error);
      req.srv.reply(req, make_result(req.stanza));
      co_return;
    }
    // §2.4 view (get) and §2.5 remove (set), by node.
    const std::string_view action = req.is_get() ? "view" : "remove";
    std::vector<int64_t> ids;
    for (const xml::element* item : q.elements()) {
      if (!item->is("item", ns_offline) || item->attr_or("action") != action) {
        co_return error(stanza_condition::bad_request);
      }
      auto id = parse_offline_node(item->attr_or("node"));
      if (!id) co_return error(stanza_condition::item_not_found);
      ids.push_back(*id);
    }
    if (ids.empty()) co_return error(stanza_condition::bad_request);
    // The node text must be exactly the one we gave out (stamp included).
    auto rows = co_await store_->get(host, user, ids);
    if (!rows) co_return error(stanza_condition::item_not_found);
    size_t i = 0;
    for (const xml::element* item : q.elements()) {
      if (offline_node((*rows)[i++]) != item->attr_or("node")) co_return error(stanza_condition::item_not_found);
    }
    if (action == "view") {
      send_tagged(req, *rows);
    } else if (!co_await store_->remove(host, user, std::move(ids), true)) {
      co_return error(stanza_condition::item_not_found);
    }
    req.srv.reply(req, make_result(req.stanza));
  }

  server* srv_ = nullptr;
  std::unique_ptr<offline_store> store_;
  int64_t quota_ = 1000;
  // Stores and floods run here, in order (see store_message).
  boost::asio::thread_pool pool_{1};
  // Messages handed to take() whose store() has not completed yet.
  std::atomic<int64_t> storing_{0};
  // Sessions whose initial-presence flood is on its way (the hook's quick way out).
  std::atomic<int> flooding_{0};
};

}  // namespace starling::modules

using starling::modules::offline_module;
STARLING_MODULE(offline_module, "offline")
