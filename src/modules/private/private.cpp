// XEP-0049: Private XML Storage — an account stores arbitrary XML per namespace on the server
// and reads it back; only the account itself, never another user (XEP-0049 §2, §4).
// Limits (local policy): 64 KiB per namespace, 1 MiB per account; larger sets are refused with
// <policy-violation/> / <resource-constraint/>. Reserved namespaces: only those that cannot be a
// storage namespace (the IQ's own and the stanza namespaces) are refused; XEP-0049 §3 makes
// refusing 'jabber:*' and the like optional, and some clients store under such names.
#include <map>
#include <mutex>
#include <unordered_map>

#include "core/per_server.hpp"
#include "core/server.hpp"
#include "modules/private/private_api.hpp"
#include "modules/private/private_store.hpp"
#include "modules/stored_xml/stored_xml.hpp"

namespace starling::modules {

constexpr std::string_view ns_private = "jabber:iq:private";
constexpr size_t max_private_ns_bytes = 64 * 1024;
constexpr size_t max_private_account_bytes = 1024 * 1024;

class private_module;

namespace {
per_server_instance<private_module> registry;
per_server_listeners<private_xml::change_listener> listeners;
}  // namespace

class private_module : public module {
 public:
  ~private_module() override { unregister(); }
  void stop() override { unregister(); }

  void start(server& srv) override {
    srv_ = &srv;
    registry.set(srv, this);
    store_ = make_sqlite_private_store(srv.sqlite());
    srv.add_migrations({{"private", 1,
                         "CREATE TABLE private_xml ("
                         " host TEXT NOT NULL,"
                         " user TEXT NOT NULL,"
                         " ns TEXT NOT NULL,"   // namespace of the stored element(s)
                         " xml TEXT NOT NULL,"  // the element(s) as set, serialized
                         " PRIMARY KEY (host, user, ns),"
                         // Removed with the account, also by starlingctl deluser.
                         " FOREIGN KEY (host, user) REFERENCES accounts (host, user) ON DELETE CASCADE"
                         ") WITHOUT ROWID"}});
    srv.disco().add_account_feature(std::string(ns_private));
    srv.iq().add(iq_target::self, std::string(ns_private), [this](iq_request& req) { return handle(req); });
    srv.iq().add(iq_target::bare, std::string(ns_private), other_user);
  }

 private:

  // XEP-0049 §2: another user's data is off limits; "forbidden" is the preferred condition.
  // The same answer whether the account exists or not.
  static boost::asio::awaitable<void> other_user(iq_request& req) {
    reply_error(req, stanza_condition::forbidden);
    co_return;
  }

  static bool is_reserved(std::string_view ns) {
    return ns.empty() || ns == ns_private || ns == xml::ns_client || ns == xml::ns_server ||
           ns == xml::ns_streams;
  }

  boost::asio::awaitable<void> handle(iq_request& req) {
    const auto& q = req.payload();
    if (q.name() != "query") {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    auto children = q.elements();
    // XEP-0049 §2: at least one child element with a proper namespace, else Not Acceptable
    // (406; §2's example calls it "bad format", which is not an RFC 6120 stanza condition).
    // A child without its own namespace inherits jabber:iq:private and lands here too.
    if (children.empty()) {
      reply_error(req, stanza_condition::not_acceptable, "A child element in its own namespace is required");
      co_return;
    }
    for (const auto* c : children) {
      if (is_reserved(c->ns())) {
        reply_error(req, stanza_condition::not_acceptable, "Reserved namespace");  // XEP-0049 §3
        co_return;
      }
    }
    jid owner = req.from.bare();
    if (req.is_get()) {
      // XEP-0049 §2: a get asks for exactly one namespace.
      if (children.size() != 1) {
        reply_error(req, stanza_condition::bad_request, "Query one namespace at a time");
        co_return;
      }
      const xml::element& asked = *children.front();
      auto op = store_->get(owner, asked.ns());
      auto got = co_await std::move(op);
      if (got.failed) {
        reply_error(req, stanza_condition::internal_server_error);
        co_return;
      }
      auto r = make_result(req.stanza);
      auto& rq = r.add("query", std::string(ns_private));
      if (!got.xml) {
        // Nothing stored: the element comes back as asked (empty), as servers have always done.
        rq.add_child(asked);
      } else {
        auto stored = load_xml_list(*got.xml);
        if (!stored || stored->empty()) {
          reply_error(req, stanza_condition::internal_server_error);
          co_return;
        }
        for (auto& e : *stored) rq.add_child(std::move(e));
      }
      req.srv.reply(req, r);
      co_return;
    }
    // Set: the elements of each namespace replace what that namespace held (§2: a set may
    // carry several elements in the same namespace).
    std::map<std::string, std::string> by_ns;
    for (const auto* c : children) by_ns[c->ns()] += store_xml(*c);
    for (const auto& [ns, text] : by_ns) {
      if (text.size() > max_private_ns_bytes) {
        reply_error(req, stanza_condition::policy_violation,
              "Private data larger than " + std::to_string(max_private_ns_bytes) + " bytes");
        co_return;
      }
    }
    for (auto& [ns, text] : by_ns) {
      auto op = store_->put(owner, ns, std::move(text), max_private_account_bytes);
      auto res = co_await std::move(op);
      if (res == private_put_result::quota_exceeded) {
        reply_error(req, stanza_condition::resource_constraint, "Private storage quota exceeded");
        co_return;
      }
      if (res != private_put_result::ok) {
        reply_error(req, stanza_condition::internal_server_error);
        co_return;
      }
    }
    req.srv.reply(req, make_result(req.stanza));
    // XEP-0411: other modules mirror some namespaces (bookmarks) elsewhere.
    std::vector<private_xml::change_listener> ls = listeners.of(srv_);
    if (ls.empty()) co_return;
    std::map<std::string, std::vector<xml::element>> els;
    for (const auto* c : children) els[c->ns()].push_back(*c);
    for (const auto& [ns, list] : els)
      for (const auto& l : ls) l(*srv_, owner, ns, list);
  }

 public:
  boost::asio::awaitable<std::optional<std::vector<xml::element>>> get(jid owner, std::string ns) {
    auto op = store_->get(owner, std::move(ns));
    auto got = co_await std::move(op);
    if (got.failed) co_return std::nullopt;
    std::vector<xml::element> out;
    if (got.xml)
      if (auto list = load_xml_list(*got.xml)) out = std::move(*list);
    co_return out;
  }

  boost::asio::awaitable<bool> set(jid owner, std::string ns, std::vector<xml::element> elements) {
    std::string text;
    for (const auto& e : elements) text += store_xml(e);
    if (text.size() > max_private_ns_bytes) co_return false;
    auto op = store_->put(owner, std::move(ns), std::move(text), max_private_account_bytes);
    auto res = co_await std::move(op);
    co_return res == private_put_result::ok;
  }

 private:
  void unregister() { registry.erase(srv_, this); }

  server* srv_ = nullptr;
  std::unique_ptr<private_store> store_;
};

namespace private_xml {

boost::asio::awaitable<std::optional<std::vector<xml::element>>> get(server& srv, jid bare, std::string ns) {
  private_module* m = registry.find(srv);
  if (!m) co_return std::nullopt;
  auto out = co_await m->get(std::move(bare), std::move(ns));
  co_return out;
}

boost::asio::awaitable<bool> set(server& srv, jid bare, std::string ns, std::vector<xml::element> elements) {
  private_module* m = registry.find(srv);
  if (!m) co_return false;
  bool ok = co_await m->set(std::move(bare), std::move(ns), std::move(elements));
  co_return ok;
}

void add_change_listener(server& srv, change_listener fn) {
  listeners.add(srv, std::move(fn));
}

}  // namespace private_xml

}  // namespace starling::modules

using starling::modules::private_module;
STARLING_MODULE(private_module, "private")
