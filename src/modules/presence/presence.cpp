// RFC 6121 §3 and §4: presence subscriptions (the user's side and the contact's side, with the
// state machine of roster/subscription.hpp) and presence exchange: initial presence broadcast
// and probes, subsequent and unavailable broadcasts, directed presence remembered for the
// logoff broadcast, unavailable presence when a session ends in any way, delivery of inbound
// presence (RFC 6121 §8.5), probe answers for offline or unsubscribed probers (§4.3.2), for
// local and remote (federated) contacts alike. Not implemented: storage of
// subscribed/unsubscribe notifications for offline users (the roster carries the new state).
//
// Subscription floods: at most `limits.max_subscriptions_per_minute` outbound subscribe
// requests per account per minute; beyond that the request is answered with a presence error
// <policy-violation/> and not processed.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <charconv>
#include <deque>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <set>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/last/last_api.hpp"
#include "modules/presence/presence_api.hpp"
#include "modules/offline/offline_codec.hpp"
#include "modules/roster/roster_service.hpp"

namespace starling::modules {

namespace asio = boost::asio;
using roster::sub_type;
using roster::subscription;

namespace {

// Per-session presence state; touched only on the session's thread.
struct presence_state {
  bool available = false;
  std::optional<xml::element> last;   // last available presence broadcast (RFC 6121 §4.4)
  std::set<std::string> directed;     // RFC 6121 §4.6.3: recipients of directed presence
  // Presence from the client, processed in order. A list: an empty std::deque already holds a
  // 512-byte node, and every session has this state.
  std::list<xml::element> queue;
  bool busy = false;
};

bool has_from(subscription s) { return s == subscription::from || s == subscription::both; }
bool has_to(subscription s) { return s == subscription::to || s == subscription::both; }

xml::element make_presence(const jid& from, std::string to, std::string_view type) {
  xml::element p("presence", std::string(xml::ns_client));
  p.set_attr("from", from.str());
  p.set_attr("to", std::move(to));
  if (!type.empty()) p.set_attr("type", std::string(type));
  return p;
}
xml::element make_presence(const jid& from, const jid& to, std::string_view type) {
  return make_presence(from, to.str(), type);
}

// The domain of a bare JID string as the roster stores it (normalised: "local@domain" or
// "domain").
std::string_view domain_of(std::string_view bare) {
  auto at = bare.find('@');
  return at == std::string_view::npos ? bare : bare.substr(at + 1);
}

// RFC 6121 §4.7.2.3: priority is an integer in -128..127; absent means 0.
std::optional<int> parse_priority(const xml::element& p) {
  const xml::element* pr = p.child("priority", xml::ns_client);
  if (!pr) return 0;
  std::string t = pr->text();
  int v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || ptr != t.data() + t.size() || t.empty() || v < -128 || v > 127) return std::nullopt;
  return v;
}

bool valid_type(std::string_view t) {
  return t.empty() || t == "unavailable" || t == "subscribe" || t == "subscribed" || t == "unsubscribe" ||
         t == "unsubscribed" || t == "probe" || t == "error";
}

}  // namespace

class presence_module;
namespace {
presence_module* g_presence = nullptr;  // the running module (one server per process)
}

class presence_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    g_presence = this;
    subscribe_limit_ = std::make_unique<rate_limiter>(srv.cfg().limit.max_subscriptions_per_minute,
                                                      std::chrono::minutes(1));
    srv.hooks().client_stanza.add(0, [this](c2s_session& s, xml::element& el) {
      if (el.name() != "presence") return hook_result::next;
      auto& st = s.slot<presence_state>();
      st.queue.push_back(std::move(el));
      if (!st.busy) {
        st.busy = true;
        asio::co_spawn(s.executor(), drain(s.shared_from_this()), asio::detached);
      }
      return hook_result::stop;
    });
    srv.hooks().local_delivery.add(0, [this](xml::element& el, const jid& to) {
      if (el.name() != "presence") return hook_result::next;
      inbound(el, to);
      return hook_result::stop;
    });
    srv.hooks().session_closed.add(0, [this](c2s_session& s) {
      auto& st = s.slot<presence_state>();
      if (!st.available && st.directed.empty()) return hook_result::next;
      // RFC 6121 §4.5.2 and §4.6.3: a session that ends without unavailable presence (closed
      // stream, error, dropped TCP) is announced as unavailable by the server: to contacts if
      // it was available, and to directed-presence recipients in any case.
      const bool was_available = st.available;
      st.available = false;
      srv_->sessions().set_presence(s.full_jid(), false, 0);
      xml::element p("presence", std::string(xml::ns_client));
      p.set_attr("type", "unavailable");
      p.set_attr("from", s.full_jid().str());
      std::vector<std::string> directed(st.directed.begin(), st.directed.end());
      st.directed.clear();
      // On the session's own thread (it is still running): no wake-up of another thread per
      // logout; the stanzas are routed from here as from any thread.
      srv_->spawn(s.executor(),
                  broadcast_unavailable(s.full_jid(), std::move(p), std::move(directed), was_available));
      return hook_result::next;
    });
  }

  void stop() override {
    g_presence = nullptr;
    pool_.join();
  }

  // The current presence of every available resource of `user`, to `to` (RFC 6121 §3.1.5, §4.3.2).
  void send_current_presence(const jid& user, const jid& to) {
    for (const auto& r : srv_->sessions().resources(user))
      if (r.available) send_current_presence_of(r.session, to, false);
  }

 private:
  // ---------------------------------------------------------------- from the client

  asio::awaitable<void> drain(std::shared_ptr<c2s_session> s) {
    auto& st = s->slot<presence_state>();
    while (!st.queue.empty()) {
      xml::element el = std::move(st.queue.front());
      st.queue.pop_front();
      // A closing session's presence is not broadcast any more (its unavailable presence is
      // on its way), but a subscription stanza the client sent before it closed is still
      // processed: it was accepted, and the contact's server must store a request (RFC 6121
      // §3.1.3), also when the stream ends because the server shuts down.
      if (s->is_closing() && !roster::parse_sub_type(el.attr_or("type"))) continue;
      try {
        co_await outbound(s, std::move(el));
      } catch (const std::exception& e) {
        spdlog::error("presence from {}: {}", s->full_jid().str(), e.what());
      }
    }
    st.busy = false;
  }

  void error_to(c2s_session& s, const xml::element& el, stanza_condition c, std::string_view text = {}) {
    if (is_error(el) || s.is_closing()) return;
    auto reply = make_error_reply(el, c, {}, text);
    if (!el.attr("to")) reply.remove_attr("from");
    s.send(reply);
  }

  asio::awaitable<void> outbound(std::shared_ptr<c2s_session> s, xml::element el) {
    std::string type(el.attr_or("type"));
    if (!valid_type(type)) {
      // RFC 6121 §4.7.1: the presence types are a closed set.
      error_to(*s, el, stanza_condition::bad_request, "Unknown presence type");
      co_return;
    }
    const std::string* to_attr = el.attr("to");
    std::optional<jid> to = to_attr ? jid::parse(*to_attr) : std::nullopt;
    if (auto st = roster::parse_sub_type(type)) {
      if (!to) {
        error_to(*s, el, stanza_condition::bad_request, "Subscription requests need a 'to'");
        co_return;
      }
      co_await outbound_subscription(s, std::move(el), *st, to->bare());
      co_return;
    }
    if (type == "probe") co_return;  // RFC 6121 §4.3: probes are the server's business
    if (!to) {
      if (type.empty()) co_await broadcast_available(s, std::move(el));
      else if (type == "unavailable") co_await client_unavailable(s, std::move(el));
      co_return;  // errors without 'to' go nowhere
    }
    auto& st = s->slot<presence_state>();
    if (type.empty()) {
      if (!parse_priority(el)) {
        error_to(*s, el, stanza_condition::bad_request, "Invalid priority");
        co_return;
      }
      st.directed.insert(to->str());  // RFC 6121 §4.6.2
    } else if (type == "unavailable") {
      st.directed.erase(to->str());
    }
    co_await srv_->route(std::move(el), s.get());
  }

  asio::awaitable<void> outbound_subscription(std::shared_ptr<c2s_session> s, xml::element el, sub_type type,
                                              jid contact) {
    jid user = s->bare_jid();
    // Remote contacts take the same path: the user's side of the state machine runs here, the
    // contact's side on the contact's server, which the router reaches over federation.
    if (type == sub_type::subscribe) {
      const std::string key = user.str();
      if (!subscribe_limit_->allowed(key)) {
        error_to(*s, el, stanza_condition::policy_violation, "Too many subscription requests; try again later");
        co_return;
      }
      subscribe_limit_->record(key);
    }
    auto res = co_await roster::apply_subscription(*srv_, user, contact, type, true, {});
    if (res.rejected) {
      error_to(*s, el, stanza_condition::resource_constraint, "The roster is full");
      co_return;
    }
    if (res.t.forward) {
      // RFC 6121 §3.1.2: the request is stamped with the user's bare JID.
      el.set_attr("from", user.str());
      el.set_attr("to", contact.str());
      co_await srv_->route(std::move(el), s.get());
    }
    if (res.t.send_presence) send_current_presence(user, contact);
    if (res.t.send_unavailable) co_await send_unavailable(user, contact);
  }

  // RFC 6121 §4.2 (initial) and §4.4 (subsequent) presence broadcast.
  asio::awaitable<void> broadcast_available(std::shared_ptr<c2s_session> s, xml::element el) {
    auto prio = parse_priority(el);
    if (!prio) {
      error_to(*s, el, stanza_condition::bad_request, "Invalid priority");
      co_return;
    }
    auto& st = s->slot<presence_state>();
    const bool initial = !st.available;
    const jid full = s->full_jid();
    const jid user = full.bare();
    st.available = true;
    el.remove_attr("to");
    st.last = el;
    srv_->sessions().set_presence(full, true, *prio);
    // Contact and subscription only (RFC 6121 §4.2.2 needs no more), from a covering index;
    // for an initial presence with the pending requests (RFC 6121 §3.1.3) in the same read.
    std::vector<roster::contact_sub> items;
    std::vector<roster::pending_request> pending;
    if (initial) {
      auto op = roster::initial_presence_data(*srv_, user);
      auto data = co_await std::move(op);
      items = std::move(data.contacts);
      pending = std::move(data.pending);
    } else {
      auto op = roster::presence_contacts(*srv_, user);
      auto contacts = co_await std::move(op);
      items = std::move(contacts);
    }
    // The session may have ended meanwhile (its unavailable broadcast already went out).
    if (!st.available || s->is_closing()) co_return;
    const std::string user_str = user.str();
    for (const auto& it : items) {
      if (!has_from(it.sub) || it.contact == user_str) continue;
      xml::element p = el;
      p.set_attr("to", it.contact);
      co_await srv_->route(std::move(p), s.get());
    }
    // RFC 6121 §4.2.2 / §4.4.2: also to all of the user's available resources, this one included.
    for (const auto& r : srv_->sessions().resources(user)) {
      if (!r.available) continue;
      xml::element p = el;
      p.set_attr("to", r.full.str());
      r.session->deliver(std::move(p));
    }
    if (!initial) co_return;
    // RFC 6121 §4.2.2: probe the contacts the user is subscribed to; the answers (RFC 6121 §4.3.2)
    // come back to this resource.
    co_await send_probes(full, items, s.get());
    // The presence of the user's other available resources, for this one.
    for (const auto& r : srv_->sessions().resources(user))
      if (r.available && r.full != full) send_current_presence_of(r.session, full, true);
    // RFC 6121 §3.1.3: requests that arrived while the user was offline, again at each login
    // until answered (read above with the contacts; one arriving since came to this resource
    // directly, as it is available).
    for (const auto& req : pending) {
      if (s->is_closing()) break;
      xml::element p = make_presence(req.contact, user, "subscribe");
      if (!req.status.empty()) p.add("status", std::string(xml::ns_client)).add_text(req.status);
      s->send(p);
    }
    srv_->hooks().initial_presence.run(*s);
  }

  // RFC 6121 §4.5.2: unavailable presence from the client.
  asio::awaitable<void> client_unavailable(std::shared_ptr<c2s_session> s, xml::element el) {
    auto& st = s->slot<presence_state>();
    if (!st.available) co_return;
    st.available = false;
    st.last.reset();
    srv_->sessions().set_presence(s->full_jid(), false, 0);
    std::vector<std::string> directed(st.directed.begin(), st.directed.end());
    st.directed.clear();
    el.remove_attr("to");
    co_await broadcast_unavailable(s->full_jid(), std::move(el), std::move(directed));
  }

  // RFC 6121 §4.5.2 and §4.6.3: to contacts with 'from', the user's other available resources,
  // and whoever received directed presence.
  asio::awaitable<void> broadcast_unavailable(jid full, xml::element el, std::vector<std::string> directed,
                                              bool to_contacts = true) {
    const jid user = full.bare();
    std::set<std::string> sent;
    try {
      std::vector<roster::contact_sub> items;
      if (to_contacts) items = co_await roster::presence_contacts(*srv_, user);
      const std::string user_str = user.str();
      for (const auto& it : items) {
        if (!has_from(it.sub) || it.contact == user_str) continue;
        xml::element p = el;
        p.set_attr("to", it.contact);
        if (!directed.empty()) sent.insert(it.contact);
        co_await srv_->route(std::move(p), nullptr);
      }
    } catch (const std::exception& e) {
      spdlog::error("presence: roster of {}: {}", user.str(), e.what());
    }
    for (const auto& r : srv_->sessions().resources(user)) {
      if (!to_contacts || !r.available || r.full == full) continue;
      xml::element p = el;
      p.set_attr("to", r.full.str());
      r.session->deliver(std::move(p));
    }
    for (const auto& d : directed) {
      auto j = jid::parse(d);
      if (!j || sent.count(d) || j->bare() == user) continue;
      xml::element p = el;
      p.set_attr("to", d);
      co_await srv_->route(std::move(p), nullptr);
    }
  }

  // ---------------------------------------------------------------- probes of a login

  // RFC 6121 §4.2.2 / §4.3.2. Every probe is routed as before (privacy lists and blocking,
  // XEP-0016 / XEP-0191, decide on it in the router's inbound hook exactly as for any other
  // presence), but a probe that reaches a local account while its login is being processed is
  // not answered on its own (an account read, a roster read and a last-activity read each):
  // inbound() only collects it here, and the prober's coroutine answers all of them after the
  // probes went out, from one read of who may see the prober's presence
  // (roster::subscribers_of, read now, no cache), the contacts' sessions in memory, and one
  // last-activity read for those that are offline. A probe that arrives after the batch closed
  // (e.g. held back by the privacy module until the account's lists are loaded) takes the
  // single-probe path, answer_probe(), with the same rules.
  struct probe_batch {
    std::unordered_set<std::string> subscribers;  // bare JIDs: their roster has the prober 'from'/'both'
    std::vector<jid> accepted;                    // local contacts whose probe was delivered
    bool closed = false;
  };

  bool take_batched_probe(const jid& prober, const jid& contact) {
    std::lock_guard lock(batch_mutex_);
    auto it = batches_.find(prober.str());
    if (it == batches_.end() || it->second->closed) return false;
    it->second->accepted.push_back(contact.bare());
    return true;
  }

  asio::awaitable<void> send_probes(jid full, const std::vector<roster::contact_sub>& items, c2s_session* origin) {
    const jid user = full.bare();
    const std::string user_str = user.str();
    bool any_local = false;
    for (const auto& it : items)
      if (has_to(it.sub) && it.contact != user_str && srv_->is_local_host(domain_of(it.contact))) any_local = true;
    std::shared_ptr<probe_batch> batch;
    if (any_local) {
      try {
        auto subs = co_await roster::subscribers_of(*srv_, user);
        batch = std::make_shared<probe_batch>();
        batch->subscribers.insert(subs.begin(), subs.end());
        std::lock_guard lock(batch_mutex_);
        // One batch per full JID; a second login of the same resource at the same moment
        // (replaced session) takes the single-probe path.
        if (!batches_.emplace(full.str(), batch).second) batch.reset();
      } catch (const std::exception& e) {
        spdlog::warn("presence: subscribers of {}: {}", user.str(), e.what());
      }
    }
    std::vector<jid> accepted;
    try {
      for (const auto& it : items) {
        if (!has_to(it.sub) || it.contact == user_str) continue;
        co_await srv_->route(make_presence(full, it.contact, "probe"), origin);
      }
    } catch (...) {
      if (batch) close_batch(full, *batch);
      throw;
    }
    if (!batch) co_return;
    accepted = close_batch(full, *batch);
    co_await answer_probes(full, *batch, std::move(accepted));
  }

  std::vector<jid> close_batch(const jid& full, probe_batch& batch) {
    std::lock_guard lock(batch_mutex_);
    batch.closed = true;
    auto it = batches_.find(full.str());
    if (it != batches_.end() && it->second.get() == &batch) batches_.erase(it);
    return std::move(batch.accepted);
  }

  // answer_probe()'s rules for every probe of a batch.
  asio::awaitable<void> answer_probes(jid prober, const probe_batch& batch, std::vector<jid> contacts) {
    std::vector<jid> offline;
    for (const jid& contact : contacts) {
      // §4.3.2 rule 1: no such account (it has no roster rows then), or the prober is not
      // subscribed: "unsubscribed" from the bare JID.
      if (!batch.subscribers.count(contact.str())) {
        co_await srv_->route(make_presence(contact, prober.bare(), "unsubscribed"), nullptr);
        continue;
      }
      // Rule 2: the current presence of every available resource.
      bool any = false;
      for (const auto& r : srv_->sessions().resources(contact)) {
        if (!r.available) continue;
        any = true;
        if (r.full == prober) continue;
        if (auto p = current_presence_here(*r.session, prober)) {
          co_await srv_->route(std::move(*p), nullptr);
        } else if (!on_this_thread(*r.session)) {
          send_current_presence_of(r.session, prober, false);
        }
      }
      if (!any) offline.push_back(contact);
    }
    if (offline.empty()) co_return;
    // Rule 3: the last unavailable presence, as far as the server kept it.
    auto last_op = last_logouts(offline);
    auto last = co_await std::move(last_op);
    for (const jid& contact : offline) {
      auto it = last.find(contact.str());
      co_await srv_->route(unavailable_answer(contact, prober, it == last.end() ? nullptr : &it->second), nullptr);
    }
  }

  static bool on_this_thread(c2s_session& r) {
    // Named: target() points into the executor object, which must outlive its use.
    const asio::any_io_executor ex = r.executor();
    const auto* io = ex.target<asio::io_context::executor_type>();
    return io && io->running_in_this_thread();
  }

  // The session's current presence addressed to `to`, when the session lives on this thread
  // (its presence state is touched only there); nullopt if it is elsewhere or has none.
  static std::optional<xml::element> current_presence_here(c2s_session& r, const jid& to) {
    if (!on_this_thread(r)) return std::nullopt;
    auto& st = r.slot<presence_state>();
    if (!st.available || !st.last || r.is_closing()) return std::nullopt;
    xml::element p = *st.last;
    p.set_attr("from", r.full_jid().str());
    p.set_attr("to", to.str());
    return p;
  }

  // §4.3.2 rule 3: unavailable from the bare JID, with XEP-0012's logout record if kept (its
  // status, and when, as a XEP-0203 delay).
  static xml::element unavailable_answer(const jid& contact, const jid& prober, const last_record* last) {
    xml::element p = make_presence(contact, prober, "unavailable");
    if (last) {
      if (!last->status.empty()) p.add("status", std::string(xml::ns_client)).add_text(last->status);
      auto& d = p.add("delay", std::string(ns_delay));
      d.set_attr("from", contact.domain());
      d.set_attr("stamp", xep0082_stamp(std::chrono::system_clock::from_time_t(last->logout)));
    }
    return p;
  }

  void send_current_presence_of(std::shared_ptr<c2s_session> r, jid to, bool deliver_directly) {
    server* srv = srv_;
    asio::post(r->executor(), [srv, r, to, deliver_directly] {
      auto& st = r->slot<presence_state>();
      if (!st.available || !st.last || r->is_closing()) return;
      xml::element p = *st.last;
      p.set_attr("from", r->full_jid().str());
      p.set_attr("to", to.str());
      if (deliver_directly) {
        srv->deliver_to_full(to, p);
        return;
      }
      asio::co_spawn(r->executor(), srv->route(std::move(p), nullptr), asio::detached);
    });
  }

  asio::awaitable<void> send_unavailable(jid user, jid contact) {
    for (const auto& r : srv_->sessions().resources(user))
      if (r.available) co_await srv_->route(make_presence(r.full, contact, "unavailable"), nullptr);
  }

  // ---------------------------------------------------------------- to a local account

  // RFC 6121 §8.5.2 / §8.5.3 for presence; subscription stanzas and probes are handled for the
  // account on the module's thread (they need the roster).
  void inbound(xml::element& el, const jid& to) {
    auto from = jid::parse(el.attr_or("from"));
    if (!from) return;
    std::string type(el.attr_or("type"));
    if (auto st = roster::parse_sub_type(type)) {
      // RFC 6121 §3.1.3: processed for the bare JID, whatever resource it was sent to.
      jid user = to.bare();
      bool start = false;
      {
        std::lock_guard lock(order_mutex_);
        const std::string key = user.str();
        ++held_[key].in_flight;
        // One at a time per account, in arrival order (RFC 6120 §10.1): each one reads the
        // roster item, decides and writes it back, and a second one for the same contact must
        // see what the first wrote ("subscribe" then "unsubscribe" must leave no pending request).
        auto [it, inserted] = subscriptions_.try_emplace(key);
        it->second.push_back({el, from->bare(), *st});
        start = inserted;
      }
      // Tracked (server::spawn): a shutdown waits until the request is stored (RFC 6121 §3.1.3).
      if (start) srv_->spawn(pool_, drain_subscriptions(std::move(user)));
      return;
    }
    if (type == "probe") {
      if (take_batched_probe(*from, to)) return;
      srv_->spawn(pool_, answer_probe(*from, to.bare()));
      return;
    }
    if (!type.empty() && type != "unavailable" && type != "error") return;
    {
      // Presence that follows a subscription stanza (the contact's presence right after its
      // "subscribed", RFC 6121 §3.1.5) waits until that stanza's roster push and delivery
      // went out, so that the user's client sees them in the order they were sent.
      std::lock_guard lock(order_mutex_);
      auto it = held_.find(to.bare_str());
      if (it != held_.end() && it->second.in_flight > 0) {
        it->second.queue.emplace_back(el, to);
        return;
      }
    }
    deliver_presence(el, to);
  }

  // Called when an inbound subscription stanza for `user` has been processed.
  void release_held(const jid& user) {
    std::vector<std::pair<xml::element, jid>> queued;
    {
      std::lock_guard lock(order_mutex_);
      auto it = held_.find(user.str());
      if (it == held_.end()) return;
      if (--it->second.in_flight > 0) return;
      queued = std::move(it->second.queue);
      held_.erase(it);
    }
    for (auto& [el, to] : queued) deliver_presence(el, to);
  }

  void deliver_presence(xml::element& el, const jid& to) {
    std::string type(el.attr_or("type"));
    if (to.has_resource()) {
      // RFC 6121 §8.5.3.1; §8.5.3.2.1: no such resource: silently ignored.
      srv_->deliver_to_full(to, el);
      return;
    }
    if (type == "error") return;
    // RFC 6121 §8.5.2.1.2: to every available resource; none: ignored (§8.5.2.2.1).
    for (const auto& r : srv_->sessions().resources(to))
      if (r.available) r.session->deliver(el);
  }

  // Processes the account's queued subscription stanzas; the queue's entry exists while this
  // runs, and only this coroutine removes it (when it finds the queue empty).
  asio::awaitable<void> drain_subscriptions(jid user) {
    const std::string key = user.str();
    for (;;) {
      pending_subscription next;
      {
        std::lock_guard lock(order_mutex_);
        auto it = subscriptions_.find(key);
        if (it->second.empty()) {
          subscriptions_.erase(it);
          co_return;
        }
        next = std::move(it->second.front());
        it->second.pop_front();
      }
      try {
        co_await inbound_subscription(std::move(next.el), user, std::move(next.contact), next.type);
      } catch (const std::exception& e) {
        // Never leave the entry behind without its drain: later stanzas would wait forever.
        spdlog::error("presence: subscription for {}: {}", key, e.what());
      }
    }
  }

  asio::awaitable<void> inbound_subscription(xml::element el, jid user, jid contact, sub_type type) {
    bool released = false;  // release_held() exactly once, also when something throws
    try {
      // RFC 6121 §8.5.1: subscription stanzas for an account that does not exist are ignored.
      auto acc = co_await srv_->db().accounts().get(user.domain(), user.local());
      if (!acc) {
        released = true;
        release_held(user);
        co_return;
      }
      auto res = co_await roster::apply_subscription(*srv_, user, contact, type, false,
                                                     el.child_text("status", xml::ns_client));
      if (res.t.forward) {
        // RFC 6121 §3.1.3: delivered to the user's available resources from the contact's bare
        // JID; a subscribe request also stays stored for later logins until answered.
        el.set_attr("from", contact.str());
        el.set_attr("to", user.str());
        for (const auto& r : srv_->sessions().resources(user))
          if (r.available) r.session->deliver(el);
      }
      released = true;
      release_held(user);
      if (res.t.auto_subscribed)
        co_await srv_->route(make_presence(user, contact, "subscribed"), nullptr);
      if (res.t.send_presence) send_current_presence(user, contact);
      if (res.t.send_unavailable) co_await send_unavailable(user, contact);
    } catch (const std::exception& e) {
      if (!released) release_held(user);
      spdlog::error("presence: subscription for {}: {}", user.str(), e.what());
    }
  }

  // RFC 6121 §4.3.2: the server answers probes for its users.
  asio::awaitable<void> answer_probe(jid prober, jid contact) {
    try {
      if (prober.bare() != contact) {
        // (get_item takes references: its arguments must outlive the awaitable.)
        auto acc_op = srv_->db().accounts().get(contact.domain(), contact.local());
        auto acc = co_await std::move(acc_op);
        const jid prober_bare = prober.bare();
        auto item_op = roster::get_item(*srv_, contact, prober_bare);
        auto it = co_await std::move(item_op);
        // §4.3.2 rule 1: no such account, or the prober is not subscribed: "unsubscribed" from
        // the bare JID (a full JID would leak presence); it does not cancel a pre-approval.
        if (!acc || !it || !has_from(it->sub)) {
          co_await srv_->route(make_presence(contact, prober.bare(), "unsubscribed"), nullptr);
          co_return;
        }
      }
      bool any = false;
      for (const auto& r : srv_->sessions().resources(contact))
        if (r.available) {
          any = true;
          if (r.full != prober) send_current_presence_of(r.session, prober, false);
        }
      if (any || prober.bare() == contact) co_return;
      // §4.3.2 rule 3: no available resource: the last unavailable presence, as far as the
      // server kept it (XEP-0012's logout record: its status, and when, as a XEP-0203 delay).
      auto last_op = last_logout(contact);
      auto last = co_await std::move(last_op);
      co_await srv_->route(unavailable_answer(contact, prober, last ? &*last : nullptr), nullptr);
    } catch (const std::exception& e) {
      spdlog::error("presence: probe of {}: {}", contact.str(), e.what());
    }
  }

  struct held_presence {
    int in_flight = 0;  // inbound subscription stanzas being processed for the account
    std::vector<std::pair<xml::element, jid>> queue;
  };
  std::mutex batch_mutex_;
  std::unordered_map<std::string, std::shared_ptr<probe_batch>> batches_;  // by the prober's full JID
  struct pending_subscription {
    xml::element el;
    jid contact;
    sub_type type = sub_type::subscribe;
  };
  std::mutex order_mutex_;
  std::unordered_map<std::string, held_presence> held_;  // by bare JID of the local account
  // Inbound subscription stanzas not yet processed, by bare JID of the local account; an
  // entry exists while its drain_subscriptions() runs.
  std::unordered_map<std::string, std::deque<pending_subscription>> subscriptions_;

  server* srv_ = nullptr;
  asio::thread_pool pool_{1};
  std::unique_ptr<rate_limiter> subscribe_limit_;
};

void send_current_presence(const jid& user, const jid& to) {
  if (g_presence) g_presence->send_current_presence(user, to);
}

STARLING_MODULE(presence_module, "presence")

}  // namespace starling::modules
