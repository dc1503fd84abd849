// XEP-0016: Privacy Lists — jabber:iq:privacy get (names, one list), set (active, default,
// create/replace, remove) with pushes to every resource, and enforcement on every stanza in
// both directions (privacy_service.cpp). Lists are stored per account; active lists last for
// the session. Not implemented: presence-like PEP notifications under <presence-out/>.
#include <spdlog/spdlog.h>

#include <set>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/privacy/privacy_service.hpp"
#include "modules/roster/roster_api.hpp"

namespace starling::modules {

using namespace starling::privacy;

class privacy_module : public module {
 public:
  void start(server& srv) override {
    svc_ = &service::attach(srv);
    g_svc = svc_;
    srv.disco().add_feature(std::string(ns_privacy));
    srv.iq().add(iq_target::self, std::string(ns_privacy), handle);
  }
  void stop() override {
    if (svc_) svc_->shutdown();
  }

 private:
  static inline service* g_svc = nullptr;
  service* svc_ = nullptr;


  static boost::asio::awaitable<void> handle(iq_request& req) {
    const xml::element& q = req.payload();
    if (!req.session || !q.is("query", ns_privacy)) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    auto state = co_await g_svc->state(req.session->bare_jid());
    if (!state) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    if (req.is_get()) {
      handle_get(req, *state);
      co_return;
    }
    // XEP-0016 §2.1: a set carries exactly one <active/>, <default/> or <list/>.
    auto children = q.elements();
    if (children.size() != 1 || children[0]->ns() != ns_privacy) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    const xml::element& c = *children[0];
    if (c.name() == "active") {
      handle_active(req, *state, c);
    } else if (c.name() == "default") {
      co_await handle_default(req, state, c);
    } else if (c.name() == "list") {
      co_await handle_list(req, state, c);
    } else {
      reply_error(req, stanza_condition::bad_request);
    }
  }

  // XEP-0016 §2.3: the names (with active and default), or one list.
  static void handle_get(iq_request& req, account_state& a) {
    const std::string& resource = req.session->full_jid().resource();
    auto children = req.payload().elements();
    auto r = make_result(req.stanza);
    auto& rq = r.add("query", std::string(ns_privacy));
    std::lock_guard lock(g_svc->mutex());
    if (children.empty()) {
      auto it = a.resources.find(resource);
      if (it != a.resources.end() && it->second.active)
        rq.add("active", std::string(ns_privacy)).set_attr("name", *it->second.active);
      if (a.default_list) rq.add("default", std::string(ns_privacy)).set_attr("name", *a.default_list);
      for (const auto& l : a.lists) rq.add("list", std::string(ns_privacy)).set_attr("name", l.name);
      req.srv.reply(req, r);
      return;
    }
    // "The user is allowed to retrieve only one list at a time" (bad-request otherwise).
    if (children.size() > 1 || !children[0]->is("list", ns_privacy) || !children[0]->attr("name")) {
      reply_error(req, stanza_condition::bad_request);
      return;
    }
    const list* l = a.find(*children[0]->attr("name"));
    if (!l) {
      reply_error(req, stanza_condition::item_not_found);
      return;
    }
    rq.add_child(to_xml(*l));
    req.srv.reply(req, r);
  }

  // Other connected resources to which `name` applies now (as active, or as the default list
  // when they have no active list). Caller holds the lock.
  static bool applies_elsewhere(iq_request& req, const account_state& a, const std::string& name) {
    const std::string& mine = req.session->full_jid().resource();
    for (const jid& full : g_svc->connected(req.session->bare_jid())) {
      if (full.resource() == mine) continue;
      auto it = a.resources.find(full.resource());
      bool has_active = it != a.resources.end() && it->second.active;
      if (has_active ? *it->second.active == name : a.default_list == name) return true;
    }
    return false;
  }

  // XEP-0016 §2.4: per-session active list.
  static void handle_active(iq_request& req, account_state& a, const xml::element& c) {
    const std::string& resource = req.session->full_jid().resource();
    {
      std::lock_guard lock(g_svc->mutex());
      auto& rs = a.resources[resource];
      rs.owner = req.session;
      if (const std::string* name = c.attr("name")) {
        if (!a.find(*name)) {
          reply_error(req, stanza_condition::item_not_found);
          return;
        }
        rs.active = *name;  // applied before the result goes out
      } else {
        rs.active.reset();  // declined
      }
    }
    req.srv.reply(req, make_result(req.stanza));
  }

  // XEP-0016 §2.5: the account's default list.
  static boost::asio::awaitable<void> handle_default(iq_request& req, std::shared_ptr<account_state> a,
                                                     const xml::element& c) {
    std::optional<std::string> name;
    if (const std::string* n = c.attr("name")) name = *n;
    {
      std::lock_guard lock(g_svc->mutex());
      if (name && !a->find(*name)) {
        reply_error(req, stanza_condition::item_not_found);
        co_return;
      }
      if (a->default_list == name) {
        req.srv.reply(req, make_result(req.stanza));
        co_return;
      }
      // "in use by at least one connected resource other than the sending resource": conflict.
      if (a->default_list && applies_elsewhere(req, *a, *a->default_list)) {
        reply_error(req, stanza_condition::conflict);
        co_return;
      }
    }
    jid bare = req.session->bare_jid();
    if (!co_await g_svc->db().set_default(bare, name)) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    {
      std::lock_guard lock(g_svc->mutex());
      a->default_list = name;
    }
    req.srv.reply(req, make_result(req.stanza));
  }

  // XEP-0016 §2.6-2.8: create, replace or (empty) remove a list; push its name to every resource.
  static boost::asio::awaitable<void> handle_list(iq_request& req, std::shared_ptr<account_state> a,
                                                  const xml::element& c) {
    const std::string* name = c.attr("name");
    if (!name || name->empty()) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    jid bare = req.session->bare_jid();
    if (c.element_count() == 0) {
      {
        std::lock_guard lock(g_svc->mutex());
        if (!a->find(*name)) {
          reply_error(req, stanza_condition::item_not_found);
          co_return;
        }
        // "a list that is currently being applied to at least one resource other than the
        // sending resource": conflict.
        if (applies_elsewhere(req, *a, *name)) {
          reply_error(req, stanza_condition::conflict);
          co_return;
        }
      }
      std::string n = *name;
      if (!co_await g_svc->db().remove_list(bare, n)) {
        reply_error(req, stanza_condition::internal_server_error);
        co_return;
      }
      {
        std::lock_guard lock(g_svc->mutex());
        std::erase_if(a->lists, [&](const list& l) { return l.name == n; });
        if (a->default_list == n) a->default_list.reset();
        for (auto& [res, rs] : a->resources)
          if (rs.active == n) rs.active.reset();
      }
      finish(req, n);
      co_return;
    }
    auto parsed = parse_list(c, parse_limits{req.srv.cfg().limit.max_privacy_list_items});
    if (auto* cond = std::get_if<stanza_condition>(&parsed)) {
      reply_error(req, *cond);
      co_return;
    }
    list l = std::get<list>(std::move(parsed));
    // XEP-0016 §2.1: a group that is not in the user's roster: item-not-found.
    std::set<std::string> groups;
    for (const auto& it : l.items)
      if (it.type == item_type::group) groups.insert(it.value);
    if (!groups.empty()) {
      auto fetch = roster::get_roster(req.srv, bare);
      auto roster_items = co_await std::move(fetch);
      for (const auto& ri : roster_items)
        for (const auto& g : ri.groups) groups.erase(g);
      if (!groups.empty()) {
        reply_error(req, stanza_condition::item_not_found, "No such roster group: " + *groups.begin());
        co_return;
      }
    }
    {
      std::lock_guard lock(g_svc->mutex());
      if (!a->find(l.name) && a->lists.size() >= req.srv.cfg().limit.max_privacy_lists) {
        reply_error(req, stanza_condition::resource_constraint, "Too many privacy lists");
        co_return;
      }
    }
    std::string n = l.name;
    list copy = l;
    if (!co_await g_svc->db().put_list(bare, std::move(copy))) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    {
      // XEP-0016 §2.2 rule 8: later stanzas use the new definition at once.
      std::lock_guard lock(g_svc->mutex());
      if (list* old = a->find(n)) *old = std::move(l);
      else a->lists.push_back(std::move(l));
    }
    finish(req, n);
  }

  static void finish(iq_request& req, const std::string& name) {
    req.srv.reply(req, make_result(req.stanza));
    // XEP-0016 §2.2 rule 10 / §2.6: push the list name to all connected resources.
    xml::element q("query", std::string(ns_privacy));
    q.add("list", std::string(ns_privacy)).set_attr("name", name);
    g_svc->push(req.session->bare_jid(), q, false);
  }
};

}  // namespace starling::modules

using starling::modules::privacy_module;
STARLING_MODULE(privacy_module, "privacy")
