// XEP-0060 request engine (see pubsub_engine.hpp for the scope).
#include "modules/pubsub/pubsub_engine.hpp"

#include <algorithm>
#include <charconv>
#include <variant>

#include "modules/offline/offline_codec.hpp"
#include "modules/stored_xml/stored_xml.hpp"
#include "util/random.hpp"

namespace starling::pubsub {

namespace {

using sc = stanza_condition;
using modules::load_xml;
using modules::store_xml;

std::string bare_of(const jid& j) { return j.bare().str(); }

bool is_true_attr(std::string_view v) { return v == "true" || v == "1"; }

// The requester's affiliation on a node: the service owner always owns (XEP-0163 §3).
affiliation affiliation_for(store& st, const node_row& n, const requester& r) {
  if (r.is_owner) return affiliation::owner;
  return st.affiliation_of(n.id, bare_of(r.from));
}

outcome fail(const xml::element& iq, sc c, std::string_view app = {}, std::string_view feature = {}) {
  return outcome{pubsub_error(iq, c, app, feature), {}, std::nullopt, {}};
}

outcome ok(xml::element reply) { return outcome{std::move(reply), {}, std::nullopt, {}}; }

// XEP-0060 §6.1.3 / §6.5.9: the error for a denied read or subscription.
outcome access_error(const xml::element& iq, access_result a) {
  switch (a) {
    case access_result::outcast: return fail(iq, sc::forbidden);
    case access_result::presence_required: return fail(iq, sc::not_authorized, "presence-subscription-required");
    case access_result::not_in_group: return fail(iq, sc::not_authorized, "not-in-roster-group");
    case access_result::closed_node: return fail(iq, sc::not_allowed, "closed-node");
    case access_result::allowed: break;
  }
  return fail(iq, sc::internal_server_error);
}

event make_event(store& st, const node_row& n, event::kind k) {
  event e;
  e.what = k;
  e.node = n.name;
  e.config = n.config;
  e.affiliations = st.affiliations(n.id);
  e.subscriptions = st.subscriptions(n.id);
  return e;
}

xml::element item_element(const item_row& it, bool with_payload, bool with_publisher, std::string_view ns) {
  xml::element i("item", std::string(ns));
  i.set_attr("id", it.id);
  if (with_publisher && !it.publisher.empty()) i.set_attr("publisher", it.publisher);
  if (with_payload)
    if (auto p = load_xml(it.payload)) i.add_child(std::move(*p));
  return i;
}

xml::element result_with(const xml::element& iq, std::string_view ns, xml::element child) {
  auto r = make_result(iq);
  auto& ps = r.add("pubsub", std::string(ns));
  ps.add_child(std::move(child));
  return r;
}

// ------------------------------------------------------------------ publish (§7.1)

outcome publish(store& st, const std::string& service, const requester& r, const service_policy& p,
                const xml::element& iq, const xml::element& ps, const xml::element& pub, int64_t now_ms) {
  std::string node(pub.attr_or("node"));
  if (node.empty()) return fail(iq, sc::bad_request, "nodeid-required");
  auto items = pub.elements();
  std::vector<const xml::element*> its;
  for (const auto* e : items)
    if (e->is("item", ns_pubsub)) its.push_back(e);
  // §7.1.3.6: persistent nodes need an item; one item per request (no batches).
  if (its.empty()) return fail(iq, sc::bad_request, "item-required");
  if (its.size() > 1) return fail(iq, sc::bad_request, "invalid-payload");
  auto payloads = its.front()->elements();
  // §7.1.3.5 / §7.1.3.6: exactly one payload element.
  if (payloads.empty()) return fail(iq, sc::bad_request, "payload-required");
  if (payloads.size() > 1) return fail(iq, sc::bad_request, "invalid-payload");
  std::string payload = store_xml(*payloads.front());
  if (payload.size() > p.limits.max_payload_bytes) return fail(iq, sc::not_acceptable, "payload-too-big");

  // §7.1.5 publish-options: a form of preconditions.
  std::optional<proto::data_form> options;
  if (const auto* po = ps.child("publish-options", ns_pubsub)) {
    if (const auto* x = po->child("x", proto::ns_data)) {
      options = proto::parse_data_form(*x);
      if (!options || (options->type != "submit") ||
          (!options->form_type().empty() && options->form_type() != ns_publish_options))
        return fail(iq, sc::bad_request, "invalid-options");
    }
  }

  auto n = st.find_node(service, node);
  if (!n) {
    // §7.1.4 auto-create (XEP-0163 §3: MUST for PEP); only the owner creates in PEP.
    if (!p.pep || !r.is_owner) return fail(iq, p.pep ? sc::forbidden : sc::item_not_found);
    if (st.node_count(service) >= p.limits.max_nodes) return fail(iq, sc::resource_constraint);
    node_config cfg = p.defaults;
    // §7.1.5: created with the preconditions as configuration; one we cannot honour fails.
    if (options && apply_form(cfg, *options, p.limits.max_items) != form_error::none)
      return fail(iq, sc::conflict, "precondition-not-met");
    n = st.create_node(service, node, cfg);
    st.set_affiliation(n->id, bare_of(r.from), affiliation::owner);
  } else {
    affiliation a = affiliation_for(st, *n, r);
    bool may = a == affiliation::owner || a == affiliation::publisher || a == affiliation::publish_only;
    if (!may && a != affiliation::outcast) {
      if (n->config.publish == publish_model::open) may = true;
      if (n->config.publish == publish_model::subscribers)
        may = a == affiliation::member || st.subscription(n->id, r.from.str()) ||
              st.subscription(n->id, bare_of(r.from));
    }
    if (!may) return fail(iq, sc::forbidden);  // §7.1.3.1
    if (options && !preconditions_met(n->config, *options, p.limits.max_items))
      return fail(iq, sc::conflict, "precondition-not-met");
  }

  item_row it;
  it.id = std::string(its.front()->attr_or("id"));
  if (it.id.empty()) it.id = util::random_token(20);  // §7.1.2: the service generates one
  it.publisher = r.from.str();
  it.payload = std::move(payload);
  it.published = now_ms;
  st.put_item(n->id, it, n->config.effective_max(p.limits.max_items));

  xml::element pubr("publish", std::string(ns_pubsub));
  pubr.set_attr("node", node);
  pubr.add("item", std::string(ns_pubsub)).set_attr("id", it.id);
  outcome out = ok(result_with(iq, ns_pubsub, std::move(pubr)));
  if (n->config.deliver_notifications) {
    event e = make_event(st, *n, event::kind::items);
    e.items.push_back(std::move(it));
    out.events.push_back(std::move(e));
  }
  return out;
}

// ------------------------------------------------------------------ retract (§7.2)

outcome retract(store& st, const std::string& service, const requester& r, const xml::element& iq,
                const xml::element& rt) {
  std::string node(rt.attr_or("node"));
  if (node.empty()) return fail(iq, sc::bad_request, "nodeid-required");
  const xml::element* item = rt.child("item", ns_pubsub);
  if (!item || item->attr_or("id").empty()) return fail(iq, sc::bad_request, "item-required");
  auto n = st.find_node(service, node);
  if (!n) return fail(iq, sc::item_not_found);
  affiliation a = affiliation_for(st, *n, r);
  if (a != affiliation::owner && a != affiliation::publisher) return fail(iq, sc::forbidden);  // §7.2.3.1
  std::string id(item->attr_or("id"));
  if (!st.retract(n->id, id)) return fail(iq, sc::item_not_found);  // §7.2.3.5
  outcome out = ok(make_result(iq));
  // §7.2.2.1: notify='true' asks for notifications; otherwise pubsub#notify_retract decides.
  const std::string* notify = rt.attr("notify");
  bool send = notify ? is_true_attr(*notify) : n->config.notify_retract;
  if (send && n->config.deliver_notifications) {
    event e = make_event(st, *n, event::kind::retract);
    e.retracted.push_back(id);
    out.events.push_back(std::move(e));
  }
  return out;
}

// ------------------------------------------------------------------ subscribe (§6.1, §6.2)

outcome subscribe(store& st, const std::string& service, const requester& r, const xml::element& iq,
                  const xml::element& ps, const xml::element& sub) {
  std::string node(sub.attr_or("node"));
  if (node.empty()) return fail(iq, sc::bad_request, "nodeid-required");
  auto j = jid::parse(sub.attr_or("jid"));
  if (!sub.attr("jid")) return fail(iq, sc::bad_request, "jid-required");
  // §6.1.3.1: one may only subscribe oneself.
  if (!j || j->bare() != r.from.bare()) return fail(iq, sc::bad_request, "invalid-jid");
  // §6.3: subscription options are not supported.
  if (const auto* o = ps.child("options", ns_pubsub); o && o->child("x", proto::ns_data))
    return fail(iq, sc::not_acceptable, "invalid-options");
  auto n = st.find_node(service, node);
  if (!n) return fail(iq, sc::item_not_found);  // §6.1.3.12
  affiliation a = affiliation_for(st, *n, r);
  if (auto ac = check_access(n->config, a, r); ac != access_result::allowed) return access_error(iq, ac);
  std::string subid;
  if (auto existing = st.subscription(n->id, j->str())) {
    subid = existing->subid;
  } else {
    subid = util::random_token(16);
    st.subscribe(n->id, j->str(), subid);
  }
  xml::element s("subscription", std::string(ns_pubsub));
  s.set_attr("node", node).set_attr("jid", j->str()).set_attr("subid", subid).set_attr("subscription", "subscribed");
  outcome out = ok(result_with(iq, ns_pubsub, std::move(s)));
  if (n->config.send_last_published_item != send_last::never) {
    auto last = st.items(n->id, 1);
    if (!last.empty()) {
      event e = make_event(st, *n, event::kind::items);
      e.items = std::move(last);
      out.last = std::move(e);
      out.last_to = j->str();
    }
  }
  return out;
}

outcome unsubscribe(store& st, const std::string& service, const requester& r, const xml::element& iq,
                    const xml::element& sub) {
  std::string node(sub.attr_or("node"));
  if (node.empty()) return fail(iq, sc::bad_request, "nodeid-required");
  if (!sub.attr("jid")) return fail(iq, sc::bad_request, "jid-required");
  auto j = jid::parse(sub.attr_or("jid"));
  // §6.2.3.3: unsubscribing someone else needs privileges we do not grant here.
  if (!j || j->bare() != r.from.bare()) return fail(iq, sc::forbidden);
  auto n = st.find_node(service, node);
  if (!n) return fail(iq, sc::item_not_found);
  if (!st.unsubscribe(n->id, j->str())) return fail(iq, sc::unexpected_request, "not-subscribed");  // §6.2.3.2
  return ok(make_result(iq));
}

// ------------------------------------------------------------------ items (§6.5)

outcome items(store& st, const std::string& service, const requester& r, const xml::element& iq,
              const xml::element& req) {
  std::string node(req.attr_or("node"));
  if (node.empty()) return fail(iq, sc::bad_request, "nodeid-required");
  uint64_t max = 0;
  if (const std::string* m = req.attr("max_items")) {
    auto [ptr, ec] = std::from_chars(m->data(), m->data() + m->size(), max);
    if (ec != std::errc{} || ptr != m->data() + m->size() || max == 0) return fail(iq, sc::bad_request);
  }
  auto n = st.find_node(service, node);
  if (!n) return fail(iq, sc::item_not_found);  // §6.5.9.11
  affiliation a = affiliation_for(st, *n, r);
  if (auto ac = check_access(n->config, a, r); ac != access_result::allowed) return access_error(iq, ac);
  std::vector<item_row> found;
  std::vector<const xml::element*> asked;
  for (const auto* e : req.elements())
    if (e->is("item", ns_pubsub) && e->attr("id")) asked.push_back(e);
  if (!asked.empty()) {
    // §6.5.8: particular items.
    for (const auto* e : asked)
      if (auto it = st.item(n->id, std::string(e->attr_or("id")))) found.push_back(std::move(*it));
    if (found.empty()) return fail(iq, sc::item_not_found);
  } else {
    // §6.5.7: the N most recent; returned in publication order.
    found = st.items(n->id, max);
    std::reverse(found.begin(), found.end());
  }
  xml::element out("items", std::string(ns_pubsub));
  out.set_attr("node", node);
  for (const auto& it : found) out.add_child(item_element(it, true, false, ns_pubsub));
  return ok(result_with(iq, ns_pubsub, std::move(out)));
}

// ------------------------------------------------------------------ owner use cases (§8)

// The node, provided the requester owns it; else the error outcome.
std::variant<node_row, outcome> owned_node(store& st, const std::string& service, const requester& r,
                                           const xml::element& iq, const xml::element& el) {
  std::string node(el.attr_or("node"));
  if (node.empty()) return fail(iq, sc::bad_request, "nodeid-required");
  auto n = st.find_node(service, node);
  if (!n) return fail(iq, sc::item_not_found);
  if (affiliation_for(st, *n, r) != affiliation::owner) return fail(iq, sc::forbidden);
  return std::move(*n);
}

outcome create(store& st, const std::string& service, const requester& r, const service_policy& p,
               const xml::element& iq, const xml::element& ps, const xml::element& cr) {
  std::string node(cr.attr_or("node"));
  // §8.1.2: instant nodes are not offered: a PEP node is named by its payload namespace.
  if (node.empty()) return fail(iq, sc::not_acceptable, "nodeid-required");
  if (p.pep && !r.is_owner) return fail(iq, sc::forbidden);  // §8.1.3.2
  if (st.find_node(service, node)) return fail(iq, sc::conflict);  // §8.1.3.3
  if (st.node_count(service) >= p.limits.max_nodes) return fail(iq, sc::resource_constraint);
  node_config cfg = p.defaults;
  if (const auto* conf = ps.child("configure", ns_pubsub)) {
    if (const auto* x = conf->child("x", proto::ns_data)) {
      auto f = proto::parse_data_form(*x);
      if (!f || f->type != "submit" || apply_form(cfg, *f, p.limits.max_items) != form_error::none)
        return fail(iq, sc::not_acceptable);  // §8.1.3: configuration cannot be applied
    }
  }
  auto n = st.create_node(service, node, cfg);
  st.set_affiliation(n.id, bare_of(r.from), affiliation::owner);
  return ok(make_result(iq));
}

outcome configure(store& st, const std::string& service, const requester& r, const service_policy& p,
                  const xml::element& iq, const xml::element& conf, bool is_get) {
  auto got = owned_node(st, service, r, iq, conf);
  if (auto* o = std::get_if<outcome>(&got)) return std::move(*o);
  node_row n = std::get<node_row>(std::move(got));
  if (is_get) {
    xml::element c("configure", std::string(ns_pubsub_owner));
    c.set_attr("node", n.name);
    c.add_child(to_form(n.config).to_xml());
    return ok(result_with(iq, ns_pubsub_owner, std::move(c)));
  }
  const xml::element* x = conf.child("x", proto::ns_data);
  if (!x) return fail(iq, sc::bad_request);
  auto f = proto::parse_data_form(*x);
  if (!f) return fail(iq, sc::bad_request);
  if (f->type == "cancel") return ok(make_result(iq));  // §8.2.4
  if (f->type != "submit" || (!f->form_type().empty() && f->form_type() != ns_node_config))
    return fail(iq, sc::bad_request);
  node_config cfg = n.config;
  if (apply_form(cfg, *f, p.limits.max_items) != form_error::none) return fail(iq, sc::not_acceptable);  // §8.2.5.2
  st.update_config(n.id, cfg);
  st.trim(n.id, cfg.effective_max(p.limits.max_items));
  n.config = cfg;
  outcome out = ok(make_result(iq));
  if (cfg.notify_config && cfg.deliver_notifications) out.events.push_back(make_event(st, n, event::kind::configuration));
  return out;
}

outcome delete_node(store& st, const std::string& service, const requester& r, const xml::element& iq,
                    const xml::element& del) {
  auto got = owned_node(st, service, r, iq, del);
  if (auto* o = std::get_if<outcome>(&got)) return std::move(*o);
  node_row n = std::get<node_row>(std::move(got));
  outcome out = ok(make_result(iq));
  // §8.4.2: subscribers hear of it (pubsub#notify_delete); collect them before they go.
  if (n.config.notify_delete && n.config.deliver_notifications)
    out.events.push_back(make_event(st, n, event::kind::deleted));
  st.delete_node(n.id);
  return out;
}

outcome purge(store& st, const std::string& service, const requester& r, const xml::element& iq,
              const xml::element& pu) {
  auto got = owned_node(st, service, r, iq, pu);
  if (auto* o = std::get_if<outcome>(&got)) return std::move(*o);
  node_row n = std::get<node_row>(std::move(got));
  st.purge(n.id);
  outcome out = ok(make_result(iq));
  // §8.5.2: subscribers are told if the node is configured to notify of retractions.
  if (n.config.notify_retract && n.config.deliver_notifications)
    out.events.push_back(make_event(st, n, event::kind::purge));
  return out;
}

outcome owner_subscriptions(store& st, const std::string& service, const requester& r, const xml::element& iq,
                            const xml::element& el, bool is_get) {
  auto got = owned_node(st, service, r, iq, el);
  if (auto* o = std::get_if<outcome>(&got)) return std::move(*o);
  node_row n = std::get<node_row>(std::move(got));
  if (is_get) {
    xml::element subs("subscriptions", std::string(ns_pubsub_owner));
    subs.set_attr("node", n.name);
    for (const auto& s : st.subscriptions(n.id))
      subs.add("subscription", std::string(ns_pubsub_owner))
          .set_attr("jid", s.jid)
          .set_attr("subscription", "subscribed")
          .set_attr("subid", s.subid);
    return ok(result_with(iq, ns_pubsub_owner, std::move(subs)));
  }
  // §8.8.2: validate everything first, then apply.
  std::vector<std::pair<std::string, bool>> changes;
  for (const auto* s : el.elements()) {
    if (!s->is("subscription", ns_pubsub_owner)) continue;
    auto j = jid::parse(s->attr_or("jid"));
    std::string_view state = s->attr_or("subscription");
    if (!j || (state != "none" && state != "subscribed")) return fail(iq, sc::bad_request);
    changes.emplace_back(j->str(), state == "subscribed");
  }
  for (const auto& [j, on] : changes) {
    if (on) st.subscribe(n.id, j, util::random_token(16));
    else st.unsubscribe(n.id, j);
  }
  return ok(make_result(iq));
}

outcome owner_affiliations(store& st, const std::string& service, const requester& r, const service_policy& p,
                           const xml::element& iq, const xml::element& el, bool is_get) {
  auto got = owned_node(st, service, r, iq, el);
  if (auto* o = std::get_if<outcome>(&got)) return std::move(*o);
  node_row n = std::get<node_row>(std::move(got));
  if (is_get) {
    xml::element affs("affiliations", std::string(ns_pubsub_owner));
    affs.set_attr("node", n.name);
    for (const auto& [j, a] : st.affiliations(n.id))
      affs.add("affiliation", std::string(ns_pubsub_owner)).set_attr("jid", j).set_attr("affiliation", std::string(to_string(a)));
    return ok(result_with(iq, ns_pubsub_owner, std::move(affs)));
  }
  std::vector<std::pair<std::string, affiliation>> changes;
  for (const auto* a : el.elements()) {
    if (!a->is("affiliation", ns_pubsub_owner)) continue;
    auto j = jid::parse(a->attr_or("jid"));
    auto aff = parse_affiliation(a->attr_or("affiliation"));
    if (!j || !aff) return fail(iq, sc::bad_request);
    // §8.9.2.4 and XEP-0163 §3: the account stays the owner of its PEP nodes.
    if (p.pep && (j->bare().str() == service || *aff == affiliation::owner)) return fail(iq, sc::not_acceptable);
    changes.emplace_back(j->bare().str(), *aff);
  }
  for (const auto& [j, a] : changes) {
    st.set_affiliation(n.id, j, a);
    if (a == affiliation::outcast)  // §8.9.2.2: an outcast loses its subscriptions
      for (const auto& s : st.subscriptions(n.id))
        if (jid::parse(s.jid) && jid::parse(s.jid)->bare().str() == j) st.unsubscribe(n.id, s.jid);
  }
  return ok(make_result(iq));
}

// ------------------------------------------------------------------ entity queries (§5.6, §5.7)

outcome entity_subscriptions(store& st, const std::string& service, const requester& r, const xml::element& iq,
                             const xml::element& el) {
  std::string node(el.attr_or("node"));
  xml::element subs("subscriptions", std::string(ns_pubsub));
  if (!node.empty()) subs.set_attr("node", node);
  for (const auto& s : st.subscriptions_of(service, bare_of(r.from))) {
    if (!node.empty() && s.node != node) continue;
    subs.add("subscription", std::string(ns_pubsub))
        .set_attr("node", s.node)
        .set_attr("jid", s.jid)
        .set_attr("subscription", "subscribed")
        .set_attr("subid", s.subid);
  }
  return ok(result_with(iq, ns_pubsub, std::move(subs)));
}

outcome entity_affiliations(store& st, const std::string& service, const requester& r, const xml::element& iq,
                            const xml::element& el) {
  std::string node(el.attr_or("node"));
  xml::element affs("affiliations", std::string(ns_pubsub));
  if (!node.empty()) affs.set_attr("node", node);
  if (r.is_owner) {
    for (const auto& n : st.nodes(service))
      if (node.empty() || n.name == node)
        affs.add("affiliation", std::string(ns_pubsub)).set_attr("node", n.name).set_attr("affiliation", "owner");
  } else {
    for (const auto& [n, a] : st.affiliations_of(service, bare_of(r.from)))
      if (node.empty() || n == node)
        affs.add("affiliation", std::string(ns_pubsub)).set_attr("node", n).set_attr("affiliation", std::string(to_string(a)));
  }
  return ok(result_with(iq, ns_pubsub, std::move(affs)));
}

}  // namespace

access_result check_access(const node_config& cfg, affiliation a, const requester& r) {
  if (r.is_owner || a == affiliation::owner) return access_result::allowed;  // XEP-0163 §4: always the owner
  if (a == affiliation::outcast) return access_result::outcast;
  if (a == affiliation::member || a == affiliation::publisher || a == affiliation::publish_only)
    return access_result::allowed;
  switch (cfg.access) {
    case access_model::open: return access_result::allowed;
    case access_model::presence:
      return r.has_presence_sub ? access_result::allowed : access_result::presence_required;
    case access_model::roster:
      for (const auto& g : r.groups)
        if (std::find(cfg.roster_groups_allowed.begin(), cfg.roster_groups_allowed.end(), g) !=
            cfg.roster_groups_allowed.end())
          return access_result::allowed;
      return access_result::not_in_group;
    case access_model::whitelist: return access_result::closed_node;
  }
  return access_result::closed_node;
}

outcome handle(store& st, const std::string& service, const requester& r, const service_policy& p,
               const xml::element& iq, int64_t now_ms) {
  const xml::element* ps = iq.first_element();
  const bool is_get = iq.attr_or("type") == "get";
  if (!ps || ps->name() != "pubsub") return fail(iq, sc::bad_request);
  const xml::element* action = nullptr;
  for (const auto* e : ps->elements()) {
    if (e->ns() != ps->ns()) continue;
    // Modifiers that travel beside the action element.
    if (e->name() == "publish-options" || e->name() == "options" || (e->name() == "configure" && ps->child("create", ns_pubsub)))
      continue;
    action = e;
    break;
  }
  if (!action) {
    if (ps->ns() == ns_pubsub && ps->child("options", ns_pubsub))  // §6.3 alone: not supported
      return fail(iq, sc::feature_not_implemented, "unsupported", "subscription-options");
    return fail(iq, sc::bad_request);
  }
  const std::string& a = action->name();
  if (ps->ns() == ns_pubsub) {
    if (!is_get) {
      if (a == "publish") return publish(st, service, r, p, iq, *ps, *action, now_ms);
      if (a == "retract") return retract(st, service, r, iq, *action);
      if (a == "subscribe") return subscribe(st, service, r, iq, *ps, *action);
      if (a == "unsubscribe") return unsubscribe(st, service, r, iq, *action);
      if (a == "create") return create(st, service, r, p, iq, *ps, *action);
    } else {
      if (a == "items") return items(st, service, r, iq, *action);
      if (a == "subscriptions") return entity_subscriptions(st, service, r, iq, *action);
      if (a == "affiliations") return entity_affiliations(st, service, r, iq, *action);
      if (a == "default")
        return fail(iq, sc::feature_not_implemented, "unsupported", "retrieve-default-sub");
    }
    return fail(iq, sc::feature_not_implemented, "unsupported", a);
  }
  if (ps->ns() == ns_pubsub_owner) {
    if (a == "configure") return configure(st, service, r, p, iq, *action, is_get);
    if (a == "default" && is_get) {
      if (p.pep && !r.is_owner) return fail(iq, sc::forbidden);
      xml::element d("default", std::string(ns_pubsub_owner));
      d.add_child(to_form(p.defaults).to_xml());
      return ok(result_with(iq, ns_pubsub_owner, std::move(d)));
    }
    if (a == "delete" && !is_get) return delete_node(st, service, r, iq, *action);
    if (a == "purge" && !is_get) return purge(st, service, r, iq, *action);
    if (a == "subscriptions") return owner_subscriptions(st, service, r, iq, *action, is_get);
    if (a == "affiliations") return owner_affiliations(st, service, r, p, iq, *action, is_get);
    return fail(iq, sc::feature_not_implemented, "unsupported", a);
  }
  return fail(iq, sc::bad_request);
}

xml::element event_payload(const event& e) {
  const std::string ns(ns_pubsub_event);
  xml::element ev("event", ns);
  switch (e.what) {
    case event::kind::items: {
      auto& its = ev.add("items", ns);
      its.set_attr("node", e.node);
      for (const auto& it : e.items) its.add_child(item_element(it, e.config.deliver_payloads, true, ns));
      break;
    }
    case event::kind::retract: {
      auto& its = ev.add("items", ns);
      its.set_attr("node", e.node);
      for (const auto& id : e.retracted) its.add("retract", ns).set_attr("id", id);
      break;
    }
    case event::kind::purge: ev.add("purge", ns).set_attr("node", e.node); break;
    case event::kind::deleted: ev.add("delete", ns).set_attr("node", e.node); break;
    case event::kind::configuration: ev.add("configuration", ns).set_attr("node", e.node); break;
  }
  return ev;
}

xml::element notification(const event& e, const std::string& from, const std::string& to,
                          std::string_view delay_stamp) {
  xml::element m("message", std::string(xml::ns_client));
  m.set_attr("from", from);
  m.set_attr("to", to);
  m.set_attr("type", e.config.notification_type_normal ? "normal" : "headline");
  m.set_attr("id", util::random_token(12));
  m.add_child(event_payload(e));
  if (!delay_stamp.empty()) {
    // XEP-0060 §6.1.7: a last published item SHOULD say when it was published (XEP-0203).
    auto& d = m.add("delay", std::string(modules::ns_delay));
    d.set_attr("from", from);
    d.set_attr("stamp", std::string(delay_stamp));
  }
  return m;
}

xml::element pubsub_error(const xml::element& iq, stanza_condition c, std::string_view app, std::string_view feature) {
  auto r = make_error_reply(iq, c);
  if (!app.empty()) {
    for (auto& n : r.children()) {
      auto* e = std::get_if<xml::element>(&n);
      if (!e || e->name() != "error") continue;
      auto& ae = e->add(std::string(app), std::string(ns_pubsub_errors));
      if (!feature.empty()) ae.set_attr("feature", std::string(feature));
      break;
    }
  }
  return r;
}

}  // namespace starling::pubsub
