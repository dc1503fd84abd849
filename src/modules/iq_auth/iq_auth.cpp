// XEP-0078: Non-SASL Authentication (jabber:iq:auth), for clients older than RFC 3920 that the
// seeds' Basic IM Protocol Suite still covers. Only the 'password' method, and only over TLS.
// The 'digest' method (SHA1(stream id + password)) is deliberately not offered: the server
// would have to store the plaintext password to verify it, while Starling stores only salted
// SCRAM keys (RFC 5802 §3). Disable the whole module with auth.legacy_auth = false.
#include <spdlog/spdlog.h>

#include "core/accounts.hpp"
#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "precis/precis.hpp"

namespace starling::modules {

constexpr std::string_view ns_auth = "jabber:iq:auth";

class iq_auth_module : public module {
 public:
  void start(server& srv) override {
    if (!srv.cfg().auth.legacy_auth) return;
    srv.add_feature([](c2s_session& s, feature_stage stage, xml::element& features) {
      // XEP-0078 §4: advertised as a stream feature beside SASL.
      if (stage == feature_stage::before_auth)
        features.add("auth", "http://jabber.org/features/iq-auth");
    });
    srv.iq().add(iq_target::host, std::string(ns_auth), handle, /*before_auth=*/true);
    srv.iq().add(iq_target::self, std::string(ns_auth), handle, /*before_auth=*/true);
  }

 private:

  static boost::asio::awaitable<void> handle(iq_request& req) {
    c2s_session* s = req.session;
    const auto& q = req.payload();
    if (!s || q.name() != "query") {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    if (s->is_authenticated()) {
      reply_error(req, stanza_condition::not_allowed, "Already authenticated");
      co_return;
    }
    if (!s->is_tls()) {
      // The password would cross the network in the clear.
      reply_error(req, stanza_condition::policy_violation, "Non-SASL authentication requires TLS");
      co_return;
    }
    if (req.is_get()) {
      // XEP-0078 §3.1: the fields the server accepts (no <digest/>, see above).
      auto r = make_result(req.stanza);
      auto& rq = r.add("query", std::string(ns_auth));
      auto& u = rq.add("username", std::string(ns_auth));
      if (const auto* given = q.child("username", ns_auth)) u.add_text(given->text());
      rq.add("password", std::string(ns_auth));
      rq.add("resource", std::string(ns_auth));
      req.srv.reply(req, r);
      co_return;
    }
    std::string username = q.child_text("username", ns_auth);
    std::string password = q.child_text("password", ns_auth);
    std::string resource = q.child_text("resource", ns_auth);
    if (q.child("digest", ns_auth) && password.empty()) {
      reply_error(req, stanza_condition::not_acceptable, "Only the password method is supported");
      co_return;
    }
    if (username.empty() || password.empty() || resource.empty()) {
      // XEP-0078 §3.2: all three are required.
      reply_error(req, stanza_condition::not_acceptable, "Username, password and resource are required");
      co_return;
    }
    auto user = precis::username_case_mapped(username);
    auto prepared = sasl::prepare_password(password);
    const std::string account_key = (user ? *user : username) + "@" + s->host();
    if (!req.srv.auth_failures_ip().allowed(s->remote_ip()) ||
        !req.srv.auth_failures_account().allowed(account_key)) {
      reply_error(req, stanza_condition::resource_constraint, "Too many failed attempts; try again later");
      co_return;
    }
    bool ok = false;
    if (user && prepared) {
      auto acc = co_await req.srv.db().accounts().get(s->host(), *user);
      if (acc) {
        auto job = [creds = acc->credentials, pw = *prepared] { return verify_password(creds, pw); };
        ok = co_await req.srv.offload(std::move(job));
      }
    }
    if (!ok) {
      req.srv.auth_failures_ip().record(s->remote_ip());
      req.srv.auth_failures_account().record(account_key);
      reply_error(req, stanza_condition::not_authorized);  // XEP-0078 §3.2 (code 401)
      co_return;
    }
    req.srv.auth_failures_account().clear(account_key);
    s->set_authenticated(*user);
    if (auto err = s->bind(resource)) {
      // XEP-0078 §3.2: resource conflict (409) or a bad resource (406).
      reply_error(req, *err == stanza_condition::bad_request ? stanza_condition::not_acceptable : *err);
      s->close();
      co_return;
    }
    spdlog::info("c2s {}: non-SASL authentication as {}", s->remote_ip(), s->full_jid().str());
    req.srv.reply(req, make_result(req.stanza));
  }
};

}  // namespace starling::modules

using starling::modules::iq_auth_module;
STARLING_MODULE(iq_auth_module, "iq_auth")
