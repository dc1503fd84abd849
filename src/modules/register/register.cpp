// XEP-0077: In-Band Registration — register (before authentication, only where the host
// allows it, only over TLS, throttled per IP), change password and cancel the account (after
// authentication). Data forms (XEP-0077 §4 extensibility) and CAPTCHAs are not offered.
#include <spdlog/spdlog.h>

#include "core/accounts.hpp"
#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "precis/precis.hpp"

namespace starling::modules {

constexpr std::string_view ns_register = "jabber:iq:register";
constexpr std::string_view ns_feature = "http://jabber.org/features/iq-register";

class register_module : public module {
 public:
  void start(server& srv) override {
    srv.disco().add_feature(std::string(ns_register));
    srv.add_feature([&srv](c2s_session& s, feature_stage stage, xml::element& features) {
      const auto* host = srv.cfg().find_host(s.host());
      if (stage == feature_stage::before_auth && host && host->registration)
        features.add("register", std::string(ns_feature));
    });
    srv.iq().add(iq_target::host, std::string(ns_register), handle, /*before_auth=*/true);
    srv.iq().add(iq_target::self, std::string(ns_register), handle, /*before_auth=*/true);
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
      co_await handle_authenticated(req, *s);
      co_return;
    }
    const auto* host = req.srv.cfg().find_host(s->host());
    if (!host || !host->registration) {
      // XEP-0077 §3.1: a host without in-band registration.
      reply_error(req, stanza_condition::service_unavailable);
      co_return;
    }
    if (!s->is_tls()) {
      // XEP-0077 §8: credentials only inside TLS.
      reply_error(req, stanza_condition::policy_violation, "Registration requires TLS");
      co_return;
    }
    if (req.is_get()) {
      // XEP-0077 §3.1: the fields needed to register.
      auto r = make_result(req.stanza);
      auto& rq = r.add("query", std::string(ns_register));
      rq.add("instructions", std::string(ns_register))
          .add_text("Choose a username and password to register with this server.");
      rq.add("username", std::string(ns_register));
      rq.add("password", std::string(ns_register));
      req.srv.reply(req, r);
      co_return;
    }
    if (q.child("remove", ns_register)) {
      reply_error(req, stanza_condition::not_authorized, "Log in to cancel an account");
      co_return;
    }
    const xml::element* ue = q.child("username", ns_register);
    const xml::element* pe = q.child("password", ns_register);
    if (!ue || !pe || ue->text().empty() || pe->text().empty()) {
      reply_error(req, stanza_condition::not_acceptable, "Username and password are required");  // §3.1
      co_return;
    }
    auto user = precis::username_case_mapped(ue->text());
    if (!user || !jid::from_parts(*user, s->host())) {
      reply_error(req, stanza_condition::not_acceptable, "This username is not allowed");
      co_return;
    }
    auto password = sasl::prepare_password(pe->text());
    if (!password || password->size() < req.srv.cfg().registration.min_password_length) {
      reply_error(req, stanza_condition::not_acceptable, "This password is not allowed or too short");
      co_return;
    }
    if (!req.srv.registrations_ip().allowed(s->remote_ip())) {
      // XEP-0077 §3.1 / §9: registrations from one address are rate-limited.
      reply_error(req, stanza_condition::resource_constraint, "Too many registrations; try again later");
      co_return;
    }
    uint32_t iterations = req.srv.cfg().auth.scram_iterations;
    storage::account acc;
    acc.host = s->host();
    acc.user = *user;
    acc.created = std::time(nullptr);
    auto job = [pw = *password, iterations] { return make_credentials(pw, iterations); };
    acc.credentials = co_await req.srv.offload(std::move(job));
    auto result = co_await req.srv.db().accounts().create(std::move(acc));
    if (result == storage::write_result::exists) {
      reply_error(req, stanza_condition::conflict, "This username is taken");  // §3.1
      co_return;
    }
    if (result != storage::write_result::ok) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    req.srv.registrations_ip().record(s->remote_ip());
    spdlog::info("registered {}@{} from {}", *user, s->host(), s->remote_ip());
    req.srv.reply(req, make_result(req.stanza));
  }

  static boost::asio::awaitable<void> handle_authenticated(iq_request& req, c2s_session& s) {
    const auto& q = req.payload();
    jid bare = s.bare_jid();
    if (req.is_get()) {
      // XEP-0077 §3.2.1: already registered.
      auto r = make_result(req.stanza);
      auto& rq = r.add("query", std::string(ns_register));
      rq.add("registered", std::string(ns_register));
      rq.add("username", std::string(ns_register)).add_text(bare.local());
      rq.add("password", std::string(ns_register));
      req.srv.reply(req, r);
      co_return;
    }
    if (q.child("remove", ns_register)) {
      // XEP-0077 §3.3: cancel the account, then end its sessions.
      auto res = co_await req.srv.db().accounts().remove(bare.domain(), bare.local());
      if (res != storage::write_result::ok) {
        reply_error(req, stanza_condition::internal_server_error);
        co_return;
      }
      req.srv.hooks().account_removed.run(bare);
      req.srv.reply(req, make_result(req.stanza));
      spdlog::info("account {} removed by its owner", bare.str());
      for (auto& other : req.srv.sessions().find_bare(bare))
        if (other.get() != &s) other->kick(stream_condition::not_authorized, "Account removed");
      s.close(stream_condition::not_authorized, "Account removed");
      co_return;
    }
    // XEP-0077 §3.3: password change; the username must be the account's own.
    const xml::element* ue = q.child("username", ns_register);
    const xml::element* pe = q.child("password", ns_register);
    if (!ue || !pe || pe->text().empty()) {
      reply_error(req, stanza_condition::bad_request);
      co_return;
    }
    auto user = precis::username_case_mapped(ue->text());
    if (!user || *user != bare.local()) {
      reply_error(req, stanza_condition::not_allowed, "Only your own password can be changed");
      co_return;
    }
    auto password = sasl::prepare_password(pe->text());
    if (!password || password->size() < req.srv.cfg().registration.min_password_length) {
      reply_error(req, stanza_condition::not_acceptable, "This password is not allowed or too short");
      co_return;
    }
    uint32_t iterations = req.srv.cfg().auth.scram_iterations;
    auto job = [pw = *password, iterations] { return make_credentials(pw, iterations); };
    auto creds = co_await req.srv.offload(std::move(job));
    auto res = co_await req.srv.db().accounts().set_credentials(bare.domain(), bare.local(), std::move(creds));
    if (res != storage::write_result::ok) {
      reply_error(req, stanza_condition::internal_server_error);
      co_return;
    }
    req.srv.reply(req, make_result(req.stanza));
  }
};

}  // namespace starling::modules

using starling::modules::register_module;
STARLING_MODULE(register_module, "register")
