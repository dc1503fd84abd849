// RFC 6120 client-to-server streams: lifecycle, I/O, stream headers and errors.
// SASL lives in c2s_sasl.cpp, resource binding and stanza intake in c2s_stanza.cpp.
#include "core/c2s_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <malloc.h>

#include "core/server.hpp"
#include "precis/precis.hpp"
#include "util/random.hpp"
#include "xml/writer.hpp"

namespace starling {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::string_view ns_tls = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view ns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
// out_'s capacity kept after a write; a bigger buffer is freed (write_out(), issue 6).
constexpr size_t max_kept_output = 512;

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

size_t c2s_session::next_slot_id() {
  static std::atomic<size_t> next{0};
  return next++;
}

c2s_session::c2s_session(server& srv, asio::ip::tcp::socket socket, bool direct_tls)
    : srv_(srv),
      executor_(socket.get_executor()),
      conn_(std::move(socket)),
      direct_tls_(direct_tls),
      parser_(*this, limits_from(srv.cfg())),
      handshake_timer_(executor_),
      idle_timer_(executor_),
      flush_timer_(executor_),
      hibernate_timer_(executor_) {}

c2s_session::~c2s_session() { srv_.c2s_ended(this); }

void c2s_session::start() {
  srv_.c2s_started(this);
  asio::co_spawn(executor_, [self = shared_from_this()]() { return self->run(); },
                 [self = shared_from_this()](std::exception_ptr e) {
                   // ARCHITECTURE.md error class 3: a bug ends this one stream, never the server.
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     spdlog::error("c2s {}: internal error: {}", self->remote_ip(), ex.what());
                   }
                   if (!self->closing_) self->close(stream_condition::internal_server_error);
                   self->finish();
                 });
}

asio::awaitable<void> c2s_session::run() {
  auto self = shared_from_this();
  handshake_timer_.expires_after(srv_.cfg().limit.handshake_timeout);
  handshake_timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto s = weak.lock(); s && !s->bound_ && !s->closing_) {
      s->close(stream_condition::connection_timeout, "Stream negotiation took too long");
    }
  });

  if (direct_tls_) {
    // XEP-0368: TLS from the first byte.
    SSL_CTX* ctx = srv_.tls().acquire_default();
    auto ec = co_await conn_.tls_accept(ctx, /*user_space_records=*/true);
    SSL_CTX_free(ctx);
    if (ec) {
      spdlog::debug("c2s {}: TLS handshake failed", remote_ip());
      finish();
      co_return;
    }
  }

  if (srv_.cfg().limit.idle_timeout.count() > 0) arm_idle_timer(last_activity_ + srv_.cfg().limit.idle_timeout);

  // One read buffer per thread, not per session: data is consumed by the parser before the
  // coroutine can suspend again, so idle sessions hold no read buffer.
  static thread_local char buffer[16384];
  const double rate = srv_.cfg().limit.max_bytes_per_second;
  double allowance = rate;  // token bucket, refilled at `rate` bytes per second
  auto last_refill = std::chrono::steady_clock::now();
  while (!finished_) {
    error_code ec;
    size_t n = co_await conn_.read_some(std::span<char>(buffer, sizeof buffer), ec);
    if (ec || n == 0) break;
    last_activity_ = std::chrono::steady_clock::now();
    if (!release_due_) note_activity();  // once per busy period, not per read
    if (closing_ && !stream_open_) continue;  // input after our close is ignored
    parser_.feed(std::string_view(buffer, n));
    while (events_head_ < events_.size() && !finished_) {
      event ev = std::move(events_[events_head_]);
      if (++events_head_ == events_.size()) drop_events();
      if (auto* h = std::get_if<xml::stream_header>(&ev)) {
        co_await handle_header(*h);
      } else if (auto* el = std::get_if<xml::element>(&ev)) {
        if (!closing_) co_await handle_element(std::move(*el));
      } else if (auto* pe = std::get_if<xml::parse_error>(&ev)) {
        spdlog::debug("c2s {}: parse error {}: {}", remote_ip(), xml::to_string(*pe), parse_error_detail_);
        if (!closing_) close(condition_for(*pe));
        // The peer's XML is unusable: no closing handshake to wait for.
        co_await flush();
        finish();
      } else {
        // RFC 6120 §4.4: the peer closed its stream; close ours and the connection.
        stream_open_ = false;
        if (!closing_) {
          closing_ = true;
          if (!writing_ && out_.empty() && !hold_output_) {
            // Nothing else to send: our closing tag leaves with the TLS close_notify and the
            // TCP close in one write (RFC 6120 §4.4; one send less per login, issue 6). The
            // session is unregistered first, so when the client sees the tag no stanza can
            // be routed to this stream any more.
            finish("</stream:stream>");
            continue;
          }
          send_raw("</stream:stream>");
        }
        co_await flush();
        finish();
      }
      if (restart_pending_) {
        // RFC 6120 §4.3.3: after STARTTLS/SASL the old stream is gone, and whatever the
        // client sent after the restart point on it is discarded (STARTTLS injection).
        restart_pending_ = false;
        drop_events();
        parser_.reset();
        break;
      }
    }
    if (rate > 0 && !finished_) {
      // Traffic shaping: over the rate, stop reading for as long as the excess takes to
      // drain, so TCP flow control slows the sender down (no data is dropped). Only after
      // the input was parsed: the read buffer is shared by the thread's sessions.
      auto now = last_activity_;
      allowance = std::min(rate, allowance + rate * std::chrono::duration<double>(now - last_refill).count());
      last_refill = now;
      allowance -= static_cast<double>(n);
      if (allowance < 0) co_await pause_reading(-allowance / rate);
    }
  }
  // XEP-0198 §5: a resumable session outlives a connection that dropped without a closed stream.
  if (can_hibernate()) hibernate();
  else finish();
}

// A timer of its own in a coroutine of its own, so that the read loop's frame, which every
// idle session keeps, does not carry one.
asio::awaitable<void> c2s_session::pause_reading(double seconds) {
  asio::steady_timer pause(executor_);
  pause.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds)));
  error_code ec;
  co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Input arrived after a quiet period (or for the first time): a release is due once the
// stream is quiet again for limits.idle_release_delay. Called once per busy period, so the
// per-read cost is one flag test.
void c2s_session::note_activity() {
  release_due_ = true;
  const auto delay = srv_.cfg().limit.idle_release_delay;
  if (delay.count() == 0) return;
  const auto at = last_activity_ + delay;
  if (!idle_armed_ || idle_timer_.expiry() > at) arm_idle_timer(at);
}

void c2s_session::arm_idle_timer(std::chrono::steady_clock::time_point at) {
  idle_armed_ = true;
  idle_timer_.expires_at(at);  // cancels a pending wait, whose handler then does nothing
  idle_timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto s = weak.lock()) s->on_idle_timer();
  });
}

void c2s_session::on_idle_timer() {
  idle_armed_ = false;
  if (finished_ || closing_ || hibernated_) return;
  const auto now = std::chrono::steady_clock::now();
  const auto quiet = now - last_activity_;
  const auto& lim = srv_.cfg().limit;
  if (lim.idle_timeout.count() > 0 && quiet >= lim.idle_timeout) {
    close(stream_condition::connection_timeout, "Idle for too long");
    return;
  }
  const bool release_on = lim.idle_release_delay.count() > 0;
  if (release_on && release_due_ && quiet >= lim.idle_release_delay) {
    release_due_ = false;
    release_idle_memory();
  }
  auto next = std::chrono::steady_clock::time_point::max();
  if (lim.idle_timeout.count() > 0) next = last_activity_ + lim.idle_timeout;
  if (release_on && release_due_) next = std::min(next, last_activity_ + lim.idle_release_delay);
  if (next != std::chrono::steady_clock::time_point::max()) arm_idle_timer(next);
}

// The stream has been quiet for limits.idle_release_delay: give back what only a busy stream
// needs. The parser frees expat if it is between stanzas (xml::stream_parser::hibernate);
// it is recreated by the next input.
void c2s_session::release_idle_memory() {
  if (!parser_.hibernated() && parser_.hibernate())
    spdlog::debug("c2s {}: stream {} idle, XML parser released", remote_ip(), stream_id_);
  if (events_.empty()) {  // else the read loop is still working through them
    std::vector<event>().swap(events_);
    std::string().swap(parse_error_detail_);
  }
  if (out_.empty()) std::string().swap(out_);
  if (held_output_.empty()) std::string().swap(held_output_);
  // What a login and a busy stream used (TLS handshake, SASL, parser, stanzas) was freed in
  // small pieces between the chunks still in use, so the allocator keeps those pages; give
  // whole free pages back to the system (glibc madvises them), at most once a second per
  // thread, so that the cost stays independent of the number of sessions going idle.
  static thread_local std::chrono::steady_clock::time_point last_trim;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_trim >= std::chrono::seconds(1)) {
    last_trim = now;
    ::malloc_trim(0);
  }
}

void c2s_session::on_stream_open(xml::stream_header header) { events_.emplace_back(std::move(header)); }
void c2s_session::on_element(xml::element el) { events_.emplace_back(std::move(el)); }
void c2s_session::on_stream_close() { events_.emplace_back(std::monostate{}); }
void c2s_session::on_parse_error(xml::parse_error err, std::string_view detail) {
  parse_error_detail_ = detail;
  events_.emplace_back(err);
}

asio::awaitable<void> c2s_session::handle_header(const xml::stream_header& h) {
  stream_open_ = true;
  if (const std::string* l = h.attrs.attr_ns(xml::ns_xml, "lang")) lang_ = *l;
  // RFC 6120 §4.9.3.10: wrong stream or content namespace.
  if (h.name != "stream" || h.ns != xml::ns_streams || h.default_ns != xml::ns_client) {
    close(stream_condition::invalid_namespace);
    co_return;
  }
  // RFC 6120 §4.7.1/§4.9.3.6: the 'to' must name a domain served here.
  const std::string* to = h.attrs.attr("to");
  std::optional<std::string> domain = to ? precis::domain(*to) : std::nullopt;
  if (!domain || !srv_.is_local_host(*domain) || (!host_.empty() && *domain != host_)) {
    close(stream_condition::host_unknown);
    co_return;
  }
  host_ = *domain;
  // RFC 6120 §4.7.5: no version means a pre-XMPP 1.0 client; major > 1 is unsupported.
  const std::string* version = h.attrs.attr("version");
  legacy_stream_ = !version;
  if (version) {
    auto dot = version->find('.');
    std::string major = version->substr(0, dot);
    bool numeric = !major.empty() && major.size() < 4 &&
                   major.find_first_not_of("0123456789") == std::string::npos;
    if (!numeric) {
      close(stream_condition::unsupported_version);
      co_return;
    }
    int m = std::stoi(major);
    if (m > 1) {
      close(stream_condition::unsupported_version);
      co_return;
    }
    if (m < 1) legacy_stream_ = true;
  }

  stream_id_ = util::random_token(16);
  std::string out = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' id='";
  out += stream_id_;
  out += "' from='";
  xml::escape_attr(out, host_);
  out += "'";
  if (const std::string* from = h.attrs.attr("from"); from && jid::parse(*from)) {
    out += " to='";
    xml::escape_attr(out, *from);
    out += "'";
  }
  if (!legacy_stream_) out += " version='1.0'";
  out += " xml:lang='en'>";
  // RFC 6120 §4.3.2: the features follow our header at once. Both go out in one write (one
  // TLS record, one send on the socket): a login opens three streams (RFC 6120 §5.3.7, §6.4.6),
  // and every separate write costs a system call and the peer's loopback receive (issue 6).
  if (!legacy_stream_) xml::serialize(out, features(), xml::ns_client);
  send_raw(out);
  header_sent_ = true;
  co_return;
}

void c2s_session::send_features() { send(features()); }

xml::element c2s_session::features() {
  xml::element f("features", std::string(xml::ns_streams));
  feature_stage stage;
  if (!conn_.is_tls() && !authenticated_) {
    stage = feature_stage::before_tls;
    // RFC 6120 §5.3.1: STARTTLS is mandatory-to-negotiate unless the operator allows plain.
    auto& st = f.add("starttls", std::string(ns_tls));
    if (srv_.cfg().tls.require_c2s_encryption) st.add("required", std::string(ns_tls));
  } else if (!authenticated_) {
    stage = feature_stage::before_auth;
  } else {
    stage = feature_stage::after_auth;
  }
  if (!authenticated_) {
    auto mechs = offered_mechanisms();
    if (!mechs.empty()) {
      auto& m = f.add("mechanisms", std::string(ns_sasl));
      for (auto& name : mechs) m.add("mechanism", std::string(ns_sasl)).add_text(name);
    }
    auto cb = offered_cb_types();
    if (!cb.empty()) {
      // XEP-0440: tell the client which channel-binding types we support.
      auto& c = f.add("sasl-channel-binding", "urn:xmpp:sasl-cb:0");
      for (auto& t : cb) c.add("channel-binding", "urn:xmpp:sasl-cb:0").set_attr("type", t);
    }
    add_sasl2_feature(f);
  } else {
    // Not after XEP-0386 Bind 2 (the SASL2 success already bound a resource).
    if (!bound_) f.add("bind", "urn:ietf:params:xml:ns:xmpp-bind");
    // XEP-0198 §3: offered after authentication (enable after bind, resume before).
    if (srv_.cfg().sm.enabled) f.add("sm", std::string(ns_sm));
  }
  for (const auto& p : srv_.features()) p(*this, stage, f);
  return f;
}

asio::awaitable<void> c2s_session::handle_element(xml::element el) {
  if (el.ns() == ns_tls) {
    if (el.name() == "starttls") co_await handle_starttls();
    else close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (el.ns() == ns_sasl) {
    co_await handle_sasl(std::move(el));
    co_return;
  }
  if (el.ns() == "urn:xmpp:sasl:2") {
    co_await handle_sasl2(std::move(el));  // XEP-0388, c2s_sasl2.cpp
    co_return;
  }
  if (el.ns() == xml::ns_client && is_stanza_name(el.name())) {
    co_await handle_stanza(std::move(el));
    // XEP-0198 §4: every stanza received counts as handled once processed.
    if (sm_) ++sm_->handled;
    co_return;
  }
  if (el.ns() == ns_sm) {
    co_await handle_sm(std::move(el));
    co_return;
  }
  if (authenticated_ && srv_.hooks().stream_element.run(*this, el) == hook_result::stop) co_return;
  // RFC 6120 §4.9.3.24: a first-level element we do not support.
  close(stream_condition::unsupported_stanza_type);
}

asio::awaitable<void> c2s_session::handle_starttls() {
  constexpr std::string_view failure = "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>";
  if (conn_.is_tls() || authenticated_) {
    // RFC 6120 §5.4.2.2: TLS cannot be negotiated twice or after authentication.
    send_raw(failure);
    closing_ = true;
    co_await flush();
    finish();
    co_return;
  }
  SSL_CTX* ctx = srv_.tls().acquire_default();
  if (!ctx) {
    send_raw(failure);
    closing_ = true;
    co_await flush();
    finish();
    co_return;
  }
  send_raw("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  co_await flush();
  // Anything pipelined after <starttls/> on the plain stream is dropped (RFC 6120 §5.3.3).
  drop_events();
  restart_pending_ = true;
  auto ec = co_await conn_.tls_accept(ctx, /*user_space_records=*/true);
  SSL_CTX_free(ctx);
  if (ec) {
    spdlog::debug("c2s {}: STARTTLS handshake failed", remote_ip());
    finish();
    co_return;
  }
  header_sent_ = false;
  stream_open_ = false;
}

void c2s_session::send(const xml::element& stanza) {
  if (stanza.ns() != xml::ns_client || !is_stanza_name(stanza.name())) {
    // Stream-level elements (features, SASL, errors) are neither counted nor held back.
    std::string text;
    xml::serialize(text, stanza, xml::ns_client);
    send_raw(text);
    return;
  }
  if (successor_) {
    // XEP-0198 §5: this session was resumed elsewhere; its stanzas belong to the new stream.
    successor_->deliver(stanza);
    return;
  }
  if (resuming_) {
    held_.push_back(stanza);  // sent after <resumed/> and the retransmission
    return;
  }
  if (bound_ && !srv_.hooks().outbound_stanza.empty() &&
      srv_.hooks().outbound_stanza.run(*this, stanza) == hook_result::stop)
    return;
  send_now(stanza);
}

void c2s_session::send_now(const xml::element& stanza) {
  if (successor_) {
    successor_->deliver(stanza);
    return;
  }
  if (sm_) {
    sm_track(stanza);
    if (hibernated_ || closing_) return;  // queued until resumed, or rerouted at the end
  }
  write_stanza(stanza);
}

void c2s_session::write_stanza(const xml::element& stanza) {
  if (finished_ || !conn_.is_open()) return;
  // Serialised straight into the output buffer (no string per stanza, issue 6).
  if (hold_output_ && !closing_) {
    xml::serialize(held_output_, stanza, xml::ns_client);  // see send_raw()
    return;
  }
  xml::serialize(out_, stanza, xml::ns_client);
  schedule_write();
}

void c2s_session::send_raw(std::string_view text) {
  if (finished_ || !conn_.is_open()) return;
  if (hold_output_ && !closing_) {
    held_output_.append(text);  // until the SASL2 <success/> is out (c2s_sasl2.cpp)
    return;
  }
  out_.append(text);
  schedule_write();
}

void c2s_session::schedule_write() {
  if (!writing_) {
    writing_ = true;
    // Written once the current handler is done: what it produces for this stream (a result
    // and pushes, a presence fan-out) goes out in one TLS record and one send().
    asio::post(executor_, [self = shared_from_this()] { self->write_out(); });
  }
}

void c2s_session::write_out() {
  // Issue 6: on user-space TLS records (every TLS 1.3 client stream) the burst is sealed and
  // sent here, without a coroutine per burst; only what the socket does not take at once (a
  // slow reader) is left to write_loop().
  if (!out_.empty() && conn_.is_open() && conn_.user_space_records()) {
    error_code ec;
    const bool all = conn_.try_write(out_, ec);
    // Issue 6: a burst bigger than a stanza or two (a login's features, roster, presences)
    // does not leave its capacity with the session until release_idle_memory(); freed late,
    // between long-lived blocks, it fragments the heap. A one-to-one message burst stays under
    // the limit and keeps its buffer.
    if (out_.capacity() > max_kept_output) std::string().swap(out_);
    else out_.clear();
    if (ec) conn_.close();
    if (ec || all) {
      writing_ = false;
      flush_timer_.cancel();
      return;
    }
  }
  asio::co_spawn(executor_, [self = shared_from_this()]() { return self->write_loop(); }, asio::detached);
}

asio::awaitable<void> c2s_session::write_loop() {
  // At least once: write_out() may have left sealed records queued in the connection.
  while (conn_.is_open()) {
    std::string chunk;
    chunk.swap(out_);
    error_code ec;
    co_await conn_.write_all(chunk, ec);
    if (ec) {
      out_.clear();
      conn_.close();
      break;
    }
    if (out_.empty()) break;
  }
  writing_ = false;
  flush_timer_.cancel();
}

asio::awaitable<void> c2s_session::flush() {
  while (writing_) {
    flush_timer_.expires_at(asio::steady_timer::time_point::max());
    error_code ec;
    co_await flush_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

void c2s_session::deliver(xml::element stanza) {
  asio::post(executor_, [self = shared_from_this(), stanza = std::move(stanza)] {
    // After a resumption elsewhere, send() forwards; a hibernated session queues (XEP-0198).
    if (self->successor_ || !self->closing_) {
      self->send(stanza);
    } else if (self->sm_ && self->bound_) {
      // XEP-0198 §4: a stream-managed session that is ending loses nothing: the stanza joins
      // the unacknowledged ones, which are rerouted when it ends (or now, if it has).
      self->sm_->out.push(stanza);
      if (self->finished_) self->dispose_unacked();
    }
  });
}

void c2s_session::kick(stream_condition c, std::string text) {
  asio::post(executor_, [self = shared_from_this(), c, text = std::move(text)] {
    // Leave the session manager first, so a replacing session is not removed by our exit.
    self->close(c, text);
  });
}

void c2s_session::shut_down() {
  asio::post(executor_, [self = shared_from_this()] {
    // RFC 6120 §4.9.3.19. A hibernated session has no stream to end: it expires (its
    // unacknowledged stanzas are rerouted, XEP-0198 §5).
    self->close(stream_condition::system_shutdown, "The server is shutting down");
  });
}

void c2s_session::close(std::optional<stream_condition> error, std::string_view text) {
  if (closing_ || finished_) return;
  if (hibernated_) {
    // No connection to close (e.g. replaced by a new login): the session ends now.
    expire();
    return;
  }
  closing_ = true;
  if (!header_sent_) {
    // RFC 6120 §4.9.1.2: an error before our header still opens our stream first.
    std::string out = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                      "xmlns:stream='http://etherx.jabber.org/streams' id='";
    out += util::random_token(16);
    out += "'";
    const std::string& from = host_.empty() ? srv_.cfg().hosts.front().name : host_;
    out += " from='";
    xml::escape_attr(out, from);
    out += "' version='1.0'>";
    send_raw(out);
    header_sent_ = true;
  }
  if (error) {
    spdlog::debug("c2s {}: stream error {}", remote_ip(), to_string(*error));
    send(make_stream_error(*error, text));
  }
  send_raw("</stream:stream>");
  // RFC 6120 §4.4: wait for the peer's closing tag, but not forever.
  asio::co_spawn(executor_, [self = shared_from_this()] { return self->linger(); }, asio::detached);
}

asio::awaitable<void> c2s_session::linger() {
  auto self = shared_from_this();
  co_await flush();
  if (srv_.shutting_down()) {
    // RFC 6120 §4.4 lets the closing side end the connection without the peer's closing tag
    // after a while; during a shutdown that is now: the server is going away, and a client
    // that does not answer must not hold it up. Our closing tag went out with everything
    // before it (flushed above); the TLS close_notify follows.
    finish();
    co_return;
  }
  asio::steady_timer t(executor_);
  t.expires_after(srv_.cfg().limit.close_timeout);
  error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  finish();
}

void c2s_session::finish(std::string_view last) {
  if (finished_) return;
  finished_ = true;
  spdlog::debug("c2s {}: connection closed{}{}", remote_ip(), bound_ ? " for " : "", bound_ ? jid_.str() : "");
  handshake_timer_.cancel();
  idle_timer_.cancel();
  hibernate_timer_.cancel();
  hibernated_ = false;
  // A session resumed elsewhere lives on there: no unregistering, no unavailable presence.
  if (bound_ && !successor_) {
    if (sm_ && !sm_->id.empty()) srv_.sessions().remove_resumable(sm_->id, this, sm_->handled);
    srv_.sessions().remove(jid_, this);
    srv_.hooks().session_closed.run(*this);
    dispose_unacked();
  }
  conn_.close(last);
  if (conn_counted_) {
    conn_counted_ = false;
    srv_.connection_closed(conn_.remote_ip());
  }
}

}  // namespace starling
