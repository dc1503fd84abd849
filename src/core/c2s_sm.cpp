// XEP-0198 Stream Management on client streams: enabling, acks (<r/>, <a/>), hibernation of a
// session whose connection dropped, resumption on a new connection, and what happens to
// unacknowledged stanzas when a session ends for good (XEP-0198 §4: as if sent to an
// unavailable resource).
//
// Threads: every session lives on its own io_context thread. A <resume/> arrives on the new
// session's thread; the old session's state is taken on the old session's thread (hand_over(),
// posted there) and comes back by a post to the new one. From then on the old session forwards
// whatever still reaches it (deliver(), send()) to its successor.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "util/random.hpp"

namespace starling {
namespace asio = boost::asio;
using boost::system::error_code;

// What a resumed session takes over from the one it resumes.
struct c2s_session::handover {
  jid full;
  std::vector<std::unique_ptr<slot_base>> slots;
  std::unique_ptr<sm_state> sm;
};

namespace {

// Ends of unacknowledged stanzas, routed in their original order.
asio::awaitable<void> reroute_all(server* srv, std::vector<xml::element> stanzas) {
  for (auto& st : stanzas) {
    try {
      co_await srv->route(std::move(st), nullptr);
    } catch (const std::exception& e) {
      spdlog::error("sm: rerouting an unacknowledged stanza failed: {}", e.what());
    }
  }
}

// Runs hand_over() on the old session's thread and resumes the caller on its own.
template <class Take>
auto on_thread_of(asio::any_io_executor ex, Take take) {
  using R = decltype(take());
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
      [ex](auto handler, Take fn) {
        asio::post(ex, [handler = std::move(handler), fn = std::move(fn)]() mutable {
          R result = fn();
          auto back = asio::get_associated_executor(handler);
          asio::post(back, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      asio::use_awaitable, std::move(take));
}

}  // namespace

asio::awaitable<void> c2s_session::handle_sm(xml::element el) {
  const std::string_view name = el.name();
  if (name == "enable") {
    sm_enable(el);
  } else if (name == "r") {
    // XEP-0198 §4: answer at once with the number of stanzas handled.
    if (!sm_) {
      close(stream_condition::unsupported_stanza_type, "Stream management is not enabled");
      co_return;
    }
    send_raw(fmt::format("<a xmlns='urn:xmpp:sm:3' h='{}'/>", sm_->handled));
  } else if (name == "a") {
    sm_ack(el);
  } else if (name == "resume") {
    co_await sm_resume(std::move(el));
  } else {
    close(stream_condition::unsupported_stanza_type);
  }
}

void c2s_session::sm_failed(stanza_condition c, std::optional<uint32_t> h) {
  xml::element f("failed", std::string(ns_sm));
  if (h) f.set_attr("h", std::to_string(*h));
  f.add(std::string(to_string(c)), std::string(ns_stanzas));
  send(f);
}

namespace {
xml::element sm_failure(stanza_condition c) {
  xml::element f("failed", std::string(ns_sm));
  f.add(std::string(to_string(c)), std::string(ns_stanzas));
  return f;
}
}  // namespace

void c2s_session::sm_enable(const xml::element& el) { send(enable_sm(el)); }

xml::element c2s_session::enable_sm(const xml::element& el) {
  const auto& cfg = srv_.cfg().sm;
  if (!cfg.enabled) return sm_failure(stanza_condition::feature_not_implemented);
  // XEP-0198 §3: after authentication and resource binding, and at most once.
  if (!bound_ || sm_) return sm_failure(stanza_condition::unexpected_request);
  sm_ = std::make_unique<sm_state>();
  xml::element r("enabled", std::string(ns_sm));
  const std::string_view resume = el.attr_or("resume");
  if ((resume == "true" || resume == "1") && cfg.resume_timeout.count() > 0) {
    // XEP-0198 §5: 'max' is the client's preferred maximum; ours caps it.
    auto timeout = cfg.resume_timeout;
    if (const std::string* m = el.attr("max")) {
      if (auto v = parse_sm_h(*m); v && *v > 0) timeout = std::min(std::chrono::seconds(*v), cfg.max_resume_timeout);
    }
    sm_->id = util::random_token(24);
    sm_->timeout = timeout;
    srv_.sessions().add_resumable(sm_->id, bare_jid(), shared_from_this());
    r.set_attr("id", sm_->id);
    r.set_attr("resume", "true");
    r.set_attr("max", std::to_string(timeout.count()));
  }
  spdlog::debug("c2s {}: stream management enabled for {}{}", remote_ip(), jid_.str(),
                sm_->id.empty() ? "" : " (resumable)");
  return r;
}

void c2s_session::sm_ack(const xml::element& el) {
  if (!sm_) {
    close(stream_condition::unsupported_stanza_type, "Stream management is not enabled");
    return;
  }
  // XEP-0198 §4: an <a/> MUST possess an 'h' attribute.
  auto h = parse_sm_h(el.attr_or("h"));
  if (!h) {
    close(stream_condition::bad_format, "<a/> needs a numeric 'h' attribute");
    return;
  }
  const uint32_t sent = sm_->out.sent();
  if (!sm_->out.ack(*h)) {
    // XEP-0198 §7: acknowledging more than was sent ends the stream.
    auto e = make_stream_error(stream_condition::undefined_condition);
    e.add("handled-count-too-high", std::string(ns_sm))
        .set_attr("h", std::to_string(*h))
        .set_attr("send-count", std::to_string(sent));
    send(e);
    close();
    return;
  }
  sm_->ack_requested = false;
}

void c2s_session::sm_track(const xml::element& stanza) {
  sm_->out.push(stanza);
  const bool over = sm_->out.unacked() > srv_.cfg().sm.max_unacked;
  if (hibernated_) {
    srv_.hooks().hibernated_stanza.run(*this, stanza);
    if (over) {
      // The client is not coming back for this much: end the session now, its stanzas go
      // where stanzas for an unavailable resource go (XEP-0198 §4). Posted: we may be inside
      // a module's send().
      spdlog::info("c2s: hibernated session {} has more than {} unacknowledged stanzas; ending it", jid_.str(),
                   srv_.cfg().sm.max_unacked);
      asio::post(executor_, [self = shared_from_this()] { self->expire(); });
    }
    return;
  }
  if (over && !closing_) {
    close(stream_condition::policy_violation, "Too many unacknowledged stanzas");
    return;
  }
  if (!sm_->ack_requested && !closing_) {
    // One <r/> after each burst of stanzas (XEP-0198 §4), not one per stanza.
    sm_->ack_requested = true;
    asio::post(executor_, [self = shared_from_this()] {
      if (self->sm_ && !self->hibernated_ && !self->closing_ && !self->successor_)
        self->send_raw("<r xmlns='urn:xmpp:sm:3'/>");
    });
  }
}

bool c2s_session::can_hibernate() const {
  // XEP-0198 §5: only an unfinished stream (no </stream:stream>, no stream error) of a
  // resumable session.
  // Not during a server shutdown: nobody could resume it (the session ends, its
  // unacknowledged stanzas are rerouted).
  return bound_ && sm_ && !sm_->id.empty() && !closing_ && !finished_ && !successor_ && !srv_.shutting_down();
}

void c2s_session::hibernate() {
  hibernated_ = true;
  handshake_timer_.cancel();
  idle_timer_.cancel();
  out_.clear();
  conn_.close();
  if (conn_counted_) {
    conn_counted_ = false;
    srv_.connection_closed(conn_.remote_ip());
  }
  spdlog::info("c2s {}: {} hibernated for {}s, {} unacknowledged", remote_ip(), jid_.str(), sm_->timeout.count(),
               sm_->out.unacked());
  // Whatever the client may not have received counts as arriving now (XEP-0357 pushes).
  for (const auto& st : sm_->out.pending()) srv_.hooks().hibernated_stanza.run(*this, st);
  hibernate_timer_.expires_after(sm_->timeout);
  hibernate_timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->expire();
  });
}

void c2s_session::expire() {
  if (!hibernated_ || finished_ || successor_) return;
  spdlog::info("c2s: hibernated session {} expired", jid_.str());
  closing_ = true;
  finish();
}

void c2s_session::dispose_unacked() {
  if (!sm_ || sm_->out.unacked() == 0) return;
  // XEP-0198 §4: treat them as stanzas sent to an unavailable resource. The session is no
  // longer registered, so routing a message to its full JID falls back to the bare JID (RFC
  // 6121 §8.5.3.2.1): another resource or offline storage. IQ requests get an error back.
  // Presence and IQ results describe state that ended with the session.
  std::vector<xml::element> out;
  for (auto& st : sm_->out.take()) {
    const std::string_view kind = st.name(), type = st.attr_or("type");
    if (kind == "message" && type != "error") {
      out.push_back(std::move(st));
    } else if (kind == "iq" && (type == "get" || type == "set")) {
      out.push_back(make_error_reply(st, stanza_condition::service_unavailable));
    }
  }
  if (out.empty()) return;
  spdlog::debug("c2s: {} unacknowledged stanzas of {} rerouted", out.size(), jid_.str());
  asio::co_spawn(executor_, reroute_all(&srv_, std::move(out)), asio::detached);
}

std::unique_ptr<c2s_session::handover> c2s_session::hand_over(std::shared_ptr<c2s_session> next) {
  if (finished_ || successor_ || !bound_ || !sm_ || sm_->id.empty()) return nullptr;
  if (closing_ && !hibernated_) return nullptr;  // ended by either side: not resumable any more
  auto h = std::make_unique<handover>();
  h->full = jid_;
  h->slots = std::move(slots_);
  h->sm = std::move(sm_);
  successor_ = std::move(next);
  hibernate_timer_.cancel();
  srv_.sessions().remove_resumable(h->sm->id, this);
  if (hibernated_) {
    hibernated_ = false;
    finished_ = true;  // the connection is long gone and accounted for
  } else {
    // XEP-0198 §5: the old stream is still open: <conflict/> and close it.
    close(stream_condition::conflict, "The session was resumed on another connection");
  }
  return h;
}

asio::awaitable<void> c2s_session::sm_resume(xml::element el) {
  const auto& cfg = srv_.cfg().sm;
  if (!cfg.enabled) {
    sm_failed(stanza_condition::feature_not_implemented);
    co_return;
  }
  // XEP-0198 §5, §9: after authentication, instead of resource binding.
  if (!authenticated_ || bound_ || sm_ || resuming_) {
    sm_failed(stanza_condition::unexpected_request);
    co_return;
  }
  const std::string previd(el.attr_or("previd"));
  const auto h = parse_sm_h(el.attr_or("h"));
  if (previd.empty() || !h) {
    sm_failed(stanza_condition::bad_request);
    co_return;
  }
  const jid bare = bare_jid();
  auto old = srv_.sessions().find_resumable(previd, bare);
  if (!old) {
    // XEP-0198 §5: unknown or timed out; the 'h' of a timed-out session if we still know it.
    sm_failed(stanza_condition::item_not_found, srv_.sessions().expired_h(previd, bare));
    co_return;
  }
  auto self = shared_from_this();
  resuming_ = true;
  auto take = [old, self] { return old->hand_over(self); };
  std::unique_ptr<handover> st = co_await on_thread_of(old->executor(), std::move(take));
  if (!st) {
    resuming_ = false;
    sm_failed(stanza_condition::item_not_found, srv_.sessions().expired_h(previd, bare));
    co_return;
  }
  // The state is ours from here on, whatever happens to this connection.
  jid_ = std::move(st->full);
  slots_ = std::move(st->slots);
  sm_ = std::move(st->sm);
  bound_ = true;
  handshake_timer_.cancel();
  if (auto other = srv_.sessions().take_over(jid_, old.get(), self); other && other != self)
    other->kick(stream_condition::conflict, "Replaced by a resumed session");
  srv_.hooks().session_resumed.run(*this, *old);
  spdlog::info("c2s {}: resumed {} ({} unacknowledged, client h={})", remote_ip(), jid_.str(), sm_->out.unacked(),
               *h);
  const uint32_t sent = sm_->out.sent();
  if (!sm_->out.ack(*h)) {
    resuming_ = false;
    auto e = make_stream_error(stream_condition::undefined_condition);
    e.add("handled-count-too-high", std::string(ns_sm))
        .set_attr("h", std::to_string(*h))
        .set_attr("send-count", std::to_string(sent));
    send(e);
    close();
    co_return;
  }
  if (closing_ || finished_) {
    // This connection ended while we waited: the session ends here (nothing to resume into).
    resuming_ = false;
    if (finished_) {
      finished_ = false;
      finish();
    }
    co_return;
  }
  srv_.sessions().add_resumable(sm_->id, bare, self);
  // XEP-0198 §5: <resumed/> with our 'h', then everything the client has not acknowledged.
  send_raw(fmt::format("<resumed xmlns='urn:xmpp:sm:3' previd='{}' h='{}'/>", sm_->id, sm_->handled));
  for (const auto& p : sm_->out.pending()) write_stanza(p);
  sm_->ack_requested = false;
  resuming_ = false;
  auto held = std::move(held_);
  held_.clear();
  for (const auto& p : held) send(p);
  if (sm_->out.unacked() > 0 && !sm_->ack_requested) {
    sm_->ack_requested = true;
    send_raw("<r xmlns='urn:xmpp:sm:3'/>");
  }
}

}  // namespace starling
