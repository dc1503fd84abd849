// RFC 6120 server-to-server streams: lifecycle, I/O, stream closing. The incoming side's
// negotiation lives in s2s_in.cpp, the outgoing side's in s2s_out.cpp.
#include "core/s2s_stream.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/s2s_manager.hpp"
#include "core/server.hpp"
#include "util/random.hpp"
#include "xml/writer.hpp"

namespace starling {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {
stream_condition condition_for(xml::parse_error e) {
  switch (e) {
    case xml::parse_error::not_well_formed: return stream_condition::not_well_formed;
    case xml::parse_error::restricted_xml: return stream_condition::restricted_xml;
    case xml::parse_error::unsupported_encoding: return stream_condition::unsupported_encoding;
    case xml::parse_error::stanza_too_large: return stream_condition::policy_violation;
    case xml::parse_error::too_deep: return stream_condition::policy_violation;
    case xml::parse_error::text_at_stream_level: return stream_condition::bad_format;
  }
  return stream_condition::bad_format;
}

xml::parser_limits limits_from(const config::server_config& cfg) {
  xml::parser_limits l;
  l.max_stanza_bytes = cfg.limit.max_stanza_size;
  l.max_depth = cfg.limit.max_depth;
  return l;
}
}  // namespace

s2s_stream::s2s_stream(s2s_manager& mgr, asio::ip::tcp::socket socket, bool direct_tls)
    : mgr_(mgr),
      srv_(mgr.srv()),
      executor_(socket.get_executor()),
      pending_socket_(std::move(socket)),
      outgoing_(false),
      direct_tls_(direct_tls),
      parser_(*this, limits_from(srv_.cfg())),
      handshake_timer_(executor_),
      idle_timer_(executor_),
      flush_timer_(executor_) {}

s2s_stream::s2s_stream(s2s_manager& mgr, asio::any_io_executor ex, std::string local, std::string remote)
    : mgr_(mgr),
      srv_(mgr.srv()),
      executor_(std::move(ex)),
      outgoing_(true),
      parser_(*this, limits_from(srv_.cfg())),
      handshake_timer_(executor_),
      idle_timer_(executor_),
      flush_timer_(executor_),
      local_(std::move(local)),
      remote_(std::move(remote)) {}

s2s_stream::~s2s_stream() { mgr_.stream_ended(this); }

void s2s_stream::start() {
  mgr_.stream_started(this);
  asio::co_spawn(executor_, [self = shared_from_this()]() { return self->run(); },
                 [self = shared_from_this()](std::exception_ptr e) {
                   // ARCHITECTURE.md error class 3: a bug ends this one stream, never the server.
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("{} {}: internal error: {}", self->dir(), self->peer_ip_, ex.what());
                   }
                   if (self->outgoing_) self->out_fail(stanza_condition::internal_server_error, "internal error");
                   if (!self->closing_) self->close(stream_condition::internal_server_error);
                   self->finish();
                 });
}

asio::awaitable<void> s2s_stream::run() {
  auto self = shared_from_this();
  const auto& cfg = srv_.cfg().s2s;
  // One deadline covers the whole set-up, so that a silent or slow peer costs a stream and a
  // timer, never a thread, and never delays other domains (issue: slow peers time out).
  handshake_timer_.expires_after(outgoing_ ? cfg.connect_timeout + cfg.handshake_timeout : cfg.handshake_timeout);
  handshake_timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    auto s = weak.lock();
    if (!s || s->finished_) return;
    if (s->outgoing_) {
      if (s->out_authenticated_) return;
      s->out_fail(stanza_condition::remote_server_timeout, "no authenticated stream in time");
      if (s->pending_socket_) {
        error_code ignored;
        s->pending_socket_->close(ignored);  // aborts a connect in progress
      }
      if (s->conn_ && !s->closing_) s->close(stream_condition::connection_timeout, "Stream negotiation took too long");
      else if (!s->conn_) s->finish();
      return;
    }
    if (s->authenticated_.empty() && !s->closing_)
      s->close(stream_condition::connection_timeout, "Stream negotiation took too long");
  });

  if (outgoing_) {
    if (!co_await connect()) {
      finish();
      co_return;
    }
  } else {
    conn_.emplace(std::move(*pending_socket_));
    pending_socket_.reset();
    peer_ip_ = conn_->remote_ip();
    if (direct_tls_) {
      // XEP-0368: TLS from the first byte.
      SSL_CTX* ctx = srv_.tls().acquire_default();
      auto ec = co_await conn_->tls_accept_with_peer_certificate(ctx);
      SSL_CTX_free(ctx);
      if (ec) {
        spdlog::debug("s2s in {}: TLS handshake failed", peer_ip_);
        finish();
        co_return;
      }
      tls_ = true;
    }
  }
  if (outgoing_) {
    if (direct_tls_) {
      SSL_CTX* ctx = mgr_.acquire_client_ctx(local_);
      error_code ec = asio::error::no_protocol_option;
      if (ctx) {
        auto r = co_await conn_->tls_connect(ctx, remote_);
        ec = r;
        SSL_CTX_free(ctx);
      }
      if (ec) {
        out_fail(stanza_condition::remote_server_not_found, "TLS handshake failed");
        finish();
        co_return;
      }
      tls_ = true;
    }
    send_header();
  }
  if (cfg.idle_timeout.count() > 0)
    asio::co_spawn(executor_, [self = shared_from_this()] { return self->idle_watch(); }, asio::detached);
  co_await read_loop();
  finish();
}

asio::awaitable<void> s2s_stream::read_loop() {
  // Per-thread buffer as in c2s: the data is parsed before the coroutine can suspend again.
  static thread_local char buffer[16384];
  while (!finished_) {
    error_code ec;
    size_t n = co_await conn_->read_some(std::span<char>(buffer, sizeof buffer), ec);
    if (ec || n == 0) break;
    last_activity_ = std::chrono::steady_clock::now();
    if (closing_ && !stream_open_) continue;
    parser_.feed(std::string_view(buffer, n));
    while (!events_.empty() && !finished_) {
      event ev = std::move(events_.front());
      events_.pop_front();
      if (auto* h = std::get_if<xml::stream_header>(&ev)) {
        stream_open_ = true;
        if (!closing_) {
          if (outgoing_) out_header(*h);
          else in_header(*h);
        }
      } else if (auto* el = std::get_if<xml::element>(&ev)) {
        if (closing_) continue;
        if (outgoing_) co_await out_element(std::move(*el));
        else co_await in_element(std::move(*el));
      } else if (auto* pe = std::get_if<xml::parse_error>(&ev)) {
        spdlog::debug("{} {}: parse error {}: {}", dir(), peer_ip_, xml::to_string(*pe), parse_error_detail_);
        if (outgoing_) out_fail(stanza_condition::remote_server_not_found, "peer sent bad XML");
        if (!closing_) close(condition_for(*pe));
        co_await flush();
        finish();
      } else {
        // RFC 6120 §4.4: the peer closed its stream; close ours and the connection.
        stream_open_ = false;
        if (outgoing_ && !out_authenticated_) out_fail(stanza_condition::remote_server_not_found, "peer closed the stream");
        if (!closing_) {
          closing_ = true;
          send_raw(xml::stream_close_tag);
        }
        co_await flush();
        finish();
      }
      if (restart_pending_) {
        // RFC 6120 §4.3.3: after STARTTLS/SASL the old stream is gone.
        restart_pending_ = false;
        events_.clear();
        parser_.reset();
        break;
      }
    }
  }
}

asio::awaitable<void> s2s_stream::idle_watch() {
  auto self = shared_from_this();
  const auto idle = std::chrono::duration_cast<std::chrono::steady_clock::duration>(srv_.cfg().s2s.idle_timeout);
  while (!finished_ && !closing_) {
    auto quiet = std::chrono::steady_clock::now() - last_activity_;
    if (quiet >= idle) {
      // Idle federation links are closed politely; the next stanza opens a new one.
      spdlog::debug("{} {}: idle, closing", dir(), outgoing_ ? remote_ : peer_ip_);
      close();
      co_return;
    }
    idle_timer_.expires_after(idle - quiet);
    error_code ec;
    co_await idle_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void s2s_stream::on_stream_open(xml::stream_header header) { events_.emplace_back(std::move(header)); }
void s2s_stream::on_element(xml::element el) { events_.emplace_back(std::move(el)); }
void s2s_stream::on_stream_close() { events_.emplace_back(std::monostate{}); }
void s2s_stream::on_parse_error(xml::parse_error err, std::string_view detail) {
  parse_error_detail_ = detail;
  events_.emplace_back(err);
}

void s2s_stream::send_stanza(const xml::element& stanza) {
  // Stanzas are kept in jabber:client inside the server; written with that as the namespace
  // in scope, they carry no xmlns and so take the s2s stream's default, jabber:server
  // (RFC 6120 §4.8.3), while payloads in other namespaces keep theirs.
  std::string text;
  xml::serialize(text, stanza, xml::ns_client);
  send_raw(text);
}

void s2s_stream::send_raw(std::string_view text) {
  if (finished_ || !conn_ || !conn_->is_open()) return;
  out_.append(text);
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(executor_, [self = shared_from_this()]() { return self->write_loop(); }, asio::detached);
  }
}

asio::awaitable<void> s2s_stream::write_loop() {
  while (!out_.empty() && conn_ && conn_->is_open()) {
    std::string chunk;
    chunk.swap(out_);
    error_code ec;
    co_await conn_->write_all(chunk, ec);
    if (ec) {
      out_.clear();
      conn_->close();
      break;
    }
  }
  writing_ = false;
  flush_timer_.cancel();
}

asio::awaitable<void> s2s_stream::flush() {
  while (writing_) {
    flush_timer_.expires_at(asio::steady_timer::time_point::max());
    error_code ec;
    co_await flush_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void s2s_stream::close(std::optional<stream_condition> error, std::string_view text) {
  if (closing_ || finished_) return;
  closing_ = true;
  if (!conn_) {
    finish();
    return;
  }
  if (!header_sent_) {
    // RFC 6120 §4.9.1.2: an error before our header still opens our stream first.
    std::string out =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns:db='jabber:server:dialback' id='";
    out += util::random_token(16);
    out += "' from='";
    xml::escape_attr(out, in_local_.empty() ? srv_.cfg().hosts.front().name : in_local_);
    out += "' version='1.0'>";
    send_raw(out);
    header_sent_ = true;
  }
  if (error) {
    spdlog::info("{} {}: stream error {}{}{}", dir(), outgoing_ ? remote_ : peer_ip_, to_string(*error),
                 text.empty() ? "" : ": ", text);
    std::string out;
    xml::serialize(out, make_stream_error(*error, text), xml::ns_server);
    send_raw(out);
  }
  send_raw(xml::stream_close_tag);
  asio::co_spawn(executor_, [self = shared_from_this()] { return self->linger(); }, asio::detached);
}

asio::awaitable<void> s2s_stream::linger() {
  auto self = shared_from_this();
  co_await flush();
  if (srv_.shutting_down()) {
    // As for clients (c2s_session::linger()): the server is going away, no wait for the peer.
    finish();
    co_return;
  }
  asio::steady_timer t(executor_);
  t.expires_after(srv_.cfg().limit.close_timeout);
  error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  finish();
}

void s2s_stream::shutdown() {
  asio::post(executor_, [self = shared_from_this()] {
    self->close(stream_condition::system_shutdown, "The server is shutting down");
  });
}

void s2s_stream::finish() {
  if (finished_) return;
  if (outgoing_ && !out_authenticated_) out_fail(stanza_condition::remote_server_not_found, "stream ended");
  finished_ = true;
  spdlog::debug("{} {}: connection closed", dir(), outgoing_ ? remote_ : peer_ip_);
  handshake_timer_.cancel();
  idle_timer_.cancel();
  if (pending_socket_) {
    error_code ignored;
    pending_socket_->close(ignored);
  }
  if (conn_) conn_->close();
  if (outgoing_) {
    if (!stream_id_.empty()) mgr_.forget_stream_id(local_, remote_, stream_id_);
    // Verifications still waiting get an answer (XEP-0220 §2.5: the stream to the
    // Authoritative Server ended without verifying).
    for (auto& v : verifies_)
      if (v.done) v.done(dialback_outcome::error(stanza_condition::remote_server_timeout));
    verifies_.clear();
    mgr_.outgoing_finished(this, local_, remote_);
    // Stanzas queued after a successful session ended (idle close, peer closed): a new stream.
    auto rest = std::move(queue_);
    queue_.clear();
    for (auto& q : rest) mgr_.send(std::move(q.stanza), std::move(q.bounce_to));
  } else {
    if (bidi_) mgr_.remove_bidi(this);
    mgr_.incoming_closed();
  }
}

}  // namespace starling
