// RFC 6120 §6: SASL negotiation on client streams. Mechanisms: SCRAM-SHA-1/256/512 and their
// -PLUS variants (RFC 5802, RFC 7677; channel bindings tls-exporter and tls-server-end-point,
// advertised per XEP-0440, with the XEP-0474 downgrade-protection attribute), and PLAIN
// (RFC 4616) only over TLS. Failed attempts are throttled per IP and per account.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/accounts.hpp"
#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "precis/precis.hpp"
#include "sasl/channel_binding.hpp"
#include "util/base64.hpp"

namespace starling {
namespace asio = boost::asio;

namespace {
constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
// RFC 6120 §6.4.5: a reasonable number of retries (at least 2, at most 5) per stream.
constexpr unsigned max_sasl_retries = 5;

struct mechanism_info {
  std::string_view name;
  sasl::hash_alg alg;
  bool plus;
  bool scram;
};
constexpr mechanism_info known_mechanisms[] = {
    {"SCRAM-SHA-512-PLUS", sasl::hash_alg::sha512, true, true},
    {"SCRAM-SHA-512", sasl::hash_alg::sha512, false, true},
    {"SCRAM-SHA-256-PLUS", sasl::hash_alg::sha256, true, true},
    {"SCRAM-SHA-256", sasl::hash_alg::sha256, false, true},
    {"SCRAM-SHA-1-PLUS", sasl::hash_alg::sha1, true, true},
    {"SCRAM-SHA-1", sasl::hash_alg::sha1, false, true},
    {"PLAIN", sasl::hash_alg::sha256, false, false},
};

const mechanism_info* find_mechanism(std::string_view name) {
  for (const auto& m : known_mechanisms)
    if (m.name == name) return &m;
  return nullptr;
}

bool enabled(const config::server_config& cfg, std::string_view name) {
  const auto& list = cfg.auth.mechanisms;
  return list.empty() || std::find(list.begin(), list.end(), name) != list.end();
}

std::optional<std::string> own_cert_binding(SSL* ssl) {
  const X509* cert = ssl ? SSL_get_certificate(ssl) : nullptr;
  return cert ? sasl::tls_server_end_point(cert) : std::nullopt;
}
}  // namespace

std::vector<std::string> c2s_session::offered_cb_types() const {
  std::vector<std::string> out;
  if (!conn_.is_tls()) return out;
  // Availability only: the binding data is derived when a -PLUS exchange asks for it (cb_data
  // below), not for every stream-features and SASL step (it showed in login profiles).
  SSL* ssl = conn_.ssl();
  if (sasl::tls_exporter_available(ssl)) out.emplace_back("tls-exporter");
  if (sasl::tls_server_end_point_defined(ssl ? SSL_get_certificate(ssl) : nullptr))
    out.emplace_back("tls-server-end-point");
  return out;
}

std::vector<std::string> c2s_session::offered_mechanisms() const {
  std::vector<std::string> out;
  const auto& cfg = srv_.cfg();
  const bool tls = conn_.is_tls();
  // RFC 6120 §5.3.1 / §6.4.1: with TLS required, nothing is offered before TLS.
  if (!tls && cfg.tls.require_c2s_encryption) return out;
  const bool cb = !offered_cb_types().empty();
  for (const auto& m : known_mechanisms) {
    if (!enabled(cfg, m.name)) continue;
    if (m.plus && !cb) continue;
    // RFC 6120 §13.9.4 / RFC 4616 §6: PLAIN exposes the password, so only inside TLS.
    if (!m.scram && (!tls || !cfg.auth.allow_plain)) continue;
    out.emplace_back(m.name);
  }
  return out;
}

void c2s_session::sasl_fail(sasl::failure f, std::string_view text) {
  if (sasl_) {
    // One line per failed attempt, with address and account, for operators and fail2ban.
    spdlog::info("c2s {}: authentication failed: {} ({}{}{})", remote_ip(), sasl::to_string(f), sasl_->mechanism,
                 sasl_->username.empty() ? "" : ", user ", sasl_->username);
  }
  sasl_.reset();
  xml::element e("failure", std::string(ns_sasl));
  e.add(std::string(sasl::to_string(f)), std::string(ns_sasl));
  if (!text.empty()) e.add("text", std::string(ns_sasl)).add_text(text);
  send(e);
  if (f == sasl::failure::not_authorized || f == sasl::failure::malformed_request ||
      f == sasl::failure::incorrect_encoding || f == sasl::failure::invalid_authzid) {
    if (++sasl_failures_ >= max_sasl_retries) close(stream_condition::policy_violation, "Too many failed authentication attempts");
  }
}

asio::awaitable<void> c2s_session::handle_sasl(xml::element el) {
  const auto& cfg = srv_.cfg();
  if (authenticated_) {
    // RFC 6120 §6.4.6: SASL is over once it has succeeded.
    close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (el.name() == "abort") {
    // RFC 6120 §6.4.4
    sasl_fail(sasl::failure::aborted);
    co_return;
  }

  std::string data;
  if (el.name() == "auth") {
    sasl_.reset();
    if (!conn_.is_tls() && cfg.tls.require_c2s_encryption) {
      sasl_fail(sasl::failure::encryption_required);  // RFC 6120 §6.5.4
      co_return;
    }
    std::string_view name = el.attr_or("mechanism");
    auto offered = offered_mechanisms();
    if (std::find(offered.begin(), offered.end(), name) == offered.end()) {
      const mechanism_info* known = find_mechanism(name);
      // RFC 6120 §6.5.4: an enabled mechanism that needs TLS, asked for without it.
      if (known && !conn_.is_tls() && enabled(cfg, name) && (!known->scram ? cfg.auth.allow_plain : known->plus))
        sasl_fail(sasl::failure::encryption_required);
      else
        sasl_fail(sasl::failure::invalid_mechanism);  // RFC 6120 §6.5.7
      co_return;
    }
    if (!srv_.auth_failures_ip().allowed(remote_ip())) {
      sasl_fail(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
      co_return;
    }
    sasl_.emplace();
    sasl_->mechanism = std::string(name);
    std::string text = el.text();
    if (text.empty()) {
      // RFC 6120 §6.4.2: no initial response: send an empty challenge and wait for it.
      send(xml::element("challenge", std::string(ns_sasl)));
      co_return;
    }
    if (text != "=") {  // "=" is an empty initial response
      auto decoded = util::base64_decode(text);
      if (!decoded) {
        sasl_fail(sasl::failure::incorrect_encoding);  // RFC 6120 §6.5.5
        co_return;
      }
      data = std::move(*decoded);
    }
  } else if (el.name() == "response") {
    if (!sasl_) {
      sasl_fail(sasl::failure::malformed_request, "No authentication in progress");
      co_return;
    }
    std::string text = el.text();
    if (!text.empty() && text != "=") {
      auto decoded = util::base64_decode(text);
      if (!decoded) {
        sasl_fail(sasl::failure::incorrect_encoding);
        co_return;
      }
      data = std::move(*decoded);
    }
  } else {
    close(stream_condition::unsupported_stanza_type);
    co_return;
  }

  const mechanism_info* mech = find_mechanism(sasl_->mechanism);
  std::optional<std::string> authenticated_user;

  if (!mech->scram) {
    // PLAIN: verified against the stored SCRAM keys (no plaintext passwords are kept).
    auto msg = sasl::parse_plain(data);
    if (!msg) {
      sasl_fail(sasl::failure::malformed_request);
      co_return;
    }
    auto user = precis::username_case_mapped(msg->authcid);
    auto password = sasl::prepare_password(msg->password);
    if (!msg->authzid.empty()) {
      auto az = jid::parse(msg->authzid);
      if (!user || !az || az->local() != *user || az->domain() != host_ || az->has_resource()) {
        sasl_fail(sasl::failure::invalid_authzid);  // RFC 6120 §6.5.6
        co_return;
      }
    }
    std::string account_key = (user ? *user : msg->authcid) + "@" + host_;
    sasl_->username = user ? *user : msg->authcid;
    if (!srv_.auth_failures_account().allowed(account_key)) {
      sasl_fail(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
      co_return;
    }
    bool ok = false;
    if (user && password) {
      auto acc = co_await srv_.db().accounts().get(host_, *user);
      if (acc) {
        // Named job, not a temporary in the co_await expression (g++ 12 destroys such
        // temporaries twice).
        auto job = [creds = acc->credentials, pw = *password] { return verify_password(creds, pw); };
        ok = co_await srv_.offload(std::move(job));
      }
    }
    if (!ok) {
      srv_.auth_failures_ip().record(remote_ip());
      srv_.auth_failures_account().record(account_key);
      sasl_fail(sasl::failure::not_authorized);
      co_return;
    }
    authenticated_user = *user;
    srv_.auth_failures_account().clear(account_key);
    xml::element s("success", std::string(ns_sasl));
    sasl_.reset();
    set_authenticated(*authenticated_user);
    send(s);
  } else if (!sasl_->scram) {
    // SCRAM step 1: client-first-message.
    sasl::scram_server::options o;
    o.alg = mech->alg;
    o.plus = mech->plus;
    o.cb_types = offered_cb_types();
    o.server_supports_plus = !o.cb_types.empty();
    SSL* ssl = conn_.ssl();
    o.cb_data = [ssl](std::string_view type) -> std::optional<std::string> {
      if (type == "tls-exporter") return sasl::tls_exporter(ssl);
      if (type == "tls-server-end-point") return own_cert_binding(ssl);
      return std::nullopt;
    };
    o.advertised_mechanisms = offered_mechanisms();
    o.advertised_cb_types = !o.cb_types.empty();
    o.unknown_user_iterations = cfg.auth.scram_iterations;
    sasl_->scram.emplace(std::move(o));
    if (auto f = sasl_->scram->parse_client_first(data)) {
      // RFC 5802 §7 e= value as text: it tells a client developer what went wrong (e.g.
      // "server-does-support-channel-binding" for a client sending 'y' although -PLUS was
      // offered, which RFC 5802 §6 and XEP-0440 §4 treat as a downgrade attack).
      std::string why(sasl_->scram->scram_error());
      sasl_fail(*f, why);
      co_return;
    }
    const auto& first = sasl_->scram->client_first();
    auto user = precis::username_case_mapped(first.username);
    if (!first.authzid.empty()) {
      auto az = jid::parse(first.authzid);
      if (!user || !az || az->local() != *user || az->domain() != host_ || az->has_resource()) {
        sasl_fail(sasl::failure::invalid_authzid);
        co_return;
      }
    }
    sasl_->username = user ? *user : first.username;
    if (!srv_.auth_failures_account().allowed(sasl_->username + "@" + host_)) {
      sasl_fail(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
      co_return;
    }
    std::optional<sasl::scram_credentials> creds;
    if (user) {
      auto acc = co_await srv_.db().accounts().get(host_, *user);
      if (acc)
        for (const auto& c : acc->credentials)
          if (c.alg == mech->alg) creds = c;
    }
    if (!sasl_) co_return;  // aborted meanwhile
    // The fake salt for unknown users is keyed by the prepared name, so case variants of a
    // name cannot tell an existing account from a missing one.
    std::string challenge = sasl_->scram->server_first(creds, sasl_->username + "@" + host_);
    xml::element c("challenge", std::string(ns_sasl));
    c.add_text(util::base64_encode(challenge));
    send(c);
  } else {
    // SCRAM step 2: client-final-message.
    auto r = sasl_->scram->client_final(data);
    std::string account_key = sasl_->username + "@" + host_;
    if (r.error) {
      if (*r.error == sasl::failure::not_authorized) {
        srv_.auth_failures_ip().record(remote_ip());
        srv_.auth_failures_account().record(account_key);
      }
      std::string why(sasl_->scram->scram_error());
      // Do not tell an attacker whether the proof or the account was wrong.
      if (why == "invalid-proof" || why == "unknown-user") why.clear();
      sasl_fail(*r.error, why);
      co_return;
    }
    srv_.auth_failures_account().clear(account_key);
    std::string user = sasl_->username;
    sasl_.reset();
    set_authenticated(user);
    // RFC 6120 §6.4.6: additional data with success carries the server-final-message.
    xml::element s("success", std::string(ns_sasl));
    s.add_text(util::base64_encode(r.server_final));
    send(s);
  }

  if (authenticated_) {
    spdlog::info("c2s {}: authenticated as {} ({})", remote_ip(), jid_.bare_str(), mech->name);
    restart_stream();
  }
}

void c2s_session::restart_stream() {
  // RFC 6120 §6.4.6: both sides consider the old stream replaced by a new one.
  restart_pending_ = true;
  header_sent_ = false;
  stream_open_ = false;
}

void c2s_session::set_authenticated(const std::string& user) {
  auto j = jid::from_parts(user, host_);
  if (!j) return;
  jid_ = *j;
  authenticated_ = true;
}

}  // namespace starling
