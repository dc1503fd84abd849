// XEP-0388 Extensible SASL Profile (SASL2) on client streams, with XEP-0386 Bind 2.
// The SASL exchange itself is the one RFC 6120 SASL uses (c2s_sasl.cpp: SCRAM, -PLUS, PLAIN,
// XEP-0474 downgrade protection over this profile's mechanism list); this file speaks the
// SASL2 elements around it, runs the module extensions (core/sasl2_registry.hpp: FAST, ...)
// and Bind 2 with its inline features (core/bind2_registry.hpp), and sends <success/> followed
// by the new stream features without a stream restart (XEP-0388 §2.6.1).
//
// Not implemented: <continue/> tasks (XEP-0388 §2.6.3; no second factor exists here), and the
// XEP-0386 §3.2 purge of offline messages on Bind 2, which assumes the client fetches them from
// a MAM archive instead (a later module can do it in a Bind 2 or session hook).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "precis/precis.hpp"
#include "util/base64.hpp"
#include "util/random.hpp"

namespace starling {
namespace asio = boost::asio;

namespace {
constexpr std::string_view ns_sasl2 = "urn:xmpp:sasl:2";
constexpr std::string_view ns_bind2 = "urn:xmpp:bind:0";
// Bounds on what a client may make us keep per session.
constexpr size_t max_user_agent_text = 256;
constexpr size_t max_tag = 64;

// XEP-0388 §2.4 "SASL Data Encoding": base64 without line wrapping SHOULD be used; the spec's
// own examples indent it, so surrounding and embedded whitespace is tolerated.
std::optional<std::string> decode_sasl2(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact.push_back(c);
  if (compact.empty()) return std::string();
  return util::base64_decode(compact);
}

// XEP-0388 §2.3: "The contents of the 'id' attribute MUST be a UUID v4."
bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::string clipped(std::string s) {
  if (s.size() <= max_user_agent_text) return s;
  size_t n = max_user_agent_text;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // UTF-8 boundary
  s.resize(n);
  return s;
}
}  // namespace

void c2s_session::add_sasl2_feature(xml::element& features) {
  // XEP-0388 §4: only after TLS; §2.1: never without a mechanism.
  if (!conn_.is_tls()) return;
  auto mechs = offered_mechanisms();
  if (mechs.empty()) return;
  auto& auth = features.add("authentication", std::string(ns_sasl2));
  for (auto& m : mechs) auth.add("mechanism", std::string(ns_sasl2)).add_text(m);
  auto& in = auth.add("inline", std::string(ns_sasl2));
  // XEP-0386 §3.1: Bind 2 with the features that can be enabled inline.
  auto& bind = in.add("bind", std::string(ns_bind2));
  auto& bind_inline = bind.add("inline", std::string(ns_bind2));
  for (auto& var : srv_.bind2().features()) bind_inline.add("feature", std::string(ns_bind2)).set_attr("var", var);
  for (const auto& ext : srv_.sasl2().extensions())
    if (ext.advertise) ext.advertise(*this, in);
}

asio::awaitable<void> c2s_session::handle_sasl2(xml::element el) {
  if (authenticated_) {
    // XEP-0388 §5 (RFC 4422 mapping): after <success/> any further <authenticate/> is a
    // stream error.
    close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  const auto fail = [this](sasl::failure f, std::string text = {}) {
    sasl_send_failure(sasl_failed(f, std::move(text)), ns_sasl2);
    sasl2_request_.reset();
  };
  if (el.name() == "abort") {
    fail(sasl::failure::aborted);  // XEP-0388 §5
    co_return;
  }

  sasl_outcome out;
  if (el.name() == "authenticate") {
    sasl_.reset();
    sasl2_ = true;
    if (!conn_.is_tls()) {
      fail(sasl::failure::encryption_required);  // XEP-0388 §4: SASL2 only after TLS
      co_return;
    }
    std::string mechanism(el.attr_or("mechanism"));
    user_agent_ = {};
    if (const xml::element* ua = el.child("user-agent", ns_sasl2)) {
      std::string id(ua->attr_or("id"));
      if (!id.empty() && !is_uuid(id)) {
        fail(sasl::failure::malformed_request, "user-agent id must be a UUID");
        co_return;
      }
      // Lower case, so that FAST tokens and Bind 2 find the same client however it spells it.
      std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
      user_agent_.id = std::move(id);
      user_agent_.software = clipped(ua->child_text("software", ns_sasl2));
      user_agent_.device = clipped(ua->child_text("device", ns_sasl2));
    }
    std::optional<std::string> initial;
    bool malformed = false;
    if (const xml::element* ir = el.child("initial-response", ns_sasl2)) {
      initial = decode_sasl2(ir->text());
      malformed = !initial;
    }
    sasl2_request_ = std::make_unique<xml::element>(std::move(el));

    // A mechanism of a module (XEP-0484 HT-*): one round trip, settled by the module.
    for (const auto& ext : srv_.sasl2().extensions()) {
      if (!ext.mechanisms || !ext.authenticate) continue;
      auto names = ext.mechanisms(*this);
      if (std::find(names.begin(), names.end(), mechanism) == names.end()) continue;
      if (!srv_.auth_failures_ip().allowed(remote_ip())) {
        fail(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
        co_return;
      }
      if (malformed) {
        fail(sasl::failure::incorrect_encoding);
        co_return;
      }
      sasl2_request req{*sasl2_request_, mechanism, initial};
      sasl2_auth_result r = co_await ext.authenticate(*this, req);
      if (closing_) co_return;
      const std::string account_key = r.user + "@" + host_;
      if (r.failure) {
        if (*r.failure == sasl::failure::not_authorized || *r.failure == sasl::failure::credentials_expired) {
          srv_.auth_failures_ip().record(remote_ip());
          if (!r.user.empty()) srv_.auth_failures_account().record(account_key);
        }
        spdlog::info("c2s {}: authentication failed: {} ({}{}{})", remote_ip(), sasl::to_string(*r.failure), mechanism,
                     r.user.empty() ? "" : ", user ", r.user);
        fail(*r.failure, r.text);
        co_return;
      }
      if (!srv_.auth_failures_account().allowed(account_key)) {
        fail(sasl::failure::temporary_auth_failure, "Too many failed attempts; try again later");
        co_return;
      }
      srv_.auth_failures_account().clear(account_key);
      set_authenticated(r.user);
      if (!authenticated_) {
        fail(sasl::failure::not_authorized);
        co_return;
      }
      spdlog::info("c2s {}: authenticated as {} ({})", remote_ip(), jid_.bare_str(), mechanism);
      out.what = sasl_outcome::kind::success;
      out.data = std::move(r.additional_data);
      break;
    }
    if (!authenticated_) out = co_await sasl_begin(mechanism, std::move(initial), offered_mechanisms(), malformed);
  } else if (el.name() == "response") {
    if (!sasl_ || !sasl2_) {
      fail(sasl::failure::malformed_request, "No SASL2 authentication in progress");
      co_return;
    }
    auto data = decode_sasl2(el.text());
    if (!data) {
      fail(sasl::failure::incorrect_encoding);
      co_return;
    }
    out = co_await sasl_continue(std::move(*data));
  } else {
    close(stream_condition::unsupported_stanza_type);
    co_return;
  }
  if (closing_) co_return;

  switch (out.what) {
    case sasl_outcome::kind::failure:
      sasl_send_failure(out, ns_sasl2);
      sasl2_request_.reset();
      co_return;
    case sasl_outcome::kind::challenge: {
      // XEP-0388 §2.5
      xml::element c("challenge", std::string(ns_sasl2));
      if (!out.data.empty()) c.add_text(util::base64_encode(out.data));
      send(c);
      co_return;
    }
    case sasl_outcome::kind::success:
      break;
  }

  // XEP-0388 §2.6.1: inline requests are processed now, and their results go into <success/>.
  // Nothing else may reach the client before it (XEP-0388 §2.4), so output is held meanwhile.
  hold_output_ = true;
  const xml::element& request = *sasl2_request_;
  sasl2_request req{request, {}, {}};
  std::vector<xml::element> results;
  bool established = false;
  for (const auto& ext : srv_.sasl2().extensions()) {
    if (!ext.succeeded) continue;
    xml::element collected("success", std::string(ns_sasl2));
    bool e = co_await ext.succeeded(*this, req, collected);
    established = established || e;
    for (auto& c : collected.children())
      if (auto* ce = std::get_if<xml::element>(&c)) results.push_back(std::move(*ce));
  }

  // XEP-0386 §3.2: Bind 2, unless an extension already established the session.
  const xml::element* bind_request = request.child("bind", ns_bind2);
  if (bind_request && !established && !bound_ && !closing_) {
    // XEP-0386 §3.3: "[client tag]/[server generated identifier]"; a tag that is not a valid
    // resource (or too long) is left out rather than failing the login.
    std::string resource;
    auto tag = precis::opaque_string(bind_request->child_text("tag", ns_bind2));
    if (tag && !tag->empty() && tag->size() <= max_tag) resource = *tag + "/" + util::random_token(10);
    auto err = bind(resource);
    if (err) {
      spdlog::info("c2s {}: Bind 2 for {} failed: {}", remote_ip(), jid_.bare_str(), to_string(*err));
    } else {
      // XEP-0386 §3.2: earlier sessions of the same client installation give way.
      if (!user_agent_.id.empty()) {
        for (auto& other : srv_.sessions().find_bare(jid_.bare()))
          if (other.get() != this && other->user_agent().id == user_agent_.id)
            other->kick(stream_condition::conflict, "Replaced by a new session of the same client");
      }
      xml::element bound("bound", std::string(ns_bind2));
      for (const xml::element* child : bind_request->elements()) {
        if (child->ns() == ns_bind2) continue;
        if (const bind2_handler* h = srv_.bind2().find(child->ns())) co_await (*h)(*this, *child, bound);
      }
      results.push_back(std::move(bound));
    }
  }

  xml::element success("success", std::string(ns_sasl2));
  if (!out.data.empty()) success.add("additional-data", std::string(ns_sasl2)).add_text(util::base64_encode(out.data));
  // XEP-0388 §2.6.1: a full JID once a resource is bound, the bare JID otherwise.
  success.add("authorization-identifier", std::string(ns_sasl2)).add_text(bound_ ? jid_.str() : jid_.bare_str());
  for (auto& r : results) success.add_child(std::move(r));
  sasl2_request_.reset();
  hold_output_ = false;
  if (closing_) co_return;
  send(success);
  // No stream restart: the features of the authenticated stream follow at once.
  send_features();
  send_held_output();
}

void c2s_session::send_held_output() {
  if (held_output_.empty()) return;
  std::string text;
  text.swap(held_output_);
  send_raw(text);
}

}  // namespace starling
