// XEP-0016 / XEP-0191 state and enforcement (see privacy_service.hpp).
#include "modules/presence/presence_api.hpp"
#include "modules/privacy/privacy_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <utility>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/roster/roster_api.hpp"
#include "util/random.hpp"

namespace starling::privacy {

namespace asio = boost::asio;

namespace {
// Set just before a stanza this service already checked is handed back to the core, and
// consumed by the hook it would otherwise meet again (the core runs hooks synchronously at the
// start of route() / client stanza handling, on this thread).
thread_local bool bypass_inbound = false;
thread_local bool bypass_outbound = false;

// Per session (session thread only): client stanzas waiting behind a deferred decision.
struct outbound_queue {
  std::deque<xml::element> stanzas;
  bool draining = false;
};

std::mutex registry_mutex;
std::map<server*, std::unique_ptr<service>>& registry() {
  static std::map<server*, std::unique_ptr<service>> r;
  return r;
}
}  // namespace

list* account_state::find(std::string_view name) {
  for (auto& l : lists)
    if (l.name == name) return &l;
  return nullptr;
}
const list* account_state::find(std::string_view name) const {
  return const_cast<account_state*>(this)->find(name);
}

const list* account_state::applicable(const std::string& resource) const {
  if (!resource.empty()) {
    auto it = resources.find(resource);
    // XEP-0016 §2.2 rule 1: an active list replaces the default list, no layering.
    if (it != resources.end() && it->second.active) return find(*it->second.active);
  }
  // Rule 2: the default list for a session without an active list and for the account.
  return default_list ? find(*default_list) : nullptr;
}

service& service::attach(server& srv) {
  std::lock_guard lock(registry_mutex);
  auto& r = registry()[&srv];
  if (!r) {
    r.reset(new service(srv));
    r->register_hooks();
  }
  return *r;
}

service::service(server& srv) : srv_(srv), store_(make_sqlite_store(srv)) {}

service::~service() { shutdown(); }

void service::shutdown() {
  pool_.stop();
  pool_.join();
}

void service::register_hooks() {
  // XEP-0016 §2.2 rule 4: privacy lists are the first delivery rule, hence the high priority.
  srv_.hooks().inbound_stanza.add(1000, [this](xml::element& st, const jid& to) { return on_inbound(st, to); });
  srv_.hooks().client_stanza.add(1000, [this](c2s_session& s, xml::element& st) { return on_outbound(s, st); });
  srv_.hooks().session_bound.add(0, [this](c2s_session& s) {
    {
      std::lock_guard lock(mutex_);
      auto it = accounts_.find(s.bare_jid().str());
      if (it != accounts_.end()) it->second->resources[s.full_jid().resource()] = {&s, {}, false};
    }
    // Load the account's lists now, so that its stanzas are decided without waiting.
    asio::co_spawn(s.executor(), preload(s.bare_jid()), asio::detached);
    return hook_result::next;
  });
  srv_.hooks().session_closed.add(0, [this](c2s_session& s) {
    // XEP-0016 §2.2 rule 1: an active list lasts for the session only.
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(s.bare_jid().str());
    if (it == accounts_.end()) return hook_result::next;
    auto r = it->second->resources.find(s.full_jid().resource());
    if (r != it->second->resources.end() && r->second.owner == &s) it->second->resources.erase(r);
    return hook_result::next;
  });
  srv_.hooks().session_resumed.add(0, [this](c2s_session& now, const c2s_session& before) {
    // XEP-0198: the resumed session keeps the resource's active list.
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(now.bare_jid().str());
    if (it == accounts_.end()) return hook_result::next;
    auto r = it->second->resources.find(now.full_jid().resource());
    if (r != it->second->resources.end() && r->second.owner == &before) r->second.owner = &now;
    return hook_result::next;
  });
  srv_.hooks().account_removed.add(0, [this](const jid& bare) {
    // The rows go with the account (cascading foreign keys); forget the cache.
    std::lock_guard lock(mutex_);
    accounts_.erase(bare.str());
    return hook_result::next;
  });
}

asio::awaitable<void> service::preload(jid bare) { co_await state(bare); }

asio::awaitable<std::shared_ptr<account_state>> service::state(jid bare) {
  {
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(bare.str());
    if (it != accounts_.end()) co_return it->second;
  }
  auto data = co_await store_->load(bare);
  if (!data) co_return nullptr;
  auto st = std::make_shared<account_state>();
  st->lists = std::move(data->lists);
  st->default_list = std::move(data->default_list);
  st->blocklist = std::move(data->blocklist);
  std::lock_guard lock(mutex_);
  auto [it, inserted] = accounts_.emplace(bare.str(), st);
  if (inserted) {
    // Sessions bound before the load finished.
    for (const auto& r : srv_.sessions().resources(bare))
      it->second->resources[r.full.resource()] = {r.session.get(), {}, false};
  }
  co_return it->second;
}

std::vector<jid> service::connected(const jid& bare) const {
  std::vector<jid> out;
  for (const auto& r : srv_.sessions().resources(bare)) out.push_back(r.full);
  return out;
}

void service::push(const jid& bare, const xml::element& payload, bool blocklist_only) {
  std::vector<jid> targets;
  {
    std::lock_guard lock(mutex_);
    auto it = accounts_.find(bare.str());
    for (const jid& full : connected(bare)) {
      if (blocklist_only) {
        if (it == accounts_.end()) continue;
        auto r = it->second->resources.find(full.resource());
        if (r == it->second->resources.end() || !r->second.wants_blocklist) continue;
      }
      targets.push_back(full);
    }
  }
  for (const jid& full : targets) {
    // XEP-0016 §2.6 / XEP-0191 §3.3: an IQ set to each resource, like a roster push.
    xml::element iq("iq", std::string(xml::ns_client));
    iq.set_attr("type", "set");
    iq.set_attr("id", "push-" + util::random_token(10));
    iq.set_attr("to", full.str());
    iq.add_child(payload);
    srv_.deliver_to_full(full, iq);
  }
}

bool service::is_local_user(const jid& j) const { return j.has_local() && srv_.is_local_host(j.domain()); }

bool service::exempt(const jid& owner, const jid& peer) const {
  // XEP-0016 §2.1 (note) and XEP-0191 §6: never block one of the user's resources from
  // another. Neither is the user's own server blocked: a list that denies everything must not
  // lock the client out of its server's services.
  return peer.bare() == owner.bare() || (peer.is_domain() && peer.domain() == owner.domain());
}

namespace {
// jid::bare_str() without an allocation: a per-thread buffer (check() runs once or twice per
// recipient of every broadcast).
std::string_view bare_key(const jid& j) {
  thread_local std::string buf;
  return j.bare_into(buf);
}
}  // namespace

service::side service::check(const jid& owner, const xml::element& st, direction dir, const jid& peer,
                             const roster_facts* r) {
  const std::string_view key = bare_key(owner);
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(key);
  if (it == accounts_.end()) return side::not_loaded;
  const account_state& a = *it->second;
  // No blocklist and no privacy list at all (most accounts): nothing can deny, and a stanza
  // fanned out to many recipients (a presence broadcast, RFC 6121 §4.2.2) should not pay for
  // the resource look-up below once per recipient.
  if (a.blocklist.empty() && a.lists.empty()) return side::allow;
  // XEP-0191 §6: blocked JIDs first, every stanza in both directions.
  if (is_blocked(a.blocklist, peer)) return side::blocked;
  const stanza_facts facts = facts_of(st, dir, peer);
  if (dir == direction::inbound && owner.is_bare()) {
    // A stanza to the bare JID reaches the connected resources chosen by the IM modules, each
    // with its own active or default list (XEP-0016 §2.2 rules 1-2); the decision cannot be
    // made per resource here. Denied when every resource's list denies it; presence, which
    // goes to all available resources, also when any list denies it (never leaking presence
    // to a session that refused it). With no session, the default list applies (rule 2).
    auto resources = connected(owner);
    if (!resources.empty()) {
      size_t denied = 0;
      for (const jid& full : resources) {
        const list* l = a.applicable(full.resource());
        verdict v = l ? evaluate(*l, facts, r) : verdict::allow;
        if (v == verdict::need_roster) return side::need_roster;
        if (v == verdict::deny) ++denied;
      }
      if (denied == resources.size() || (denied > 0 && facts.kind == "presence")) return side::deny;
      return side::allow;
    }
  }
  const list* l = a.applicable(owner.resource());
  if (!l) return side::allow;
  switch (evaluate(*l, facts, r)) {
    case verdict::allow: return side::allow;
    case verdict::deny: return side::deny;
    case verdict::need_roster: return side::need_roster;
  }
  return side::allow;
}

asio::awaitable<roster_facts> service::roster_of(jid owner, jid peer) {
  roster_facts f;
  try {
    const jid owner_bare = owner.bare();
    const jid peer_bare = peer.bare();
    auto lookup = roster::get_item(srv_, owner_bare, peer_bare);
    auto it = co_await std::move(lookup);
    if (it) {
      f.subscription = std::string(roster::to_string(it->sub));
      f.groups = it->groups;
    }
  } catch (const std::exception& e) {
    spdlog::warn("privacy: roster lookup for {} failed: {}", owner.bare_str(), e.what());
  }
  co_return f;
}

asio::awaitable<service::side> service::check_async(jid owner, const xml::element& st, direction dir, jid peer) {
  side s = check(owner, st, dir, peer, nullptr);
  if (s == side::not_loaded) {
    const jid owner_bare = owner.bare();
    auto a = co_await state(owner_bare);
    if (!a) co_return side::not_loaded;
    s = check(owner, st, dir, peer, nullptr);
  }
  if (s == side::need_roster) {
    // XEP-0016 §2.2 rule 9: group and subscription are looked up at the time of the stanza.
    roster_facts r = co_await roster_of(owner, peer);
    s = check(owner, st, dir, peer, &r);
  }
  co_return s;
}

// ---- inbound: stanzas addressed to a local account ----

hook_result service::on_inbound(xml::element& st, const jid& to) {
  if (std::exchange(bypass_inbound, false)) return hook_result::next;
  {
    std::lock_guard lock(queue_mutex_);
    if (inbound_draining_) {
      inbound_queue_.emplace_back(st, to);
      return hook_result::stop;
    }
  }
  auto from = jid::parse(st.attr_or("from"));
  if (!from || exempt(to, *from)) return hook_result::next;
  // The sender's own lists, for presence its client did not address itself (broadcasts made
  // by the server on its behalf): XEP-0016 §2.9 presence-out, XEP-0191 blocked contacts.
  side sender = side::allow;
  if (st.name() == "presence" && is_local_user(*from)) sender = check(*from, st, direction::outbound, to, nullptr);
  side recipient = check(to, st, direction::inbound, *from, nullptr);
  auto pending = [](side s) { return s == side::not_loaded || s == side::need_roster; };
  if (pending(sender) || pending(recipient)) {
    if ((sender == side::deny || sender == side::blocked) && st.name() == "presence") return hook_result::stop;
    defer_inbound(st, to);
    return hook_result::stop;
  }
  if (sender == side::deny || sender == side::blocked) return hook_result::stop;  // silently
  if (recipient == side::deny || recipient == side::blocked) {
    deny_inbound(st, to);
    return hook_result::stop;
  }
  return hook_result::next;
}

void service::defer_inbound(const xml::element& st, const jid& to) {
  std::lock_guard lock(queue_mutex_);
  inbound_queue_.emplace_back(st, to);
  if (inbound_draining_) return;
  inbound_draining_ = true;
  // Tracked: a graceful shutdown waits until the stanzas waiting here are delivered or stored
  // (e.g. a subscription request for an offline account, RFC 6121 §3.1.3).
  srv_.spawn(pool_, drain_inbound());
}

asio::awaitable<void> service::drain_inbound() {
  for (;;) {
    std::optional<std::pair<xml::element, jid>> next;
    {
      std::lock_guard lock(queue_mutex_);
      if (inbound_queue_.empty()) {
        inbound_draining_ = false;
        co_return;
      }
      next = std::move(inbound_queue_.front());
      inbound_queue_.pop_front();
    }
    try {
      auto op = inbound_async(std::move(next->first), std::move(next->second));
      co_await std::move(op);
    } catch (const std::exception& e) {
      spdlog::error("privacy: deferred inbound stanza: {}", e.what());
    }
  }
}

asio::awaitable<void> service::inbound_async(xml::element st, jid to) {
  auto from = jid::parse(st.attr_or("from"));
  if (!from) co_return;
  if (exempt(to, *from)) {
    // Queued behind a deferred stanza, but needs no check.
    bypass_inbound = true;
    co_await srv_.route(std::move(st), nullptr);
    bypass_inbound = false;
    co_return;
  }
  if (st.name() == "presence" && is_local_user(*from)) {
    side s = co_await check_async(*from, st, direction::outbound, to);
    if (s != side::allow) co_return;  // presence: dropped without error
  }
  side r = co_await check_async(to, st, direction::inbound, *from);
  if (r == side::not_loaded) {
    spdlog::error("privacy: no lists for {}: refusing the stanza", to.bare_str());
    r = side::deny;
  }
  if (r != side::allow) {
    deny_inbound(st, to);
    co_return;
  }
  // Hand the stanza back to the router; this service's inbound hook lets it pass once.
  bypass_inbound = true;
  co_await srv_.route(std::move(st), nullptr);
  bypass_inbound = false;
}

void service::deny_inbound(const xml::element& st, const jid& to) {
  // XEP-0016 §2.13 and XEP-0191 §3.3: presence is dropped without an error; messages and
  // IQ get/set get <service-unavailable/> so that the user appears offline; other IQs (and
  // errors, RFC 6120 §8.3.1) are dropped.
  if (st.name() == "presence" || is_error(st)) return;
  std::string_view type = st.attr_or("type");
  if (st.name() == "iq" && type != "get" && type != "set") return;
  auto reply = make_error_reply(st, stanza_condition::service_unavailable);
  auto sender = jid::parse(reply.attr_or("to"));
  if (!sender) return;
  if (sender->has_resource()) {
    srv_.deliver_to_full(*sender, reply);
  } else {
    for (const auto& r : srv_.sessions().resources(*sender)) srv_.deliver_to_full(r.full, reply);
  }
}

// ---- outbound: stanzas from a local client ----

hook_result service::on_outbound(c2s_session& s, xml::element& st) {
  if (std::exchange(bypass_outbound, false)) return hook_result::next;
  auto& queue = s.slot<outbound_queue>();
  if (queue.draining) {
    queue.stanzas.push_back(st);
    return hook_result::stop;
  }
  const std::string* t = st.attr("to");
  if (!t) return hook_result::next;  // to the account itself, or a presence broadcast
  auto to = jid::parse(*t);
  if (!to || exempt(s.full_jid(), *to)) return hook_result::next;
  side r = check(s.full_jid(), st, direction::outbound, *to, nullptr);
  switch (r) {
    case side::allow:
      return hook_result::next;
    case side::deny:
    case side::blocked:
      deny_outbound(s, st, r == side::blocked);
      return hook_result::stop;
    case side::not_loaded:
    case side::need_roster:
      queue.stanzas.push_back(st);
      queue.draining = true;
      asio::co_spawn(s.executor(), drain_outbound(s.shared_from_this()), asio::detached);
      return hook_result::stop;
  }
  return hook_result::next;
}

asio::awaitable<void> service::drain_outbound(std::shared_ptr<c2s_session> s) {
  // Runs on the session's thread, like the hook that fills the queue.
  auto& queue = s->slot<outbound_queue>();
  while (!queue.stanzas.empty()) {
    xml::element st = std::move(queue.stanzas.front());
    queue.stanzas.pop_front();
    if (s->is_closing()) continue;
    try {
      auto op = outbound_async(s, std::move(st));
      co_await std::move(op);
    } catch (const std::exception& e) {
      spdlog::error("privacy: deferred stanza from {}: {}", s->full_jid().str(), e.what());
    }
  }
  queue.draining = false;
}

asio::awaitable<void> service::outbound_async(std::shared_ptr<c2s_session> s, xml::element st) {
  // Stanzas queued behind a deferred one may need no check at all (no 'to', or exempt).
  std::optional<jid> to;
  if (const std::string* t = st.attr("to")) to = jid::parse(*t);
  const jid self = s->full_jid();
  side r = side::allow;
  if (to && !exempt(self, *to)) r = co_await check_async(self, st, direction::outbound, *to);
  if (s->is_closing()) co_return;
  if (r == side::not_loaded) {
    if (!is_error(st)) s->send(make_error_reply(st, stanza_condition::internal_server_error));
    co_return;
  }
  if (r != side::allow) {
    deny_outbound(*s, st, r == side::blocked);
    co_return;
  }
  // Continue where the session left off: the other client_stanza hooks, then the router.
  bypass_outbound = true;
  hook_result h = srv_.hooks().client_stanza.run(*s, st);
  bypass_outbound = false;
  if (h == hook_result::stop) co_return;
  co_await srv_.route(std::move(st), s.get());
}

void service::deny_outbound(c2s_session& s, const xml::element& st, bool blocklist) {
  if (is_error(st)) return;  // RFC 6120 §8.3.1
  // XEP-0016 §2.13: <not-acceptable/>; XEP-0191 §3.3 adds <blocked/> for a blocked JID.
  auto reply = make_error_reply(st, stanza_condition::not_acceptable);
  if (blocklist) {
    if (auto* err = reply.child("error", xml::ns_client)) err->add("blocked", std::string(ns_blocking_errors));
  }
  s.send(reply);
}

// ---- XEP-0191 §3.3/§3.4 presence effects ----

asio::awaitable<void> service::presence_on_block(jid owner, std::vector<jid> items, bool unblocked) {
  // XEP-0191 §3.3: a newly blocked contact sees the user go offline; §3.4: an unblocked one
  // gets the user's current presence again — in both cases only a contact allowed to see the
  // user's presence (RFC 6121: subscription 'from' or 'both'), for exact bare JIDs.
  for (const jid& contact : items) {
    if (!contact.has_local() || contact.has_resource()) continue;
    roster_facts r = co_await roster_of(owner, contact);
    if (r.subscription != "from" && r.subscription != "both") continue;
    if (unblocked) {
      modules::send_current_presence(owner, contact);
      continue;
    }
    for (const auto& res : srv_.sessions().resources(owner)) {
      if (!res.available) continue;
      xml::element p("presence", std::string(xml::ns_client));
      p.set_attr("type", "unavailable");
      p.set_attr("from", res.full.str());
      if (!is_local_user(contact)) {
        // Remote: routed as is (the owner's lists apply only to what reaches local accounts).
        p.set_attr("to", contact.str());
        co_await srv_.route(std::move(p), nullptr);
        continue;
      }
      // Local: delivered directly, since the router's inbound check would now drop presence
      // from the owner to the contact just blocked.
      for (const auto& peer : srv_.sessions().resources(contact)) {
        p.set_attr("to", peer.full.str());
        srv_.deliver_to_full(peer.full, p);
      }
    }
  }
}

}  // namespace starling::privacy
