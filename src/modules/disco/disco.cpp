// XEP-0030: Service Discovery. disco#info on the server lists the identities and features
// that the loaded modules registered; disco#items lists the server's items (none yet: the
// MUC, PubSub and upload services add theirs when they exist). Queries on an account's bare
// JID answer with the account identity (XEP-0030 §3.1, RFC 6121 §8.5.1 handled for the user)
// plus what modules add (identities, items: PEP's pubsub/pep and its nodes, XEP-0163 §5).
#include "core/server.hpp"

namespace starling::modules {

constexpr std::string_view ns_info = "http://jabber.org/protocol/disco#info";
constexpr std::string_view ns_items = "http://jabber.org/protocol/disco#items";

class disco_module : public module {
 public:
  void start(server& srv) override {
    srv.disco().add_identity({"server", "im", "Starling"});
    srv.disco().add_feature(std::string(ns_info));
    srv.disco().add_feature(std::string(ns_items));
    srv.iq().add(iq_target::host, std::string(ns_info), info_host);
    srv.iq().add(iq_target::host, std::string(ns_items), items_host);
    srv.iq().add(iq_target::self, std::string(ns_info), info_account);
    srv.iq().add(iq_target::bare, std::string(ns_info), info_account);
    srv.iq().add(iq_target::self, std::string(ns_items), items_account);
    srv.iq().add(iq_target::bare, std::string(ns_items), items_account);
  }

 private:
  // Common checks: a get with a <query/>; nodes only where a module registered them
  // (XEP-0030 §3.2: item-not-found otherwise).
  static bool check(iq_request& req, std::string_view ns, bool allow_node = false) {
    const auto& q = req.payload();
    if (!req.is_get() || q.name() != "query") {
      req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::bad_request));
      return false;
    }
    if (q.attr("node") && !allow_node) {
      req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::item_not_found));
      return false;
    }
    return true;
  }

  static boost::asio::awaitable<void> info_host(iq_request& req) {
    if (!check(req, ns_info)) co_return;
    auto r = make_result(req.stanza);
    auto& q = r.add("query", std::string(ns_info));
    for (const auto& id : req.srv.disco().identities()) {
      auto& i = q.add("identity", std::string(ns_info));
      i.set_attr("category", id.category).set_attr("type", id.type);
      if (!id.name.empty()) i.set_attr("name", id.name);
    }
    for (const auto& f : req.srv.disco().features()) q.add("feature", std::string(ns_info)).set_attr("var", f);
    req.srv.reply(req, r);
  }

  static boost::asio::awaitable<void> items_host(iq_request& req) {
    if (!check(req, ns_items)) co_return;
    auto r = make_result(req.stanza);
    r.add("query", std::string(ns_items));
    req.srv.reply(req, r);
  }

  // A query on an account node: the module that registered the node answers it.
  static const disco_registry::account_node* account_node(iq_request& req) {
    const std::string* node = req.payload().attr("node");
    if (!node) return nullptr;
    const auto* n = req.srv.disco().find_account_node(*node);
    if (!n) req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::item_not_found));
    return n;
  }

  static boost::asio::awaitable<void> info_account(iq_request& req) {
    if (!check(req, ns_info, true)) co_return;
    if (req.payload().attr("node")) {
      if (const auto* n = account_node(req)) co_await n->info(req);
      co_return;
    }
    // Only the account itself learns whether an account exists (XEP-0030 §8 privacy): for
    // others the account must exist, else service-unavailable, as for any IQ to a non-account.
    if (req.to.bare() != req.from.bare()) {
      auto acc = co_await req.srv.db().accounts().get(req.to.domain(), req.to.local());
      if (!acc) {
        req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::service_unavailable));
        co_return;
      }
    }
    auto r = make_result(req.stanza);
    auto& q = r.add("query", std::string(ns_info));
    q.add("identity", std::string(ns_info)).set_attr("category", "account").set_attr("type", "registered");
    for (const auto& id : req.srv.disco().account_identities()) {
      auto& i = q.add("identity", std::string(ns_info));
      i.set_attr("category", id.category).set_attr("type", id.type);
      if (!id.name.empty()) i.set_attr("name", id.name);
    }
    q.add("feature", std::string(ns_info)).set_attr("var", std::string(ns_info));
    q.add("feature", std::string(ns_info)).set_attr("var", std::string(ns_items));
    for (const auto& f : req.srv.disco().account_features()) q.add("feature", std::string(ns_info)).set_attr("var", f);
    req.srv.reply(req, r);
  }

  static boost::asio::awaitable<void> items_account(iq_request& req) {
    if (!check(req, ns_items, true)) co_return;
    if (req.payload().attr("node")) {
      if (const auto* n = account_node(req)) co_await n->items(req);
      co_return;
    }
    // As for disco#info: only an existing account has items (others learn nothing).
    if (req.to.bare() != req.from.bare()) {
      auto acc = co_await req.srv.db().accounts().get(req.to.domain(), req.to.local());
      if (!acc) {
        req.srv.reply(req, make_error_reply(req.stanza, stanza_condition::service_unavailable));
        co_return;
      }
    }
    xml::element q("query", std::string(ns_items));
    for (const auto& p : req.srv.disco().account_items()) co_await p(req, q);
    auto r = make_result(req.stanza);
    r.add_child(std::move(q));
    req.srv.reply(req, r);
  }
};

}  // namespace starling::modules

using starling::modules::disco_module;
STARLING_MODULE(disco_module, "disco")
