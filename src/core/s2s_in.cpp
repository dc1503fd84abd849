// Incoming server-to-server streams (we are the Receiving Server, and the Authoritative Server
// for <db:verify/>): stream header checks (RFC 6120 §4.7, §4.9.3), STARTTLS, SASL EXTERNAL
// (XEP-0178), Server Dialback (XEP-0220), and stanza intake: only from authenticated domains,
// only to local ones, with 'to' and 'from' present (RFC 6120 §4.9.3.7, §4.9.3.9, §4.9.3.6).
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "core/s2s_manager.hpp"
#include "core/s2s_stream.hpp"
#include "core/server.hpp"
#include "precis/precis.hpp"
#include "sasl/scram.hpp"
#include "util/base64.hpp"
#include "util/random.hpp"
#include "xml/writer.hpp"

namespace starling {
namespace asio = boost::asio;

namespace {
constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view ns_bidi = "urn:xmpp:bidi";
// A dialback key is a hex HMAC-SHA256 (64 characters) with today's servers; anything far
// longer is not a key.
constexpr size_t max_key_size = 1024;

// The key is character data; examples (XEP-0185 §4) and some servers wrap it in whitespace.
std::string trimmed_key(const xml::element& el) {
  std::string t = el.text();
  auto b = t.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  auto e = t.find_last_not_of(" \t\r\n");
  return t.substr(b, e - b + 1);
}

std::string sasl_failure(std::string_view condition) {
  std::string out = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><";
  out.append(condition);
  out += "/></failure>";
  return out;
}
}  // namespace

void to_client_namespace(xml::element& e) {
  if (e.ns() == xml::ns_server) e.set_ns(std::string(xml::ns_client));
  for (auto& child : e.children())
    if (auto* c = std::get_if<xml::element>(&child)) to_client_namespace(*c);
}

void s2s_stream::in_header(const xml::stream_header& h) {
  // RFC 6120 §4.9.3.10: a server stream is in jabber:server.
  if (h.name != "stream" || h.ns != xml::ns_streams || h.default_ns != xml::ns_server) {
    close(stream_condition::invalid_namespace);
    return;
  }
  // RFC 6120 §4.7.2 and §4.9.3.6: 'to' names one of our domains.
  const std::string* to = h.attrs.attr("to");
  std::optional<std::string> domain = to ? precis::domain(*to) : std::nullopt;
  if (!domain || !srv_.is_local_host(*domain) || (!in_local_.empty() && *domain != in_local_)) {
    close(stream_condition::host_unknown);
    return;
  }
  in_local_ = *domain;
  if (const std::string* from = h.attrs.attr("from")) {
    auto d = precis::domain(*from);
    if (!d) {
      close(stream_condition::invalid_from);
      return;
    }
    in_remote_claimed_ = *d;
  }
  const bool versioned = h.attrs.attr("version") != nullptr;
  stream_id_ = util::random_token(16);
  std::string out =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:db='jabber:server:dialback' id='";
  out += stream_id_;
  out += "' from='";
  xml::escape_attr(out, in_local_);
  out += "'";
  if (!in_remote_claimed_.empty()) {
    out += " to='";
    xml::escape_attr(out, in_remote_claimed_);
    out += "'";
  }
  if (versioned) out += " version='1.0'";
  out += " xml:lang='en'>";
  send_raw(out);
  header_sent_ = true;
  // A pre-1.0 peer gets no features and can only do dialback.
  if (versioned) in_features();
}

void s2s_stream::in_features() {
  const auto& cfg = srv_.cfg().s2s;
  std::string out = "<stream:features>";
  const bool dialback_ok = cfg.dialback && !cfg.require_valid_certificates && (tls_ || !cfg.require_encryption);
  if (!tls_ && !sasl_done_) {
    out += "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>";
    if (cfg.require_encryption) out += "<required/>";
    out += "</starttls>";
  } else if (!sasl_done_) {
    // XEP-0178 §2: EXTERNAL only when the certificate is valid for the domain the peer says
    // it is (its header's 'from'); otherwise the peer falls back to dialback.
    if (!in_remote_claimed_.empty() && mgr_.peer_certificate_valid(conn_->ssl(), in_remote_claimed_))
      out += "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>EXTERNAL</mechanism></mechanisms>";
  }
  // XEP-0288 §2: bidirectional streams, before and after TLS.
  if (!sasl_done_ && authenticated_.empty()) out += "<bidi xmlns='urn:xmpp:features:bidi'/>";
  // XEP-0220 §2.1.1: dialback with error handling.
  if (!sasl_done_ && dialback_ok) out += "<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback>";
  out += "</stream:features>";
  send_raw(out);
}

asio::awaitable<void> s2s_stream::in_element(xml::element el) {
  if (el.ns() == ns_tls) {
    if (el.name() == "starttls") co_await in_starttls();
    else close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (el.ns() == ns_sasl) {
    in_sasl(el);
    co_return;
  }
  if (el.is("bidi", ns_bidi)) {
    // XEP-0288 §2: after TLS (if TLS is used), before authentication.
    if (authenticated_.empty() && (tls_ || !srv_.cfg().s2s.require_encryption)) bidi_ = true;
    co_return;
  }
  if (el.ns() == ns_dialback) {
    if (el.name() == "result") in_db_result(el);
    else if (el.name() == "verify") in_db_verify(el);
    else close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (el.ns() == xml::ns_server && is_stanza_name(el.name())) {
    // RFC 6120 §4.9.3.12: stanzas before any domain is authenticated.
    if (authenticated_.empty()) {
      close(stream_condition::not_authorized);
      co_return;
    }
    const std::string* from_attr = el.attr("from");
    const std::string* to_attr = el.attr("to");
    std::optional<jid> from = from_attr ? jid::parse(*from_attr) : std::nullopt;
    std::optional<jid> to = to_attr ? jid::parse(*to_attr) : std::nullopt;
    // RFC 6120 §4.9.3.7: between servers 'to' and 'from' are required and must be JIDs.
    if (!from || !to) {
      close(stream_condition::improper_addressing);
      co_return;
    }
    // RFC 6120 §4.9.3.9: 'from' must be a domain this stream authenticated.
    if (!authenticated_.count(std::string(from->domain()))) {
      close(stream_condition::invalid_from);
      co_return;
    }
    // RFC 6120 §4.9.3.6: 'to' must be one of our domains.
    if (!srv_.is_local_host(to->domain())) {
      close(stream_condition::host_unknown);
      co_return;
    }
    to_client_namespace(el);
    el.set_attr("from", from->str());
    el.set_attr("to", to->str());
    last_activity_ = std::chrono::steady_clock::now();
    co_await srv_.route(std::move(el), nullptr);
    co_return;
  }
  // RFC 6120 §4.9.3.24: a first-level element we do not support.
  close(stream_condition::unsupported_stanza_type);
}

asio::awaitable<void> s2s_stream::in_starttls() {
  constexpr std::string_view failure = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>";
  SSL_CTX* ctx = (tls_ || sasl_done_) ? nullptr : srv_.tls().acquire_default();
  if (!ctx) {
    // RFC 6120 §5.4.2.2: not twice, not after authentication.
    send_raw(failure);
    closing_ = true;
    co_await flush();
    finish();
    co_return;
  }
  send_raw("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  co_await flush();
  events_.clear();  // RFC 6120 §5.3.3: nothing pipelined after <starttls/> counts
  restart_pending_ = true;
  auto ec = co_await conn_->tls_accept_with_peer_certificate(ctx);
  SSL_CTX_free(ctx);
  if (ec) {
    spdlog::debug("s2s in {}: STARTTLS handshake failed", peer_ip_);
    finish();
    co_return;
  }
  tls_ = true;
  header_sent_ = false;
  stream_open_ = false;
}

void s2s_stream::in_sasl(const xml::element& el) {
  if (el.name() == "abort") {
    send_raw(sasl_failure("aborted"));
    return;
  }
  if (el.name() != "auth" || sasl_done_) {
    close(stream_condition::unsupported_stanza_type);
    return;
  }
  if (el.attr_or("mechanism") != "EXTERNAL" || !tls_) {
    send_raw(sasl_failure("invalid-mechanism"));
    return;
  }
  // XEP-0178 §2: the authorization identity, if given, is the domain of the header's 'from'.
  std::string text = el.text();
  std::string authzid;
  if (!text.empty() && text != "=") {
    auto decoded = util::base64_decode(text);
    if (!decoded) {
      send_raw(sasl_failure("incorrect-encoding"));
      return;
    }
    authzid = *decoded;
  }
  std::string domain = in_remote_claimed_;
  if (!authzid.empty()) {
    auto d = precis::domain(authzid);
    if (!d || (!domain.empty() && *d != domain)) {
      send_raw(sasl_failure("invalid-authzid"));
      return;
    }
    domain = *d;
  }
  if (domain.empty() || !mgr_.peer_certificate_valid(conn_->ssl(), domain)) {
    send_raw(sasl_failure("not-authorized"));
    return;
  }
  spdlog::info("s2s in {}: {} authenticated by certificate (SASL EXTERNAL) for {}", peer_ip_, domain, in_local_);
  send_raw("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
  sasl_done_ = true;
  in_authenticated(domain, in_local_);
  // RFC 6120 §6.4.6: stream restart.
  restart_pending_ = true;
  header_sent_ = false;
  stream_open_ = false;
}

void s2s_stream::in_db_result(const xml::element& el) {
  const auto& cfg = srv_.cfg().s2s;
  auto from = precis::domain(el.attr_or("from"));
  auto to = precis::domain(el.attr_or("to"));
  if (!from || !to) {
    close(stream_condition::improper_addressing);
    return;
  }
  if (el.attr("type")) return;  // a result for a request we never make on incoming streams
  // XEP-0220 §2.5 error conditions, answered with the request's domains swapped.
  auto error = [&](stanza_condition c) {
    send_raw(dialback_element("result", *to, *from, {}, dialback_outcome::error(c)));
  };
  if (!srv_.is_local_host(*to)) return error(stanza_condition::item_not_found);
  if (cfg.require_encryption && !tls_) return error(stanza_condition::policy_violation);
  if (!cfg.dialback || cfg.require_valid_certificates) return error(stanza_condition::not_authorized);
  std::string key = trimmed_key(el);
  if (authenticated_.count(*from)) {
    send_raw(dialback_element("result", *to, *from, {}, dialback_outcome::valid()));
    return;
  }
  std::string pending = *from + "\n" + *to;
  if (dialback_pending_.count(pending)) return;
  if (key.empty() || key.size() > max_key_size || srv_.is_local_host(*from)) {
    dialback_done(*from, *to, dialback_outcome::invalid());
    return;
  }
  dialback_pending_.insert(pending);
  // XEP-0220 §2.3: ask the Authoritative Server for the claimed domain, over our own stream.
  std::weak_ptr<s2s_stream> weak = weak_from_this();
  auto ex = executor_;
  std::string remote = *from, local = *to;
  mgr_.verify_dialback(local, remote, stream_id_, key, [weak, ex, remote, local](dialback_outcome o) {
    asio::post(ex, [weak, remote, local, o] {
      if (auto s = weak.lock()) s->dialback_done(remote, local, o);
    });
  });
}

void s2s_stream::dialback_done(std::string remote, std::string local, dialback_outcome outcome) {
  dialback_pending_.erase(remote + "\n" + local);
  if (closing_ || finished_) return;
  send_raw(dialback_element("result", local, remote, {}, outcome));
  switch (outcome.type) {
    case dialback_outcome::kind::valid:
      spdlog::info("s2s in {}: {} authenticated by dialback for {}", peer_ip_, remote, local);
      in_authenticated(remote, local);
      break;
    case dialback_outcome::kind::invalid:
      // XEP-0220 §2.4: stanzas from that domain are refused; on a stream with no other
      // authenticated domain the Receiving Server closes it.
      spdlog::warn("s2s in {}: dialback key for {} -> {} is invalid", peer_ip_, remote, local);
      if (authenticated_.empty()) close(stream_condition::not_authorized, "Dialback key not valid");
      break;
    case dialback_outcome::kind::error:
      spdlog::info("s2s in {}: dialback for {} failed: {}", peer_ip_, remote, to_string(outcome.condition));
      break;
  }
}

void s2s_stream::in_authenticated(const std::string& remote, const std::string& local) {
  authenticated_.insert(remote);
  handshake_timer_.cancel();
  // XEP-0288 §2: with bidi, we may send on this stream what we are authenticated for: the
  // inverse of the authenticated pair (for SASL, the stream's 'to' to the peer's domain).
  if (bidi_) {
    spdlog::debug("s2s in {}: bidirectional for {} -> {}", peer_ip_, local, remote);
    mgr_.add_bidi(local, remote, shared_from_this());
  }
}

void s2s_stream::in_db_verify(const xml::element& el) {
  // XEP-0220 §2.4: we are the Authoritative Server for 'to'; the Receiving Server 'from' asks
  // whether the key presented on the stream 'id' is one we generated.
  auto from = precis::domain(el.attr_or("from"));
  auto to = precis::domain(el.attr_or("to"));
  std::string id(el.attr_or("id"));
  if (!from || !to || id.empty()) {
    close(stream_condition::improper_addressing);
    return;
  }
  if (el.attr("type")) return;
  if (!srv_.is_local_host(*to)) {
    send_raw(dialback_element("verify", *to, *from, id, dialback_outcome::error(stanza_condition::item_not_found)));
    return;
  }
  std::string key = trimmed_key(el);
  bool valid = key.size() <= max_key_size && mgr_.is_our_stream(*to, *from, id) &&
               sasl::equal_consttime(key, mgr_.key_for(*from, *to, id));
  spdlog::debug("s2s in {}: db:verify {} -> {} id {}: {}", peer_ip_, *to, *from, id, valid ? "valid" : "invalid");
  send_raw(dialback_element("verify", *to, *from, id,
                            valid ? dialback_outcome::valid() : dialback_outcome::invalid()));
}

}  // namespace starling
