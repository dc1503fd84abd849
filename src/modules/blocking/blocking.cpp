// XEP-0191: Blocking Command — blocklist get, block, unblock (some or all), pushes to the
// resources that requested the blocklist, unavailable presence to a newly blocked contact and
// current presence to an unblocked one (§3.3, §3.4). The blocklist shares the privacy lists'
// store and engine (XEP-0191 §6): it is evaluated as deny-all items before the active or
// default list (privacy_service.cpp).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <set>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/privacy/privacy_service.hpp"

namespace starling::modules {

using namespace starling::privacy;

class blocking_module : public module {
 public:
  void start(server& srv) override {
    svc_ = &service::attach(srv);
    g_svc = svc_;
    srv.disco().add_feature(std::string(ns_blocking));
    srv.iq().add(iq_target::self, std::string(ns_blocking), handle);
  }
  void stop() override {
    if (svc_) svc_->shutdown();
  }

 private:
  static inline service* g_svc = nullptr;
  service* svc_ = nullptr;


  static boost::asio::awaitable<void> handle(iq_request& req) {
    const xml::element& p = req.payload();
    if (!req.session) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    auto state = co_await g_svc->state(req.session->bare_jid());
    if (!state) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    if (req.is_get()) {
      if (!p.is("blocklist", ns_blocking)) {
        reply_error(req, stanza_condition::bad_request);
        co_return;
      }
      // XEP-0191 §3.2: the blocked JIDs (possibly none); this resource now gets pushes.
      auto r = make_result(req.stanza);
      auto& bl = r.add("blocklist", std::string(ns_blocking));
      {
        std::lock_guard lock(g_svc->mutex());
        auto& rs = state->resources[req.session->full_jid().resource()];
        rs.owner = req.session;
        rs.wants_blocklist = true;
        for (const jid& j : state->blocklist) bl.add("item", std::string(ns_blocking)).set_attr("jid", j.str());
      }
      req.srv.reply(req, r);
      co_return;
    }
    bool block = p.is("block", ns_blocking);
    if (!block && !p.is("unblock", ns_blocking)) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    std::vector<jid> items;
    std::set<jid> seen;
    for (const xml::element* it : p.elements()) {
      if (!it->is("item", ns_blocking)) {
        reply_error(req, stanza_condition::bad_request);
        co_return;
      }
      const std::string* j = it->attr("jid");
      auto parsed = j ? jid::parse(*j) : std::nullopt;
      if (!parsed) {
        // RFC 6120 §8.3.3.8 (XEP-0191 §3.3: "other standard XMPP stanza errors also apply").
        reply_error(req, j ? stanza_condition::jid_malformed : stanza_condition::bad_request);
        co_return;
      }
      if (seen.insert(*parsed).second) items.push_back(*parsed);
    }
    jid bare = req.session->bare_jid();
    if (block) {
      // XEP-0191 §3.3: a block without items is a bad request.
      if (items.empty()) {
        reply_error(req, stanza_condition::bad_request);
        co_return;
      }
      {
        std::lock_guard lock(g_svc->mutex());
        std::set<jid> all(state->blocklist.begin(), state->blocklist.end());
        all.insert(items.begin(), items.end());
        if (all.size() > req.srv.cfg().limit.max_blocked_jids) {
          reply_error(req, stanza_condition::resource_constraint, "Too many blocked JIDs");
          co_return;
        }
      }
      std::vector<jid> copy = items;
      if (!co_await g_svc->db().block(bare, std::move(copy))) {
        reply_error(req, stanza_condition::internal_server_error);
        co_return;
      }
      std::vector<jid> newly;
      {
        std::lock_guard lock(g_svc->mutex());
        for (const jid& j : items)
          if (std::find(state->blocklist.begin(), state->blocklist.end(), j) == state->blocklist.end()) {
            state->blocklist.push_back(j);
            newly.push_back(j);
          }
      }
      req.srv.reply(req, make_result(req.stanza));
      push(bare, "block", items);
      // XEP-0191 §3.3: the newly blocked contact sees the user go offline.
      if (!newly.empty()) co_await g_svc->presence_on_block(bare, std::move(newly), false);
      co_return;
    }
    // XEP-0191 §3.4 / §3.5: unblock the items, or everything when there are none.
    std::vector<jid> copy = items;
    if (!co_await g_svc->db().unblock(bare, std::move(copy))) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    std::vector<jid> unblocked;
    {
      std::lock_guard lock(g_svc->mutex());
      for (const jid& j : state->blocklist)
        if (items.empty() || std::find(items.begin(), items.end(), j) != items.end()) unblocked.push_back(j);
      if (items.empty()) {
        state->blocklist.clear();
      } else {
        std::erase_if(state->blocklist,
                      [&](const jid& j) { return std::find(items.begin(), items.end(), j) != items.end(); });
      }
    }
    req.srv.reply(req, make_result(req.stanza));
    push(bare, "unblock", items);
    // XEP-0191 §3.4: the unblocked contacts get the user's current presence (for "unblock
    // all", every JID that was on the list).
    if (!unblocked.empty()) co_await g_svc->presence_on_block(bare, std::move(unblocked), true);
  }

  static void push(const jid& bare, const char* what, const std::vector<jid>& items) {
    xml::element e(what, std::string(ns_blocking));
    for (const jid& j : items) e.add("item", std::string(ns_blocking)).set_attr("jid", j.str());
    g_svc->push(bare, e, /*blocklist_only=*/true);
  }
};

}  // namespace starling::modules

using starling::modules::blocking_module;
STARLING_MODULE(blocking_module, "blocking")
