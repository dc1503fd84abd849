// Stanzas from clients: intake checks (RFC 6120 §8), resource binding (RFC 6120 §7) and the
// hand-over to the router.
#include <spdlog/spdlog.h>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "precis/precis.hpp"
#include "util/random.hpp"

namespace starling {
namespace asio = boost::asio;

namespace {
constexpr std::string_view ns_bind = "urn:ietf:params:xml:ns:xmpp-bind";
// RFC 6120 §7.6.2.1: a server may limit the number of connected resources per account.
constexpr size_t max_resources = 100;

bool valid_iq_type(std::string_view t) { return t == "get" || t == "set" || t == "result" || t == "error"; }
}  // namespace

asio::awaitable<void> c2s_session::handle_stanza(xml::element el) {
  const std::string_view kind = el.name();

  if (!bound_) {
    if (kind == "iq" && authenticated_) {
      const xml::element* payload = el.first_element();
      if (payload && payload->is("bind", ns_bind) && el.attr_or("type") == "set") {
        co_await handle_bind(std::move(el));
        co_return;
      }
    }
    if (kind == "iq" && !authenticated_) {
      // Pre-authentication IQs: only those a module allows (XEP-0077, XEP-0078).
      const xml::element* payload = el.first_element();
      std::string_view type = el.attr_or("type");
      if (payload && (type == "get" || type == "set") && el.attr("id")) {
        const iq_registration* reg = srv_.iq().find(iq_target::self, payload->ns());
        if (!reg || !reg->before_auth) reg = srv_.iq().find(iq_target::host, payload->ns());
        if (reg && reg->before_auth) {
          iq_request req{srv_, this, std::move(el), jid{}, *jid::from_parts({}, host_)};
          try {
            co_await reg->handler(req);
          } catch (const std::exception& e) {
            spdlog::error("c2s {}: IQ handler failed: {}", remote_ip(), e.what());
            if (!closing_) send(make_error_reply(req.stanza, stanza_condition::internal_server_error));
          }
          co_return;
        }
      }
    }
    // RFC 6120 §4.9.3.12: stanzas before the stream is authenticated (and bound).
    close(stream_condition::not_authorized);
    co_return;
  }

  // RFC 6120 §8.1.2.1: the server stamps 'from'; a client may only claim its own JID.
  if (const std::string* from = el.attr("from")) {
    auto f = jid::parse(*from);
    if (!f || (*f != jid_ && *f != jid_.bare())) {
      close(stream_condition::invalid_from);
      co_return;
    }
  }
  const std::string from_str = jid_.str();
  el.set_attr("from", from_str);

  std::optional<jid> to_jid;  // parsed once here, handed to route() (see below)
  std::string to_str;
  if (const std::string* to = el.attr("to")) {
    auto t = jid::parse(*to);
    if (!t) {
      // RFC 6120 §8.3.3.8; errors are never answered with errors (§8.3.1).
      if (!is_error(el)) {
        auto reply = make_error_reply(el, stanza_condition::jid_malformed);
        reply.remove_attr("from");
        send(reply);
      }
      co_return;
    }
    to_str = t->str();
    el.set_attr("to", to_str);  // routed in canonical form
    to_jid = std::move(t);
  }

  if (kind == "iq") {
    std::string_view type = el.attr_or("type");
    size_t children = el.element_count();
    // RFC 6120 §8.2.3: IQ needs an id and a valid type; get/set carry exactly one payload,
    // result at most one.
    bool ok = el.attr("id") && valid_iq_type(type);
    if (ok && (type == "get" || type == "set")) ok = children == 1;
    if (ok && type == "result") ok = children <= 1;
    if (!ok) {
      if (type != "error") {
        auto reply = make_error_reply(el, stanza_condition::bad_request);
        reply.remove_attr("from");
        send(reply);
      }
      co_return;
    }
    const xml::element* payload = el.first_element();
    if (payload && payload->is("bind", ns_bind) && (type == "set" || type == "get") && !el.attr("to")) {
      // RFC 6120 §7: binding more than one resource per stream is not supported here.
      auto reply = make_error_reply(el, stanza_condition::not_allowed);
      reply.remove_attr("from");
      send(reply);
      co_return;
    }
  }

  if (srv_.hooks().client_stanza.run(*this, el) == hook_result::stop) co_return;
  // The addresses were just parsed and prepared (RFC 7622): route() gets them instead of
  // parsing both again (issue 6), unless a client_stanza hook readdressed the stanza.
  const std::string* from_now = el.attr("from");
  const std::string* to_now = el.attr("to");
  const bool same = from_now && *from_now == from_str &&
                    (to_now ? to_jid && *to_now == to_str : !to_jid);
  if (same) {
    co_await srv_.route(std::move(el), this, jid_, std::move(to_jid));
  } else {
    co_await srv_.route(std::move(el), this);
  }
}

asio::awaitable<void> c2s_session::handle_bind(xml::element iq) {
  if (!iq.attr("id")) {
    close(stream_condition::not_authorized);
    co_return;
  }
  const xml::element* b = iq.first_element();
  std::string requested = b->child_text("resource", ns_bind);
  auto err = bind(requested);
  if (err) {
    send(make_error_reply(iq, *err));
    co_return;
  }
  xml::element r = make_result(iq);
  r.remove_attr("from");
  r.add("bind", std::string(ns_bind)).add("jid", std::string(ns_bind)).add_text(jid_.str());
  send(r);
}

std::optional<stanza_condition> c2s_session::bind(std::string_view requested) {
  if (!authenticated_ || bound_) return stanza_condition::not_allowed;
  std::string resource;
  if (!requested.empty()) {
    auto r = precis::opaque_string(requested);
    // RFC 6120 §7.7.2.1: a resource that cannot be prepared is a bad request.
    if (!r || r->size() > 1023) return stanza_condition::bad_request;
    resource = std::move(*r);
  }
  jid bare = jid_.bare();
  if (srv_.sessions().resource_count(bare) >= max_resources) return stanza_condition::resource_constraint;
  auto self = shared_from_this();
  for (int attempt = 0; attempt < 8; ++attempt) {
    // RFC 6120 §7.6.2.2: a server-generated resource is unique for the account.
    bool generated = resource.empty();
    std::string res = generated ? "starling-" + util::random_token(10) : resource;
    jid full = bare.with_resource(res);
    if (generated || srv_.cfg().auth.conflict == config::resource_conflict::reject ||
        srv_.cfg().auth.conflict == config::resource_conflict::random) {
      auto holder = srv_.sessions().add(full, self);
      if (holder) {
        if (generated) continue;
        // RFC 6120 §7.7.2.2: the policy decides between refusing the new session and
        // giving it a different resource.
        if (srv_.cfg().auth.conflict == config::resource_conflict::reject) return stanza_condition::conflict;
        resource.clear();
        continue;
      }
    } else {
      // Default policy: the new session wins; the old one gets <conflict/>.
      auto old = srv_.sessions().replace(full, self);
      if (old && old.get() != this) old->kick(stream_condition::conflict, "Replaced by new connection");
    }
    jid_ = full;
    bound_ = true;
    handshake_timer_.cancel();
    spdlog::info("c2s {}: bound {}", remote_ip(), jid_.str());
    srv_.hooks().session_bound.run(*this);
    return std::nullopt;
  }
  return stanza_condition::internal_server_error;
}

}  // namespace starling
