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

// The connection answers for both TLS paths (OpenSSL, or the user-space TLS 1.3 record layer
// after the handshake, net/tls_record), so nothing here touches the SSL object.
std::optional<std::string> cb_data_for(const net::connection& conn, std::string_view type) {
  if (!conn.is_tls()) return std::nullopt;
  if (type == "tls-exporter") return conn.tls_exporter();
  if (type == "tls-server-end-point") {
    const X509* cert = conn.own_certificate();
    return cert ? sasl::tls_server_end_point(cert) : std::nullopt;
  }
  return std::nullopt;
}
}  // namespace

std::vector<std::string> c2s_session::offered_cb_types() const {
  std::vector<std::string> out;
  if (!conn_.is_tls()) return out;
  // Availability only: the binding data is derived when a -PLUS exchange asks for it (cb_data
  // below), not for every stream-features and SASL step (it showed in login profiles).
  if (conn_.tls_exporter_available()) out.emplace_back("tls-exporter");
  if (sasl::tls_server_end_point_defined(conn_.own_certificate())) out.emplace_back("tls-server-end-point");
  return out;
}

std::optional<std::string> c2s_session::channel_binding(std::string_view type) const {
  return cb_data_for(conn_, type);
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

c2s_session::sasl_outcome c2s_session::sasl_failed(sasl::failure f, std::string text) {
  if (sasl_) {
    // One line per failed attempt, with address and account, for operators and fail2ban.
    spdlog::info("c2s {}: authentication failed: {} ({}{}{})", remote_ip(), sasl::to_string(f), sasl_->mechanism,
                 sasl_->username.empty() ? "" : ", user ", sasl_->username);
  }
  sasl_.reset();
  sasl_outcome o;
  o.what = sasl_outcome::kind::failure;
  o.condition = f;
  o.text = std::move(text);
  return o;
}

void c2s_session::sasl_check_retries(sasl::failure f) {
  if (f == sasl::failure::not_authorized || f == sasl::failure::malformed_request ||
      f == sasl::failure::incorrect_encoding || f == sasl::failure::invalid_authzid ||
      f == sasl::failure::credentials_expired) {
    if (++sasl_failures_ >= max_sasl_retries) close(stream_condition::policy_violation, "Too many failed authentication attempts");
  }
}

void c2s_session::sasl_send_failure(const sasl_outcome& o, std::string_view ns) {
  // XEP-0388 §2.6.2 keeps the RFC 6120 §6.5 condition in the SASL namespace and <text/> in its own.
  xml::element e("failure", std::string(ns));
  e.add(std::string(sasl::to_string(o.condition)), std::string(ns_sasl));
  if (!o.text.empty()) e.add("text", std::string(ns)).add_text(o.text);
  send(e);
  sasl_check_retries(o.condition);
}

asio::awaitable<c2s_session::sasl_outcome> c2s_session::sasl_begin(std::string name, std::optional<std::string> initial,
                                                                   std::vector<std::string> advertised,
                                                                   bool initial_malformed) {
  const auto& cfg = srv_.cfg();
  sasl_.reset();
  if (!conn_.is_tls() && cfg.tls.require_c2s_encryption) co_return sasl_failed(sasl::failure::encryption_required);  // RFC 6120 §6.5.4
  if (std::find(advertised.begin(), advertised.end(), name) == advertised.end()) {
    const mechanism_info* known = find_mechanism(name);
    // RFC 6120 §6.5.4: an enabled mechanism that needs TLS, asked for without it.
    if (known && !conn_.is_tls() && enabled(cfg, name) && (!known->scram ? cfg.auth.allow_plain : known->plus))
      co_return sasl_failed(sasl::failure::encryption_required);
    co_return sasl_failed(sasl::failure::invalid_mechanism);  // RFC 6120 §6.5.7, XEP-0388 §2.3
  }
  if (!srv_.auth_failures_ip().allowed(remote_ip()))
    co_return sasl_failed(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
  sasl_ = std::make_unique<sasl_state>();
  sasl_->mechanism = name;
  sasl_->advertised = std::move(advertised);
  if (initial_malformed) co_return sasl_failed(sasl::failure::incorrect_encoding);  // RFC 6120 §6.5.5
  if (!initial) {
    // RFC 6120 §6.4.2, XEP-0388 §2.4: no initial response: an empty challenge asks for it.
    sasl_outcome o;
    o.what = sasl_outcome::kind::challenge;
    co_return o;
  }
  co_return co_await sasl_continue(std::move(*initial));
}

asio::awaitable<c2s_session::sasl_outcome> c2s_session::sasl_continue(std::string data) {
  const auto& cfg = srv_.cfg();
  if (!sasl_) co_return sasl_failed(sasl::failure::malformed_request, "No authentication in progress");
  const mechanism_info* mech = find_mechanism(sasl_->mechanism);

  if (!mech->scram) {
    // PLAIN: verified against the stored SCRAM keys (no plaintext passwords are kept).
    auto msg = sasl::parse_plain(data);
    if (!msg) co_return sasl_failed(sasl::failure::malformed_request);
    auto user = precis::username_case_mapped(msg->authcid);
    auto password = sasl::prepare_password(msg->password);
    if (!msg->authzid.empty()) {
      auto az = jid::parse(msg->authzid);
      if (!user || !az || az->local() != *user || az->domain() != host_ || az->has_resource())
        co_return sasl_failed(sasl::failure::invalid_authzid);  // RFC 6120 §6.5.6
    }
    std::string account_key = (user ? *user : msg->authcid) + "@" + host_;
    sasl_->username = user ? *user : msg->authcid;
    if (!srv_.auth_failures_account().allowed(account_key))
      co_return sasl_failed(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
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
    if (!sasl_) co_return sasl_failed(sasl::failure::aborted);  // ended meanwhile
    if (!ok) {
      srv_.auth_failures_ip().record(remote_ip());
      srv_.auth_failures_account().record(account_key);
      co_return sasl_failed(sasl::failure::not_authorized);
    }
    srv_.auth_failures_account().clear(account_key);
    sasl_.reset();
    set_authenticated(*user);
    spdlog::info("c2s {}: authenticated as {} ({})", remote_ip(), jid_.bare_str(), mech->name);
    sasl_outcome o;
    o.what = sasl_outcome::kind::success;
    co_return o;
  }

  if (!sasl_->scram) {
    // SCRAM step 1: client-first-message.
    sasl::scram_server::options o;
    o.alg = mech->alg;
    o.plus = mech->plus;
    o.cb_types = offered_cb_types();
    o.server_supports_plus = !o.cb_types.empty();
    // The scram_server lives in this session, as does the connection it points to.
    const net::connection* conn = &conn_;
    o.cb_data = [conn](std::string_view type) { return cb_data_for(*conn, type); };
    // XEP-0474 §4.1: the hash covers the mechanism list of the profile in use.
    o.advertised_mechanisms = sasl_->advertised;
    o.advertised_cb_types = !o.cb_types.empty();
    o.unknown_user_iterations = cfg.auth.scram_iterations;
    sasl_->scram.emplace(std::move(o));
    if (auto f = sasl_->scram->parse_client_first(data)) {
      // RFC 5802 §7 e= value as text: it tells a client developer what went wrong (e.g.
      // "server-does-support-channel-binding" for a client sending 'y' although -PLUS was
      // offered, which RFC 5802 §6 and XEP-0440 §4 treat as a downgrade attack).
      std::string why(sasl_->scram->scram_error());
      co_return sasl_failed(*f, why);
    }
    const auto& first = sasl_->scram->client_first();
    auto user = precis::username_case_mapped(first.username);
    if (!first.authzid.empty()) {
      auto az = jid::parse(first.authzid);
      if (!user || !az || az->local() != *user || az->domain() != host_ || az->has_resource())
        co_return sasl_failed(sasl::failure::invalid_authzid);
    }
    sasl_->username = user ? *user : first.username;
    if (!srv_.auth_failures_account().allowed(sasl_->username + "@" + host_))
      co_return sasl_failed(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
    std::optional<sasl::scram_credentials> creds;
    if (user) {
      auto acc = co_await srv_.db().accounts().get(host_, *user);
      if (acc)
        for (const auto& c : acc->credentials)
          if (c.alg == mech->alg) creds = c;
    }
    if (!sasl_ || !sasl_->scram) co_return sasl_failed(sasl::failure::aborted);  // ended meanwhile
    // The fake salt for unknown users is keyed by the prepared name, so case variants of a
    // name cannot tell an existing account from a missing one.
    sasl_outcome out;
    out.what = sasl_outcome::kind::challenge;
    out.data = sasl_->scram->server_first(creds, sasl_->username + "@" + host_);
    co_return out;
  }

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
    co_return sasl_failed(*r.error, why);
  }
  srv_.auth_failures_account().clear(account_key);
  std::string user = sasl_->username;
  sasl_.reset();
  set_authenticated(user);
  spdlog::info("c2s {}: authenticated as {} ({})", remote_ip(), jid_.bare_str(), mech->name);
  // RFC 6120 §6.4.6 / XEP-0388 §2.6.1: additional data with success is the server-final-message.
  sasl_outcome o;
  o.what = sasl_outcome::kind::success;
  o.data = std::move(r.server_final);
  co_return o;
}

// RFC 6120 §6.4: the original profile's elements around the shared exchange.
asio::awaitable<void> c2s_session::handle_sasl(xml::element el) {
  if (authenticated_) {
    // RFC 6120 §6.4.6: SASL is over once it has succeeded.
    close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (el.name() == "abort") {
    // RFC 6120 §6.4.4
    sasl_send_failure(sasl_failed(sasl::failure::aborted), ns_sasl);
    co_return;
  }
  sasl_outcome out;
  if (el.name() == "auth") {
    sasl2_ = false;
    std::string name(el.attr_or("mechanism"));
    std::string text = el.text();
    std::optional<std::string> initial;
    bool malformed = false;
    if (text == "=") {
      initial.emplace();  // RFC 6120 §6.4.2: "=" is an empty initial response
    } else if (!text.empty()) {
      auto decoded = util::base64_decode(text);
      if (decoded) initial = std::move(*decoded);
      else malformed = true;
    }
    out = co_await sasl_begin(std::move(name), std::move(initial), offered_mechanisms(), malformed);
  } else if (el.name() == "response") {
    if (sasl_ && sasl2_) {
      // A response in the other profile's namespace than the exchange it belongs to.
      sasl_send_failure(sasl_failed(sasl::failure::malformed_request, "Authentication in progress uses SASL2"), ns_sasl);
      co_return;
    }
    if (!sasl_) {
      sasl_send_failure(sasl_failed(sasl::failure::malformed_request, "No authentication in progress"), ns_sasl);
      co_return;
    }
    std::string text = el.text();
    std::string data;
    if (!text.empty() && text != "=") {
      auto decoded = util::base64_decode(text);
      if (!decoded) {
        sasl_send_failure(sasl_failed(sasl::failure::incorrect_encoding), ns_sasl);
        co_return;
      }
      data = std::move(*decoded);
    }
    out = co_await sasl_continue(std::move(data));
  } else {
    close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (closing_) co_return;

  switch (out.what) {
    case sasl_outcome::kind::failure:
      sasl_send_failure(out, ns_sasl);
      break;
    case sasl_outcome::kind::challenge: {
      xml::element c("challenge", std::string(ns_sasl));
      if (!out.data.empty()) c.add_text(util::base64_encode(out.data));
      send(c);
      break;
    }
    case sasl_outcome::kind::success: {
      // RFC 6120 §6.4.6: additional data with success carries the server-final-message.
      xml::element s("success", std::string(ns_sasl));
      if (!out.data.empty()) s.add_text(util::base64_encode(out.data));
      send(s);
      restart_stream();
      break;
    }
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
