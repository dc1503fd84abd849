// Outgoing server-to-server streams (we are the Initiating Server, RFC 6120 §4 and §13):
// discovery (RFC 6120 §3.2 / XEP-0368 through net/resolver, or [s2s.routes]), connection set-up, STARTTLS, SASL EXTERNAL (XEP-0178) or Server Dialback (XEP-0220), the
// stanza queue and its bounces (RFC 6120 §8.3.3.16/17), and our <db:verify/> requests.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/s2s_manager.hpp"
#include "core/s2s_stream.hpp"
#include "core/server.hpp"
#include "util/base64.hpp"
#include "xml/writer.hpp"

namespace starling {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view ns_bidi = "urn:xmpp:bidi";
constexpr std::string_view ns_bidi_feature = "urn:xmpp:features:bidi";

// Where to connect for a remote domain: one address and port, STARTTLS or direct TLS.
struct target {
  asio::ip::address address;
  uint16_t port = 5269;
  bool direct_tls = false;
};
}  // namespace

// Sends a bounce for `st` (RFC 6120 §8.3.1: never for an error) back through the router to
// its local sender.
static void bounce(server& srv, asio::any_io_executor ex, const xml::element& st, stanza_condition c,
                   const std::string& bounce_to) {
  if (is_error(st)) return;
  auto reply = make_error_reply(st, c);
  if (!bounce_to.empty()) reply.set_attr("to", bounce_to);
  asio::co_spawn(ex, srv.route(std::move(reply), nullptr), asio::detached);
}

asio::awaitable<bool> s2s_stream::connect() {
  const auto& cfg = srv_.cfg().s2s;
  std::vector<target> targets;
  if (const auto* r = cfg.find_route(remote_)) {
    // [s2s.routes] override: no DNS discovery for this domain.
    error_code ec;
    auto literal = asio::ip::make_address(r->host, ec);
    if (!ec) {
      targets.push_back({literal, r->port, r->direct_tls});
    } else {
      int status = 0;
      auto addresses = co_await mgr_.resolver().lookup_host(r->host, status);
      for (const auto& a : addresses) targets.push_back({a, r->port, r->direct_tls});
    }
  } else {
    // RFC 6120 §3.2 and XEP-0368: SRV records in order, else A/AAAA on 5269.
    auto res = co_await mgr_.resolver().resolve_server(remote_);
    for (const auto& c : res.candidates)
      for (const auto& a : c.addresses) targets.push_back({a, c.port, c.direct_tls});
    if (targets.empty()) {
      if (failed_) co_return false;
      spdlog::info("s2s out {}: not found in DNS ({})", remote_, res.error);
      out_fail(res.error == "timeout" ? stanza_condition::remote_server_timeout
                                      : stanza_condition::remote_server_not_found,
               "DNS: " + res.error);
      co_return false;
    }
  }
  if (failed_) co_return false;  // the deadline passed meanwhile
  error_code ec = asio::error::host_not_found;
  for (const auto& t : targets) {
    pending_socket_.emplace(executor_);
    co_await pending_socket_->async_connect(asio::ip::tcp::endpoint(t.address, t.port),
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (failed_) co_return false;
    if (!ec) {
      direct_tls_ = t.direct_tls;
      break;
    }
    spdlog::debug("s2s out {}: {}:{}: {}", remote_, t.address.to_string(), t.port, ec.message());
  }
  if (ec || !pending_socket_) {
    spdlog::info("s2s out {}: cannot connect: {}", remote_, ec.message());
    out_fail(stanza_condition::remote_server_not_found, "cannot connect");
    co_return false;
  }
  conn_.emplace(std::move(*pending_socket_));
  pending_socket_.reset();
  peer_ip_ = conn_->remote_ip();
  spdlog::debug("s2s out {}: connected to {} for {}{}", remote_, peer_ip_, local_, direct_tls_ ? " (direct TLS)" : "");
  co_return true;
}

void s2s_stream::send_header() {
  std::string out =
      "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
      "xmlns:db='jabber:server:dialback' from='";
  xml::escape_attr(out, local_);
  out += "' to='";
  xml::escape_attr(out, remote_);
  out += "' version='1.0' xml:lang='en'>";
  send_raw(out);
  header_sent_ = true;
}

void s2s_stream::out_header(const xml::stream_header& h) {
  if (h.name != "stream" || h.ns != xml::ns_streams || h.default_ns != xml::ns_server) {
    out_fail(stanza_condition::remote_server_not_found, "peer's stream is not jabber:server");
    close(stream_condition::invalid_namespace);
    return;
  }
  if (!stream_id_.empty()) mgr_.forget_stream_id(local_, remote_, stream_id_);
  stream_id_ = std::string(h.attrs.attr_or("id"));
  if (stream_id_.empty()) {
    // XEP-0220 needs the id for the key; RFC 6120 §4.7.3 makes it mandatory anyway.
    out_fail(stanza_condition::remote_server_not_found, "peer's stream has no id");
    close(stream_condition::invalid_xml, "stream header without id");
    return;
  }
  mgr_.note_stream_id(local_, remote_, stream_id_);
}

asio::awaitable<void> s2s_stream::out_element(xml::element el) {
  const auto& cfg = srv_.cfg().s2s;
  if (el.is("features", xml::ns_streams)) {
    co_await out_features(el);
    co_return;
  }
  if (el.ns() == ns_tls) {
    if (el.name() != "proceed") {
      out_fail(stanza_condition::remote_server_not_found, "STARTTLS refused");
      close();
      co_return;
    }
    SSL_CTX* ctx = mgr_.acquire_client_ctx(local_);
    if (!ctx) {
      out_fail(stanza_condition::internal_server_error, "no TLS client context");
      close();
      co_return;
    }
    events_.clear();
    restart_pending_ = true;
    auto ec = co_await conn_->tls_connect(ctx, remote_);
    SSL_CTX_free(ctx);
    if (ec) {
      out_fail(stanza_condition::remote_server_not_found, "TLS handshake failed");
      finish();
      co_return;
    }
    tls_ = true;
    stream_open_ = false;
    send_header();  // RFC 6120 §5.4.3.3: a new stream over TLS
    co_return;
  }
  if (el.ns() == ns_sasl) {
    if (el.name() == "success") {
      // XEP-0178 §2: authenticated; restart the stream (RFC 6120 §6.4.6).
      sasl_done_ = true;
      events_.clear();
      restart_pending_ = true;
      stream_open_ = false;
      send_header();
      co_return;
    }
    if (el.name() == "failure") {
      spdlog::info("s2s out {}: SASL EXTERNAL refused for {}", remote_, local_);
      if (cfg.dialback && !dialback_sent_) {
        dialback_sent_ = true;
        send_raw(dialback_element("result", local_, remote_, {}, std::nullopt,
                                  mgr_.key_for(remote_, local_, stream_id_)));
      } else {
        out_fail(stanza_condition::remote_server_not_found, "not authenticated");
        close();
      }
    }
    co_return;
  }
  if (el.ns() == ns_dialback) {
    auto outcome = parse_dialback_type(el);
    if (!outcome) co_return;
    if (el.name() == "result") {
      if (el.attr_or("from") != remote_ || el.attr_or("to") != local_) co_return;  // not our request
      if (outcome->type == dialback_outcome::kind::valid) {
        out_authenticated();
      } else if (outcome->type == dialback_outcome::kind::invalid) {
        // XEP-0220 §2.3.2: queued stanzas go back with internal-server-error.
        out_fail(stanza_condition::internal_server_error, "dialback key refused");
        close();
      } else {
        // XEP-0220 §2.5: dialback errors bounce the queue with remote-server-timeout.
        out_fail(stanza_condition::remote_server_timeout,
                 std::string("dialback error: ") + std::string(to_string(outcome->condition)));
        close();
      }
      co_return;
    }
    if (el.name() == "verify") {
      std::string id(el.attr_or("id"));
      for (auto it = verifies_.begin(); it != verifies_.end(); ++it) {
        if (it->id != id || !it->sent) continue;
        auto done = std::move(it->done);
        verifies_.erase(it);
        if (done) done(*outcome);
        break;
      }
    }
    co_return;
  }
  if (el.is("error", xml::ns_streams)) {
    const xml::element* cond = el.child_ns(ns_stream_errors);
    spdlog::info("s2s out {}: stream error from peer: {}", remote_, cond ? cond->name() : "?");
    if (!out_authenticated_) out_fail(stanza_condition::remote_server_not_found, "stream error");
    co_return;
  }
  if (el.ns() == xml::ns_server && is_stanza_name(el.name()) && bidi_ && out_authenticated_) {
    // XEP-0288 §2: the peer sends on our stream only what it is authenticated for here, the
    // inverse of our domain pair: from its domain to ours.
    const std::string* from_attr = el.attr("from");
    const std::string* to_attr = el.attr("to");
    std::optional<jid> from = from_attr ? jid::parse(*from_attr) : std::nullopt;
    std::optional<jid> to = to_attr ? jid::parse(*to_attr) : std::nullopt;
    if (!from || !to) {
      close(stream_condition::improper_addressing);
      co_return;
    }
    if (from->domain() != remote_) {
      close(stream_condition::invalid_from);
      co_return;
    }
    if (to->domain() != local_) {
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
  // Anything else (stanzas without XEP-0288 having been enabled) is not for us.
  spdlog::debug("s2s out {}: ignored <{}/> in {}", remote_, el.name(), el.ns());
}

asio::awaitable<void> s2s_stream::out_features(const xml::element& f) {
  const auto& cfg = srv_.cfg().s2s;
  if (!tls_) {
    if (f.child("starttls", ns_tls)) {
      send_raw("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
      co_return;
    }
    if (cfg.require_encryption) {
      // RFC 7590: no federation in the clear unless the operator allows it.
      out_fail(stanza_condition::remote_server_not_found, "peer offers no TLS");
      close(stream_condition::policy_violation, "TLS is required");
      co_return;
    }
  }
  if (tls_ && cfg.require_valid_certificates && !mgr_.peer_certificate_valid(conn_->ssl(), remote_)) {
    out_fail(stanza_condition::remote_server_not_found, "peer certificate not valid");
    close(stream_condition::policy_violation, "Certificate not valid for this domain");
    co_return;
  }
  // XEP-0220 §2.1: from here the stream may carry <db:verify/> for our incoming streams.
  ready_for_verify_ = true;
  send_verifies();
  if (sasl_done_) {
    out_authenticated();
    co_return;
  }
  if (out_authenticated_ || dialback_sent_ || sasl_tried_) co_return;
  if (!bidi_ && f.child("bidi", ns_bidi_feature)) {
    // XEP-0288 §2: enable bidirectionality before authenticating, so that the peer need not
    // open a connection of its own to answer.
    bidi_ = true;
    send_raw("<bidi xmlns='urn:xmpp:bidi'/>");
  }
  if (tls_) {
    if (const xml::element* mechs = f.child("mechanisms", ns_sasl)) {
      for (const xml::element* m : mechs->elements()) {
        if (m->text() != "EXTERNAL") continue;
        // XEP-0178 §2: the peer offers EXTERNAL when our certificate is valid for us; the
        // authorization identity is our domain.
        sasl_tried_ = true;
        std::string out = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>";
        out += util::base64_encode(local_);
        out += "</auth>";
        send_raw(out);
        co_return;
      }
    }
  }
  if (!cfg.dialback) {
    out_fail(stanza_condition::remote_server_not_found, "no authentication possible (dialback disabled)");
    close(stream_condition::policy_violation, "Certificate authentication failed and dialback is disabled");
    co_return;
  }
  // XEP-0220 §2.1.1: the key for this stream id.
  dialback_sent_ = true;
  send_raw(dialback_element("result", local_, remote_, {}, std::nullopt, mgr_.key_for(remote_, local_, stream_id_)));
}

void s2s_stream::out_authenticated() {
  if (out_authenticated_) return;
  out_authenticated_ = true;
  was_authenticated_ = true;
  handshake_timer_.cancel();
  spdlog::info("s2s out {}: authenticated for {} ({}{})", remote_, local_, sasl_done_ ? "SASL EXTERNAL" : "dialback",
               tls_ ? ", TLS" : "");
  last_activity_ = std::chrono::steady_clock::now();
  for (auto& q : queue_) send_stanza(q.stanza);
  queue_.clear();
}

void s2s_stream::send_verifies() {
  for (auto& v : verifies_) {
    if (v.sent) continue;
    v.sent = true;
    send_raw(dialback_element("verify", local_, remote_, v.id, std::nullopt, v.key));
  }
}

void s2s_stream::out_fail(stanza_condition c, std::string_view why) {
  if (failed_ || out_authenticated_) return;
  failed_ = c;
  spdlog::info("s2s out {}: failed for {}: {}; {} queued stanza(s) bounced with {}", remote_, local_, why,
               queue_.size(), to_string(c));
  for (const auto& q : queue_) bounce(srv_, executor_, q.stanza, c, q.bounce_to);
  queue_.clear();
  const auto verify_error = c == stanza_condition::remote_server_timeout ? stanza_condition::remote_server_timeout
                                                                        : stanza_condition::remote_server_not_found;
  for (auto& v : verifies_)
    if (v.done) v.done(dialback_outcome::error(verify_error));
  verifies_.clear();
  // New stanzas start a new attempt instead of waiting on this one.
  mgr_.outgoing_finished(this, local_, remote_);
}

void s2s_stream::enqueue(xml::element stanza, std::string bounce_to) {
  asio::post(executor_, [self = shared_from_this(), st = std::move(stanza), bounce_to = std::move(bounce_to)]() mutable {
    if (!self->outgoing_) {
      // A bidirectional incoming stream (XEP-0288) carrying our stanzas.
      if (self->finished_ || self->closing_) {
        self->mgr_.remove_bidi(self.get());
        self->mgr_.send(std::move(st), std::move(bounce_to));
        return;
      }
      self->last_activity_ = std::chrono::steady_clock::now();
      self->send_stanza(st);
      return;
    }
    if (self->failed_) {
      bounce(self->srv_, self->executor_, st, *self->failed_, bounce_to);
      return;
    }
    if (self->finished_ || self->closing_) {
      // The stream ended after working (idle close or the peer closed): a new one. Leave
      // the table first, or the manager would hand the stanza back to us.
      self->mgr_.outgoing_finished(self.get(), self->local_, self->remote_);
      self->mgr_.send(std::move(st), std::move(bounce_to));
      return;
    }
    if (self->out_authenticated_) {
      self->last_activity_ = std::chrono::steady_clock::now();
      self->send_stanza(st);
      return;
    }
    if (self->queue_.size() >= self->srv_.cfg().s2s.max_queued_stanzas) {
      bounce(self->srv_, self->executor_, st, stanza_condition::resource_constraint, bounce_to);
      return;
    }
    self->queue_.push_back({std::move(st), std::move(bounce_to)});
  });
}

void s2s_stream::request_verify(std::string id, std::string key, verify_callback done) {
  asio::post(executor_, [self = shared_from_this(), id = std::move(id), key = std::move(key),
                         done = std::move(done)]() mutable {
    if (self->failed_ || self->finished_ || self->closing_) {
      done(dialback_outcome::error(stanza_condition::remote_server_not_found));
      return;
    }
    self->verifies_.push_back({std::move(id), std::move(key), std::move(done), false});
    if (self->ready_for_verify_) self->send_verifies();
  });
}

}  // namespace starling
