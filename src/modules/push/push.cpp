// XEP-0357 Push Notifications, the XMPP server's side: clients enable and disable app servers
// (JID + node, with a publish-options form) for their account (§5, §6); when a message reaches
// the account while its session is hibernated (XEP-0198) or while it is offline (stored by
// XEP-0160), every enabled app server gets a pubsub publish with a urn:xmpp:push:summary form
// (§7). The message text is included only if [push] include_body is set. An error answer from
// an app server disables that registration (§7: the app server may reject, e.g. for an expired
// device). Registrations are stored per account and removed with it.
//
// Not implemented: notifications to remote app servers (needs federation: server::request()
// reaches local full JIDs only), pending-subscription-count.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <mutex>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/offline/offline_codec.hpp"
#include "modules/push/push_store.hpp"

namespace starling::modules::push {

namespace asio = boost::asio;

constexpr std::string_view ns_push = "urn:xmpp:push:0";
constexpr std::string_view ns_data = "jabber:x:data";
constexpr std::string_view ns_pubsub = "http://jabber.org/protocol/pubsub";
constexpr std::string_view form_publish_options = "http://jabber.org/protocol/pubsub#publish-options";
constexpr std::string_view form_summary = "urn:xmpp:push:summary";

namespace {

std::string form_type(const xml::element& x) {
  for (const xml::element* f : x.elements())
    if (f->is("field", ns_data) && f->attr_or("var") == "FORM_TYPE") return f->child_text("value", ns_data);
  return {};
}

void add_field(xml::element& x, std::string_view var, std::string_view value) {
  auto& f = x.add("field", std::string(ns_data));
  f.set_attr("var", std::string(var));
  f.add("value", std::string(ns_data)).add_text(value);
}

// What a user would want to be woken for: a message with a body, or an end-to-end encrypted one
// (XEP-0384 puts no body in). Chat states, receipts and errors are not worth a notification.
bool notifiable(const xml::element& msg) {
  if (msg.name() != "message") return false;
  const std::string_view type = msg.attr_or("type");
  if (type == "error" || type == "groupchat" || type == "headline") return false;
  for (const xml::element* c : msg.elements())
    if (c->name() == "body" || c->name() == "encrypted") return true;
  return false;
}

}  // namespace

class push_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    store_ = make_sqlite_push_store(srv.sqlite());
    srv.add_migrations(push_migrations());
    // XEP-0357 §4: the user's server advertises support on the account.
    srv.disco().add_account_feature(std::string(ns_push));
    srv.iq().add(iq_target::self, std::string(ns_push), [this](iq_request& r) { return handle_iq(r); });
    srv.hooks().hibernated_stanza.add(0, [this](c2s_session& s, const xml::element& st) {
      if (notifiable(st)) spawn_notify(s.bare_jid(), st);
      return hook_result::next;
    });
    srv.hooks().offline_stored.add(0, [this](const jid& bare, const xml::element& st) {
      if (notifiable(st)) spawn_notify(bare, st);
      return hook_result::next;
    });
    // The count in the summary is of messages since the user was last online.
    srv.hooks().initial_presence.add(0, [this](c2s_session& s) {
      reset(s.bare_jid());
      return hook_result::next;
    });
    srv.hooks().session_resumed.add(0, [this](c2s_session& s, const c2s_session&) {
      reset(s.bare_jid());
      return hook_result::next;
    });
  }

  void stop() override {
    // Notifications still waiting for an app server are abandoned at shutdown.
    pool_.stop();
    pool_.join();
  }

 private:
  void spawn_notify(const jid& bare, const xml::element& msg) {
    asio::co_spawn(pool_, notify(this, bare.bare(), msg), asio::detached);
  }

  uint32_t bump(const jid& bare) {
    std::lock_guard lock(mutex_);
    return ++counts_[bare.str()];
  }
  void reset(const jid& bare) {
    std::lock_guard lock(mutex_);
    counts_.erase(bare.str());
  }

  // XEP-0357 §7: the publish to the app server's node, with the summary and the options.
  xml::element notification(const jid& user, const registration& r, uint32_t count, const xml::element& msg) const {
    xml::element iq("iq", std::string(xml::ns_client));
    iq.set_attr("type", "set");
    iq.set_attr("from", user.str());
    iq.set_attr("to", r.service);
    auto& pubsub = iq.add("pubsub", std::string(ns_pubsub));
    auto& publish = pubsub.add("publish", std::string(ns_pubsub));
    publish.set_attr("node", r.node);
    auto& x = publish.add("item", std::string(ns_pubsub))
                  .add("notification", std::string(ns_push))
                  .add("x", std::string(ns_data));
    x.set_attr("type", "submit");
    add_field(x, "FORM_TYPE", form_summary);
    add_field(x, "message-count", std::to_string(count));
    add_field(x, "last-message-sender", msg.attr_or("from"));
    if (srv_->cfg().push.include_body) {
      const std::string body = msg.child_text("body", xml::ns_client);
      if (!body.empty()) add_field(x, "last-message-body", body);
    }
    if (!r.options.empty()) {
      if (auto opts = decode_stanza(r.options)) pubsub.add("publish-options", std::string(ns_pubsub)).add_child(std::move(*opts));
    }
    return iq;
  }

  static asio::awaitable<void> notify(push_module* self, jid user, xml::element msg) {
    auto regs = co_await self->store_->list(user);
    if (!regs || regs->empty()) co_return;
    const uint32_t count = self->bump(user);
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(self->srv_->cfg().push.request_timeout);
    for (const auto& r : *regs) {
      auto iq = self->notification(user, r, count, msg);
      auto answer = co_await self->srv_->request(std::move(iq), timeout);
      if (answer && answer->attr_or("type") == "error") {
        // The app server refused (e.g. the device token expired): stop notifying it.
        spdlog::info("push: {} rejected a notification for {}; registration removed", r.service, user.str());
        co_await self->store_->remove(user, r.service, r.node);
      } else if (!answer) {
        spdlog::debug("push: no answer from {} for {}", r.service, user.str());
      }
    }
  }

  // XEP-0357 §5 (enable) and §6 (disable).
  asio::awaitable<void> handle_iq(iq_request& req) {
    const auto& q = req.payload();
    if (req.is_get() || (q.name() != "enable" && q.name() != "disable")) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    // The registration belongs to the account itself.
    if (req.from.bare() != req.to.bare()) {
      reply_error(req, stanza_condition::forbidden);
      co_return;
    }
    auto service = jid::parse(q.attr_or("jid"));
    if (!service) {
      reply_error(req, stanza_condition::bad_request, "'jid' must be the app server's JID");
      co_return;
    }
    std::string node(q.attr_or("node"));
    const jid user = req.to.bare();
    if (q.name() == "disable") {
      // §6: without 'node', every node of that app server.
      bool ok = co_await store_->remove(user, service->str(), node);
      if (ok) req.srv.reply(req, make_result(req.stanza));
      else reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    if (node.empty()) {
      reply_error(req, stanza_condition::bad_request, "'node' is required");
      co_return;
    }
    registration r{service->str(), std::move(node), {}};
    if (const xml::element* x = q.child("x", ns_data)) {
      // §5: publish options are a pubsub#publish-options form, passed on with each publish.
      if (form_type(*x) != form_publish_options) {
        reply_error(req, stanza_condition::bad_request, "Expected a pubsub#publish-options form");
        co_return;
      }
      r.options = encode_stanza(*x);
    }
    auto result = co_await store_->put(user, std::move(r), srv_->cfg().push.max_per_account);
    switch (result) {
      case put_result::stored:
        req.srv.reply(req, make_result(req.stanza));
        break;
      case put_result::full:
        reply_error(req, stanza_condition::resource_constraint, "Too many push registrations");
        break;
      case put_result::failed:
        reply_error(req, stanza_condition::internal_server_error);
        break;
    }
  }

  server* srv_ = nullptr;
  std::unique_ptr<push_store> store_;
  std::mutex mutex_;
  std::map<std::string, uint32_t> counts_;  // messages notified since the user was last online
  asio::thread_pool pool_{1};               // last member: stopped and gone before the rest
};

}  // namespace starling::modules::push

using starling::modules::push::push_module;
STARLING_MODULE(push_module, "push")
