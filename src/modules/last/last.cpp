// XEP-0012: Last Activity — the server's uptime (§5), and for an account's bare JID the time
// since its last session ended with the status of its last unavailable presence (§3), shown
// only to those allowed to see the account's presence (subscription 'from' or 'both' in the
// owner's roster, or the owner); 0 while any resource is connected (§3). Queries to a full
// JID are the client's to answer (§4): the core delivers them.
// Not implemented: the §4 'forbidden' for full-JID queries from unsubscribed entities (the
// client answers those itself), idle time reported by the server.
#include <boost/asio/detached.hpp>
#include <chrono>
#include <ctime>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/last/last_api.hpp"
#include "modules/last/last_store.hpp"
#include "modules/roster/roster_api.hpp"

namespace starling::modules {

constexpr std::string_view ns_last = "jabber:iq:last";

namespace {
// The running module's store, for last_logout() (one server per process).
last_store* g_store = nullptr;
}  // namespace

boost::asio::awaitable<std::optional<last_record>> last_logout(jid bare) {
  if (!g_store) co_return std::nullopt;
  auto op = g_store->get(std::move(bare));
  auto got = co_await std::move(op);
  co_return got.record;
}

boost::asio::awaitable<std::unordered_map<std::string, last_record>> last_logouts(std::vector<jid> bare) {
  if (!g_store || bare.empty()) co_return std::unordered_map<std::string, last_record>{};
  auto op = g_store->get_many(std::move(bare));
  auto got = co_await std::move(op);
  co_return std::move(got.second);
}

class last_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    store_ = make_sqlite_last_store(srv.sqlite());
    g_store = store_.get();
    srv.add_migrations(sqlite_last_migrations());
    srv.disco().add_feature(std::string(ns_last));
    srv.disco().add_account_feature(std::string(ns_last));
    srv.iq().add(iq_target::host, std::string(ns_last), uptime);
    srv.iq().add(iq_target::self, std::string(ns_last), [this](iq_request& req) { return account(req); });
    srv.iq().add(iq_target::bare, std::string(ns_last), [this](iq_request& req) { return account(req); });
    // Remember the status text of the session's unavailable presence for its logout record.
    srv.hooks().client_stanza.add(50, [](c2s_session& s, xml::element& el) {
      if (el.name() == "presence" && !el.attr("to") && el.attr_or("type") == "unavailable")
        s.slot<last_status>().text = el.child_text("status", xml::ns_client);
      return hook_result::next;
    });
    srv.hooks().session_closed.add(0, [this](c2s_session& s) {
      // §3: "since the user last logged out": when the account's last resource goes.
      if (srv_->sessions().resource_count(s.bare_jid()) == 0) {
        last_record r{static_cast<int64_t>(std::time(nullptr)), s.slot<last_status>().text};
        // Nobody waits for it: batched with the other logouts of the moment (issue 6).
        store_->put_later(s.bare_jid(), std::move(r));
      }
      return hook_result::next;
    });
  }

 void stop() override {
    g_store = nullptr;
    if (store_) store_->close();  // the queued logout records, before the database closes
  }

 private:
  struct last_status {
    std::string text;
  };

  static bool check(iq_request& req) {
    if (!req.is_get() || req.payload().name() != "query") {
      reply_error(req, stanza_condition::bad_request);
      return false;
    }
    return true;
  }

  static void answer(iq_request& req, int64_t seconds, std::string_view status = {}) {
    auto r = make_result(req.stanza);
    auto& q = r.add("query", std::string(ns_last));
    q.set_attr("seconds", std::to_string(seconds < 0 ? 0 : seconds));
    if (!status.empty()) q.add_text(status);
    req.srv.reply(req, r);
  }

  // §5: a server answers with the time since it started.
  static boost::asio::awaitable<void> uptime(iq_request& req) {
    if (!check(req)) co_return;
    auto up = std::chrono::system_clock::now() - req.srv.started_at();
    answer(req, std::chrono::duration_cast<std::chrono::seconds>(up).count());
  }

  boost::asio::awaitable<void> account(iq_request& req) {
    if (!check(req)) co_return;
    jid owner = req.to.bare();
    jid requester = req.from.bare();
    if (requester != owner) {
      // RFC 6121 §8.5.1: an IQ to an account that does not exist.
      auto acc_op = req.srv.db().accounts().get(owner.domain(), owner.local());
      auto acc = co_await std::move(acc_op);
      if (!acc) {
        reply_error(req, stanza_condition::service_unavailable);
        co_return;
      }
      // §3: only who may see the owner's presence (RFC 6121: subscription from or both).
      auto item_op = roster::get_item(req.srv, owner, requester);
      auto item = co_await std::move(item_op);
      if (!item || (item->sub != roster::subscription::from && item->sub != roster::subscription::both)) {
        reply_error(req, stanza_condition::forbidden);
        co_return;
      }
    }
    // §3: a connected resource means "active now".
    if (req.srv.sessions().resource_count(owner) > 0) {
      answer(req, 0);
      co_return;
    }
    auto op = store_->get(owner);
    auto got = co_await std::move(op);
    if (got.failed) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    if (!got.record) {
      // Never logged out since the server started recording: nothing to tell.
      reply_error(req, stanza_condition::item_not_found);
      co_return;
    }
    answer(req, static_cast<int64_t>(std::time(nullptr)) - got.record->logout, got.record->status);
  }

  server* srv_ = nullptr;
  std::unique_ptr<last_store> store_;
};

}  // namespace starling::modules

using starling::modules::last_module;
STARLING_MODULE(last_module, "last")
