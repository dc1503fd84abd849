// XEP-0163: Personal Eventing Protocol — every account is a virtual pubsub service at its bare
// JID, run by the XEP-0060 engine of modules/pubsub with PEP's smart defaults (§3): the account
// owns every node, nodes are auto-created on publish, access model 'presence' by default,
// send_last_published_item 'on_sub_and_presence'.
//
// Notifications (§4.3): to the owner's available resources and to contacts with a presence
// subscription (from/both) whose available resources advertise NODE+notify in their verified
// XEP-0115 capabilities (filtered notifications, XEP-0060 §9.2), subject to the node's access
// model; also to explicit XEP-0060 subscribers. The last published item goes to a resource
// when its +notify interest first becomes known (initial presence with caps, a caps change:
// §4.3.4, XEP-0060 §12.1), and to a new subscriber. disco#info of the account shows the
// pubsub/pep identity and the features; disco#items lists the nodes the asker may see (§5).
//
// Not implemented: notifications to remote contacts' resources (their caps are not learnt
// yet: remote contacts receive nothing unless explicitly subscribed), the XEP-0033 'replyto'
// address, access changes following roster changes for already-sent items.
#include "modules/pep/pep_api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/c2s_session.hpp"
#include "core/per_server.hpp"
#include "core/server.hpp"
#include "modules/caps/caps_api.hpp"
#include "modules/offline/offline_codec.hpp"
#include "modules/pubsub/pubsub_engine.hpp"
#include "modules/roster/roster_api.hpp"
#include "modules/stored_xml/stored_xml.hpp"
#include "storage/sqlite.hpp"

namespace starling::modules {

namespace asio = boost::asio;
using namespace starling::pubsub;

// XEP-0163 §5 / XEP-0060 §10: what the PEP service supports, announced on account JIDs.
constexpr std::string_view pep_features[] = {
    "access-open",        "access-presence",       "access-roster",          "access-whitelist",
    "auto-create",        "auto-subscribe",        "config-node",            "config-node-max",
    "create-and-configure", "create-nodes",        "delete-items",           "delete-nodes",
    "filtered-notifications", "item-ids",          "last-published",         "manage-affiliations",
    "manage-subscriptions", "member-affiliation",  "modify-affiliations",    "multi-items",
    "outcast-affiliation", "persistent-items",     "presence-notifications", "presence-subscribe",
    "publish",            "publish-options",       "publisher-affiliation",  "purge-nodes",
    "retract-items",      "retrieve-affiliations", "retrieve-default",       "retrieve-items",
    "retrieve-subscriptions", "subscribe",
};

class pep_module;

namespace {
per_server_instance<pep_module> registry;
per_server_listeners<pep::change_listener> listeners;

bool has_from(roster::subscription s) { return s == roster::subscription::from || s == roster::subscription::both; }
bool has_to(roster::subscription s) { return s == roster::subscription::to || s == roster::subscription::both; }

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

pep::node_change::kind change_kind(event::kind k) {
  switch (k) {
    case event::kind::items: return pep::node_change::kind::publish;
    case event::kind::retract: return pep::node_change::kind::retract;
    case event::kind::purge: return pep::node_change::kind::purge;
    default: return pep::node_change::kind::deleted;
  }
}

// Per-resource +notify interest already served with last items (XEP-0060 §12.1 trigger 3:
// once per interest, not again on presence updates with the same interest).
struct interest_state {
  std::set<std::string> nodes;
};
}  // namespace

class pep_module : public module {
 public:
  ~pep_module() override { unregister(); }

  void start(server& srv) override {
    srv_ = &srv;
    policy_.pep = true;
    policy_.defaults.access = access_model::presence;
    policy_.defaults.send_last_published_item = send_last::on_sub_and_presence;
    policy_.defaults.max_items = {false, 1};  // PEP nodes are singletons unless configured otherwise
    policy_.limits.max_items = srv.cfg().pep.max_items;
    policy_.limits.max_payload_bytes = srv.cfg().pep.max_payload_bytes;
    policy_.limits.max_nodes = srv.cfg().pep.max_nodes;
    registry.set(srv, this);
    auto& d = srv.disco();
    d.add_account_identity({"pubsub", "pep", ""});
    d.add_account_feature(std::string(ns_pubsub));
    for (auto f : pep_features) d.add_account_feature(std::string(ns_pubsub) + "#" + std::string(f));
    d.add_account_items([this](iq_request& req, xml::element& q) { return disco_items(req, q); });
    for (auto t : {iq_target::self, iq_target::bare}) {
      srv.iq().add(t, std::string(ns_pubsub), [this](iq_request& req) { return handle(req); });
      srv.iq().add(t, std::string(ns_pubsub_owner), [this](iq_request& req) { return handle(req); });
    }
    caps::add_features_listener(srv, [this](const jid& full, const std::vector<std::string>& f) {
      on_features(full, f);
    });
    // A resource that goes unavailable has to be served again when it comes back.
    srv.hooks().client_stanza.add(95, [this](c2s_session& s, xml::element& el) {
      if (el.name() == "presence" && !el.attr("to") && el.attr_or("type") == "unavailable") forget(s.full_jid());
      return hook_result::next;
    });
    srv.hooks().session_closed.add(0, [this](c2s_session& s) {
      forget(s.full_jid());
      return hook_result::next;
    });
  }

  void stop() override {
    unregister();
    pool_.join();
  }

  // ------------------------------------------------------------ API for other modules

  asio::awaitable<outcome> run_as_server(jid owner, xml::element iq) {
    requester r;
    r.from = owner;
    r.is_owner = true;
    auto work = [this, service = owner.str(), r, iq = std::move(iq), now = now_ms()](storage::connection& c) {
      storage::transaction t(c);
      store st(c);
      auto o = pubsub::handle(st, service, r, policy_, iq, now);
      t.commit();
      return o;
    };
    auto op = srv_->sqlite().run(std::move(work));
    outcome out = co_await std::move(op);
    co_return out;
  }

  asio::awaitable<bool> publish(jid owner, std::string node, std::string item_id, xml::element payload,
                                std::vector<std::pair<std::string, std::string>> options) {
    xml::element iq("iq", std::string(xml::ns_client));
    iq.set_attr("type", "set");
    iq.set_attr("from", owner.str());
    iq.set_attr("to", owner.str());
    iq.set_attr("id", "pep-internal");
    auto& ps = iq.add("pubsub", std::string(ns_pubsub));
    auto& pub = ps.add("publish", std::string(ns_pubsub));
    pub.set_attr("node", node);
    auto& it = pub.add("item", std::string(ns_pubsub));
    if (!item_id.empty()) it.set_attr("id", item_id);
    it.add_child(std::move(payload));
    if (!options.empty()) {
      proto::data_form f;
      f.type = "submit";
      f.set("FORM_TYPE", "hidden", {std::string(ns_publish_options)});
      for (auto& [k, v] : options) f.set(k, "", {v});
      ps.add("publish-options", std::string(ns_pubsub)).add_child(f.to_xml());
    }
    outcome out = co_await run_as_server(owner, std::move(iq));
    if (out.reply.attr_or("type") != "result") {
      spdlog::info("pep: server publish to {} of {} failed", node, owner.str());
      co_return false;
    }
    after_change(owner, std::move(out), true);
    co_return true;
  }

  asio::awaitable<bool> retract(jid owner, std::string node, std::string item_id) {
    xml::element iq("iq", std::string(xml::ns_client));
    iq.set_attr("type", "set");
    iq.set_attr("from", owner.str());
    iq.set_attr("to", owner.str());
    iq.set_attr("id", "pep-internal");
    auto& rt = iq.add("pubsub", std::string(ns_pubsub)).add("retract", std::string(ns_pubsub));
    rt.set_attr("node", node);
    rt.set_attr("notify", "true");
    rt.add("item", std::string(ns_pubsub)).set_attr("id", item_id);
    outcome out = co_await run_as_server(owner, std::move(iq));
    if (out.reply.attr_or("type") != "result") co_return false;
    after_change(owner, std::move(out), true);
    co_return true;
  }

  asio::awaitable<std::vector<std::pair<std::string, xml::element>>> items(jid owner, std::string node) {
    auto work = [service = owner.str(), node = std::move(node)](storage::connection& c) {
      std::vector<item_row> out;
      store st(c);
      if (auto n = st.find_node(service, node)) out = st.items(n->id);
      return out;
    };
    auto op = srv_->sqlite().read(std::move(work));
    auto rows = co_await std::move(op);
    std::vector<std::pair<std::string, xml::element>> out;
    for (auto it = rows.rbegin(); it != rows.rend(); ++it)
      if (auto p = load_xml(it->payload)) out.emplace_back(it->id, std::move(*p));
    co_return out;
  }

 private:
  void unregister() { registry.erase(srv_, this); }

  // ------------------------------------------------------------ IQ requests

  // Who asks, as the engine needs to know (XEP-0163 §4: presence subscription and groups).
  asio::awaitable<std::optional<requester>> requester_for(const jid& owner, const jid& from) {
    requester r;
    r.from = from;
    r.is_owner = from.bare() == owner;
    if (r.is_owner) co_return r;
    auto acc = co_await srv_->db().accounts().get(owner.domain(), owner.local());
    if (!acc) co_return std::nullopt;
    auto item = co_await roster::get_item(*srv_, owner, from.bare());
    if (item) {
      r.has_presence_sub = has_from(item->sub);
      r.groups = item->groups;
    }
    co_return r;
  }

  asio::awaitable<void> handle(iq_request& req) {
    const jid owner = req.to.bare();
    auto r = co_await requester_for(owner, req.from);
    if (!r) {
      // RFC 6121 §8.5.1: no such account.
      reply_error(req, stanza_condition::service_unavailable);
      co_return;
    }
    auto work = [this, service = owner.str(), rq = *r, iq = req.stanza, now = now_ms()](storage::connection& c) {
      storage::transaction t(c);
      store st(c);
      auto o = pubsub::handle(st, service, rq, policy_, iq, now);
      t.commit();
      return o;
    };
    auto op = srv_->sqlite().run(std::move(work));
    outcome out = co_await std::move(op);
    req.srv.reply(req, out.reply);
    after_change(owner, std::move(out), false);
  }

  // Fans out the events of a handled request, sends a new subscriber the last item, and tells
  // the listening modules.
  void after_change(const jid& owner, outcome out, bool by_server) {
    if (out.events.empty() && !out.last) return;
    asio::co_spawn(pool_, fan_out(owner, std::move(out), by_server), asio::detached);
  }

  asio::awaitable<void> fan_out(jid owner, outcome out, bool by_server) {
    try {
      if (out.last) {
        std::string stamp = out.last->items.empty() ? std::string()
                                                    : xep0082_stamp(std::chrono::system_clock::time_point(
                                                          std::chrono::milliseconds(out.last->items.front().published)));
        co_await srv_->route(notification(*out.last, owner.str(), out.last_to, stamp), nullptr);
      }
      if (out.events.empty()) co_return;
      auto contacts = co_await roster::get_roster(*srv_, owner);
      for (const auto& e : out.events) {
        co_await notify(owner, contacts, e);
        tell_listeners(owner, e, by_server);
      }
    } catch (const std::exception& ex) {
      spdlog::error("pep: notifications for {}: {}", owner.str(), ex.what());
    }
  }

  bool interested(const jid& full, const std::string& notify) {
    auto f = caps::features_of(*srv_, full);
    return f && std::find(f->begin(), f->end(), notify) != f->end();
  }

  static affiliation affiliation_in(const event& e, const std::string& bare) {
    for (const auto& [j, a] : e.affiliations)
      if (j == bare) return a;
    return affiliation::none;
  }

  // XEP-0163 §4.3 / XEP-0060 §7.1.2: who hears of `e`.
  asio::awaitable<void> notify(const jid& owner, const std::vector<roster::item>& contacts, const event& e) {
    const std::string notify_feature = e.node + "+notify";
    std::set<std::string> sent;  // full JIDs
    auto send = [&](const jid& to) -> std::optional<xml::element> {
      if (!sent.insert(to.str()).second) return std::nullopt;
      return notification(e, owner.str(), to.str());
    };
    // §4.3.1 rule 2: the owner's own available resources, filtered by their interest.
    for (const auto& r : srv_->sessions().resources(owner)) {
      if (!r.available || !interested(r.full, notify_feature)) continue;
      if (auto m = send(r.full)) co_await srv_->route(std::move(*m), nullptr);
    }
    // §4.3.1 rule 1: contacts sharing presence, allowed by the access model, interested.
    std::unordered_map<std::string, const roster::item*> by_bare;
    for (const auto& it : contacts) {
      by_bare[it.contact.str()] = &it;
      if (!has_from(it.sub) || it.contact == owner || !srv_->is_local_host(it.contact.domain())) continue;
      requester rq{it.contact, false, true, it.groups};
      if (check_access(e.config, affiliation_in(e, it.contact.str()), rq) != access_result::allowed) continue;
      for (const auto& r : srv_->sessions().resources(it.contact)) {
        if (!r.available || !interested(r.full, notify_feature)) continue;
        if (auto m = send(r.full)) co_await srv_->route(std::move(*m), nullptr);
      }
    }
    // XEP-0060 §7.1.2: explicit subscribers, as long as they may still read the node.
    for (const auto& s : e.subscriptions) {
      auto j = jid::parse(s.jid);
      if (!j) continue;
      requester rq;
      rq.from = *j;
      rq.is_owner = j->bare() == owner;
      if (auto it = by_bare.find(j->bare().str()); it != by_bare.end()) {
        rq.has_presence_sub = has_from(it->second->sub);
        rq.groups = it->second->groups;
      }
      if (check_access(e.config, affiliation_in(e, j->bare().str()), rq) != access_result::allowed) continue;
      if (j->is_bare()) {
        bool any = false;
        for (const auto& r : srv_->sessions().resources(*j)) any = any || sent.count(r.full.str());
        if (any || !sent.insert(j->str()).second) continue;
        co_await srv_->route(notification(e, owner.str(), j->str()), nullptr);
      } else if (auto m = send(*j)) {
        co_await srv_->route(std::move(*m), nullptr);
      }
    }
  }

  void tell_listeners(const jid& owner, const event& e, bool by_server) {
    if (e.what == event::kind::configuration) return;
    std::vector<pep::change_listener> ls = listeners.of(srv_);
    if (ls.empty()) return;
    pep::node_change ch;
    ch.owner = owner;
    ch.node = e.node;
    ch.what = change_kind(e.what);
    ch.by_server = by_server;
    if (e.what == event::kind::items && !e.items.empty()) {
      ch.item_id = e.items.front().id;
      ch.payload = load_xml(e.items.front().payload);
    } else if (e.what == event::kind::retract && !e.retracted.empty()) {
      ch.item_id = e.retracted.front();
    }
    for (const auto& l : ls) l(*srv_, ch);
  }

  // ------------------------------------------------------------ last items on interest

  void forget(const jid& full) {
    std::lock_guard lock(mutex_);
    interest_.erase(full.str());
  }

  // XEP-0163 §4.3.4: a resource's +notify interest became known: send it the last item of
  // each newly interesting node of every service whose presence it shares, its own included.
  void on_features(const jid& full, const std::vector<std::string>& features) {
    std::set<std::string> nodes;
    constexpr std::string_view suffix = "+notify";
    for (const auto& f : features)
      if (f.size() > suffix.size() && f.ends_with(suffix)) nodes.insert(f.substr(0, f.size() - suffix.size()));
    std::set<std::string> fresh;
    {
      std::lock_guard lock(mutex_);
      auto& st = interest_[full.str()];
      for (const auto& n : nodes)
        if (!st.nodes.count(n)) fresh.insert(n);
      st.nodes = nodes;
    }
    if (fresh.empty()) return;
    asio::co_spawn(pool_, send_last_items(full, std::move(fresh)), asio::detached);
  }

  asio::awaitable<void> send_last_items(jid full, std::set<std::string> nodes) {
    try {
      const jid bare = full.bare();
      std::vector<jid> services;
      auto mine = co_await roster::get_roster(*srv_, bare);
      for (const auto& it : mine)
        if (has_to(it.sub) && it.contact != bare && srv_->is_local_host(it.contact.domain()) && it.contact.has_local())
          services.push_back(it.contact);
      // The account's own service last: once its items arrive, the contacts' have been read
      // (a client, or a test, may take its own last item as "interest registered").
      services.push_back(bare);
      for (const auto& svc : services) {
        auto rq = co_await requester_for(svc, full);
        if (!rq) continue;
        if (!rq->is_owner && !rq->has_presence_sub) continue;  // §4.3.1: presence sharing first
        auto work = [service = svc.str(), b = bare.str()](storage::connection& c) {
          return store(c).last_items(service, b);
        };
        auto op = srv_->sqlite().read(std::move(work));
        auto lis = co_await std::move(op);
        for (auto& li : lis) {
          if (!nodes.count(li.node.name)) continue;
          if (li.node.config.send_last_published_item != send_last::on_sub_and_presence) continue;
          if (!li.node.config.deliver_notifications) continue;
          if (check_access(li.node.config, li.aff, *rq) != access_result::allowed) continue;
          event e;
          e.node = li.node.name;
          e.config = li.node.config;
          e.items.push_back(li.item);
          auto stamp = xep0082_stamp(std::chrono::system_clock::time_point(std::chrono::milliseconds(li.item.published)));
          co_await srv_->route(notification(e, svc.str(), full.str(), stamp), nullptr);
        }
      }
    } catch (const std::exception& ex) {
      spdlog::error("pep: last items for {}: {}", full.str(), ex.what());
    }
  }

  // ------------------------------------------------------------ disco#items (§5)

  asio::awaitable<void> disco_items(iq_request& req, xml::element& q) {
    const jid owner = req.to.bare();
    auto r = co_await requester_for(owner, req.from);
    if (!r) co_return;
    auto work = [service = owner.str(), b = req.from.bare().str()](storage::connection& c) {
      store st(c);
      std::vector<std::pair<node_row, affiliation>> out;
      for (auto& n : st.nodes(service)) {
        affiliation a = st.affiliation_of(n.id, b);
        out.emplace_back(std::move(n), a);
      }
      return out;
    };
    auto op = srv_->sqlite().read(std::move(work));
    auto nodes = co_await std::move(op);
    // XEP-0163 §5: only the nodes the asker may subscribe to or read.
    for (const auto& [n, a] : nodes) {
      if (check_access(n.config, a, *r) != access_result::allowed) continue;
      auto& i = q.add("item", q.ns());
      i.set_attr("jid", owner.str());
      i.set_attr("node", n.name);
    }
  }

  server* srv_ = nullptr;
  service_policy policy_;
  asio::thread_pool pool_{1};
  std::mutex mutex_;
  std::unordered_map<std::string, interest_state> interest_;
};

namespace pep {

namespace {
pep_module* find(server& srv) { return registry.find(srv); }
}  // namespace

void add_change_listener(server& srv, change_listener fn) {
  listeners.add(srv, std::move(fn));
}

asio::awaitable<bool> publish(server& srv, jid owner, std::string node, std::string item_id, xml::element payload,
                              std::vector<std::pair<std::string, std::string>> options) {
  pep_module* m = find(srv);
  if (!m) co_return false;
  bool ok = co_await m->publish(std::move(owner), std::move(node), std::move(item_id), std::move(payload),
                                std::move(options));
  co_return ok;
}

asio::awaitable<bool> retract(server& srv, jid owner, std::string node, std::string item_id) {
  pep_module* m = find(srv);
  if (!m) co_return false;
  bool ok = co_await m->retract(std::move(owner), std::move(node), std::move(item_id));
  co_return ok;
}

asio::awaitable<std::vector<std::pair<std::string, xml::element>>> items(server& srv, jid owner, std::string node) {
  pep_module* m = find(srv);
  if (!m) co_return std::vector<std::pair<std::string, xml::element>>{};
  auto out = co_await m->items(std::move(owner), std::move(node));
  co_return out;
}

}  // namespace pep

}  // namespace starling::modules

using starling::modules::pep_module;
STARLING_MODULE(pep_module, "pep")
