// RFC 6121 §2: Roster management — jabber:iq:roster get/set/remove, roster pushes to
// interested resources, roster versioning (§2.6: the full roster, or an empty result and the
// changes as pushes), size and field limits. Subscription state changes are applied here for the presence module
// (roster_service.hpp); presence broadcast lives in modules/presence.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <set>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/roster/roster_service.hpp"
#include "util/random.hpp"

namespace starling::roster {

namespace asio = boost::asio;

constexpr std::string_view ns_roster = "jabber:iq:roster";
constexpr std::string_view ns_rosterver = "urn:xmpp:features:rosterver";
constexpr std::string_view ns_preapproval = "urn:xmpp:features:pre-approval";
// RFC 6121 §2.3.3 (not-acceptable): bounds on what a client may store per item.
constexpr size_t max_name_bytes = 1023;
constexpr size_t max_group_bytes = 1023;
constexpr size_t max_groups = 64;

namespace {
// The roster module's store; one server per process.
roster_store* g_store = nullptr;

// RFC 6121 §2.1.6: an "interested resource" is one that requested the roster.
struct roster_interest {
  bool requested = false;
};
}  // namespace

std::string_view to_string(subscription s) {
  switch (s) {
    case subscription::none: return "none";
    case subscription::to: return "to";
    case subscription::from: return "from";
    case subscription::both: return "both";
  }
  return "none";
}

asio::awaitable<std::optional<item>> get_item(server&, const jid& owner, const jid& contact) {
  if (!g_store) co_return std::nullopt;
  auto it = co_await g_store->get(owner.bare(), contact.bare());
  co_return it;
}

asio::awaitable<std::vector<item>> get_roster(server&, const jid& owner) {
  if (!g_store) co_return std::vector<item>{};
  auto r = co_await g_store->roster(owner.bare());
  co_return std::move(r.first);
}

asio::awaitable<std::vector<std::string>> subscribers_of(server&, const jid& contact) {
  if (!g_store) co_return std::vector<std::string>{};
  auto r = co_await g_store->subscribers(contact.bare());
  co_return r;
}

asio::awaitable<std::vector<contact_sub>> presence_contacts(server&, const jid& owner) {
  if (!g_store) co_return std::vector<contact_sub>{};
  auto r = co_await g_store->presence_contacts(owner.bare());
  co_return r;
}

asio::awaitable<apply_result> apply_subscription(server& srv, jid owner, jid contact, sub_type type,
                                                 bool is_outbound, std::string status) {
  const size_t limit = srv.cfg().limit.max_roster_items;
  auto res = co_await g_store->apply(owner, contact, type, is_outbound, std::move(status), limit);
  if (res.push) push(srv, owner, res.it, res.ver);
  co_return res;
}

asio::awaitable<std::vector<pending_request>> pending_requests(server&, jid owner) {
  auto r = co_await g_store->pending(owner);
  co_return r;
}

asio::awaitable<roster_store::initial_presence_data> initial_presence_data(server&, jid owner) {
  if (!g_store) co_return roster_store::initial_presence_data{};
  auto r = co_await g_store->initial_presence(owner.bare());
  co_return r;
}

xml::element item_element(const item& it, bool removed) {
  xml::element e("item", std::string(ns_roster));
  e.set_attr("jid", it.contact.bare_str());
  if (removed) {
    e.set_attr("subscription", "remove");
    return e;
  }
  if (!it.name.empty()) e.set_attr("name", it.name);
  e.set_attr("subscription", std::string(to_string(it.sub)));
  // RFC 6121 §2.1.2.2: ask='subscribe' marks pending-out; §3.4: approved='true'.
  if (it.ask_out) e.set_attr("ask", "subscribe");
  if (it.approved) e.set_attr("approved", "true");
  for (const auto& g : it.groups) e.add("group", std::string(ns_roster)).add_text(g);
  return e;
}

namespace {
// RFC 6121 §2.1.6: a roster push to one resource; it carries no 'from' (it comes from the
// user's own account).
xml::element make_push(const jid& to, const item& it, int64_t ver, bool removed) {
  xml::element iq("iq", std::string(xml::ns_client));
  iq.set_attr("type", "set");
  iq.set_attr("id", "push-" + util::random_token(12));
  iq.set_attr("to", to.str());
  auto& query = iq.add("query", std::string(ns_roster));
  query.set_attr("ver", std::to_string(ver));
  query.add_child(item_element(it, removed));
  return iq;
}
}  // namespace

void push(server& srv, const jid& owner, const item& it, int64_t ver, bool removed, c2s_session* current) {
  for (const auto& r : srv.sessions().resources(owner)) {
    xml::element iq = make_push(r.full, it, ver, removed);
    auto s = r.session;
    if (s.get() == current) {
      if (!s->is_closing() && s->slot<roster_interest>().requested) s->send(iq);
      continue;
    }
    asio::post(s->executor(), [s, iq = std::move(iq)] {
      if (!s->is_closing() && s->is_bound() && s->slot<roster_interest>().requested) s->send(iq);
    });
  }
}

namespace {

// Routes a presence stanza from the user's bare JID to a contact (RFC 6121 §2.5.2).
asio::awaitable<void> send_presence(server& srv, const jid& from, const jid& to, std::string type) {
  xml::element p("presence", std::string(xml::ns_client));
  p.set_attr("from", from.str());
  p.set_attr("to", to.str());
  if (!type.empty()) p.set_attr("type", std::move(type));
  co_await srv.route(std::move(p), nullptr);
}

// RFC 6121 §2.6.3: versions are decimal counters here; anything else is "unknown".
std::optional<int64_t> parse_version(const std::string& v) {
  if (v.empty() || v.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  return n;
}

asio::awaitable<void> handle_get(iq_request& req, c2s_session& s) {
  s.slot<roster_interest>().requested = true;
  const auto& q = req.payload();
  const jid owner = req.from.bare();
  // RFC 6121 §2.6.3: a client that holds a version gets an empty result followed by a push for
  // each change since (oldest first, to this resource only), when the changes are known.
  if (const std::string* v = q.attr("ver"); v && !v->empty()) {
    if (auto since = parse_version(*v)) {
      auto d = co_await g_store->delta(owner, *since);
      if (d) {
        req.srv.reply(req, make_result(req.stanza));
        for (const auto& ch : d->changes) s.send(make_push(s.full_jid(), ch.it, ch.ver, ch.removed));
        co_return;
      }
    }
  }
  auto [items, ver] = co_await g_store->roster(owner);
  auto r = make_result(req.stanza);
  auto& rq = r.add("query", std::string(ns_roster));
  rq.set_attr("ver", std::to_string(ver));
  for (const auto& it : items) rq.add_child(item_element(it));
  req.srv.reply(req, r);
}

asio::awaitable<void> handle_remove(iq_request& req, const jid& owner, const jid& contact) {
  auto removed = co_await g_store->remove(owner, contact);
  if (!removed) {
    // RFC 6121 §2.5.3: nothing to remove.
    reply_error(req, stanza_condition::item_not_found);
    co_return;
  }
  push(req.srv, owner, removed->it, removed->ver, true, req.session);
  req.srv.reply(req, make_result(req.stanza));
  // RFC 6121 §2.5.2: cancel the subscriptions in both directions (and answer a pending
  // request with a denial); the former subscriber sees the user go unavailable.
  const item& it = removed->it;
  bool to = it.sub == subscription::to || it.sub == subscription::both;
  bool from = it.sub == subscription::from || it.sub == subscription::both;
  if (to || it.ask_out) co_await send_presence(req.srv, owner, contact, "unsubscribe");
  if (from || it.pending_in) co_await send_presence(req.srv, owner, contact, "unsubscribed");
  if (from) {
    for (const auto& r : req.srv.sessions().resources(owner))
      if (r.available) co_await send_presence(req.srv, r.full, contact, "unavailable");
  }
}

asio::awaitable<void> handle_set(iq_request& req) {
  const auto& q = req.payload();
  auto items = q.elements();
  // RFC 6121 §2.3.3: a roster set carries exactly one item.
  if (items.size() != 1 || !items[0]->is("item", ns_roster)) {
    reply_error(req, stanza_condition::bad_request, "A roster set contains exactly one item");
    co_return;
  }
  const xml::element& el = *items[0];
  const std::string* jid_attr = el.attr("jid");
  std::optional<jid> contact = jid_attr ? jid::parse(*jid_attr) : std::nullopt;
  if (!contact) {
    reply_error(req, jid_attr ? stanza_condition::jid_malformed : stanza_condition::bad_request,
          "The item needs a valid 'jid'");
    co_return;
  }
  if (contact->has_resource()) {
    // RFC 6121 §2.1.2.3: roster items are bare JIDs.
    reply_error(req, stanza_condition::bad_request, "Roster items are bare JIDs");
    co_return;
  }
  jid owner = req.from.bare();
  std::string_view sub = el.attr_or("subscription");
  if (sub == "remove") {
    co_await handle_remove(req, owner, *contact);
    co_return;
  }
  // RFC 6121 §2.1.2.5: the subscription state belongs to the server (Appendix A); a client
  // sets only 'remove'. Clients that echo the current state back (slixmpp does) are not
  // refused: the known values are ignored, anything else is a bad request.
  if (el.attr("subscription") && sub != "none" && sub != "to" && sub != "from" && sub != "both") {
    reply_error(req, stanza_condition::bad_request, "Invalid subscription value");
    co_return;
  }
  item it;
  it.contact = *contact;
  it.name = std::string(el.attr_or("name"));
  if (it.name.size() > max_name_bytes) {
    reply_error(req, stanza_condition::not_acceptable, "The name is too long");
    co_return;
  }
  std::set<std::string> seen;
  for (const auto* g : el.elements()) {
    if (!g->is("group", ns_roster)) continue;
    std::string name = g->text();
    // RFC 6121 §2.3.3: empty and over-long group names are not acceptable, duplicates are a
    // bad request.
    if (name.empty()) {
      reply_error(req, stanza_condition::not_acceptable, "Empty group name");
      co_return;
    }
    if (name.size() > max_group_bytes) {
      reply_error(req, stanza_condition::not_acceptable, "The group name is too long");
      co_return;
    }
    if (!seen.insert(name).second) {
      reply_error(req, stanza_condition::bad_request, "Duplicate group");
      co_return;
    }
    it.groups.push_back(std::move(name));
  }
  if (it.groups.size() > max_groups) {
    reply_error(req, stanza_condition::not_acceptable, "Too many groups");
    co_return;
  }
  const size_t limit = req.srv.cfg().limit.max_roster_items;
  auto res = co_await g_store->set(owner, std::move(it), limit);
  if (res.status == set_status::limit_reached) {
    reply_error(req, stanza_condition::not_allowed, "The roster is full");
    co_return;
  }
  push(req.srv, owner, res.it, res.ver, false, req.session);
  req.srv.reply(req, make_result(req.stanza));
}

asio::awaitable<void> handle_iq(iq_request& req) {
  // Only the account's own sessions manage its roster (iq_target::self).
  if (!req.session || !req.session->is_bound() || req.payload().name() != "query") {
    reply_error(req, stanza_condition::bad_request);
    co_return;
  }
  if (req.is_get()) {
    co_await handle_get(req, *req.session);
  } else {
    co_await handle_set(req);
  }
}

class roster_module : public module {
 public:
  void start(server& srv) override {
    store_ = make_sqlite_roster_store(srv);
    g_store = store_.get();
    srv.iq().add(iq_target::self, std::string(ns_roster), handle_iq);
    // RFC 6121 §2.6.1 and §3.4: versioning and pre-approval are stream features.
    srv.add_feature([](c2s_session&, feature_stage stage, xml::element& features) {
      if (stage != feature_stage::after_auth) return;
      features.add("ver", std::string(ns_rosterver));
      features.add("sub", std::string(ns_preapproval));
    });
    // RFC 6121 §2.1.6: a client accepts pushes only from its own account; the server refuses
    // to deliver a roster set from anybody else to a client.
    srv.hooks().local_delivery.add(200, [&srv](xml::element& st, const jid& to) {
      if (st.name() != "iq" || st.attr_or("type") != "set") return hook_result::next;
      const xml::element* p = st.first_element();
      if (!p || p->ns() != ns_roster) return hook_result::next;
      auto from = jid::parse(st.attr_or("from"));
      if (from && from->bare() == to.bare() && !from->has_resource()) return hook_result::next;
      if (!is_error(st)) {
        auto reply = make_error_reply(st, stanza_condition::service_unavailable);
        if (auto back = jid::parse(reply.attr_or("to"))) srv.deliver_to_full(*back, reply);
      }
      return hook_result::stop;
    });
  }
  void stop() override { g_store = nullptr; }

 private:
  std::unique_ptr<roster_store> store_;
};

}  // namespace
}  // namespace starling::roster

namespace starling::modules {
using roster_module = starling::roster::roster_module;
STARLING_MODULE(roster_module, "roster")
}  // namespace starling::modules
