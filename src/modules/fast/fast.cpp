// XEP-0484 Fast Authentication Streamlining Tokens (FAST) over SASL2 (XEP-0388).
//
// Advertised as <fast xmlns='urn:xmpp:fast:0'> in the SASL2 inline features with
// HT-SHA-256-NONE, plus -EXPR (tls-exporter) and -ENDP (tls-server-end-point) when the
// connection offers that channel binding (draft-schmaus-kitten-sasl-ht; see sasl/ht.hpp).
// -UNIQ is not offered: tls-unique does not exist in TLS 1.3 and is not offered for TLS 1.2
// here either (the SCRAM -PLUS code makes the same choice). A client that authenticated (by
// any mechanism) and sent <request-token mechanism=.../> gets <token token expiry/> in
// <success/>; it then authenticates with the token and <fast/> in <authenticate/>. Tokens are
// per account and SASL2 user-agent id, bound to the requested mechanism, rotated after
// [fast] rotate_after, invalidated on request, and revoked with the password or the account
// (fast_store.hpp). The 'count' attribute is checked whenever a client sends it (replays fail);
// TLS 0-RTT is not accepted at all (the 'tls-0rtt' attribute is not advertised), so it is not
// required.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "core/c2s_session.hpp"
#include "core/server.hpp"
#include "modules/fast/fast_store.hpp"
#include "precis/precis.hpp"
#include "proto/data_form.hpp"
#include "sasl/ht.hpp"
#include "util/base64.hpp"
#include "util/random.hpp"

namespace starling::modules {
namespace asio = boost::asio;

namespace {
constexpr std::string_view ns_fast = "urn:xmpp:fast:0";
// Characters of a token: [A-Za-z0-9], 80 of them (~476 bits), which is more than the 64-byte
// SHA-256 block, so storing SHA-256(token) suffices to verify it (sasl/ht.hpp).
constexpr size_t token_length = 80;
static_assert(token_length >= 65, "tokens must be longer than the HMAC block size");

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool truthy(std::string_view v) { return v == "1" || v == "true"; }

// What this session's FAST login did, for the <success/> step.
struct fast_login {
  bool used = false;
  fast_slot slot = fast_slot::current;
  std::string mechanism;
  int64_t issued = 0;
};
}  // namespace

class fast_module : public module {
 public:
  void start(server& srv) override {
    srv_ = &srv;
    if (!srv.cfg().fast.enabled) return;
    store_ = std::make_unique<fast_store>(srv.sqlite());
    srv.add_migrations(fast_store::migrations());
    sasl2_extension e;
    e.name = "fast";
    e.advertise = [](c2s_session& s, xml::element& in) {
      auto& f = in.add("fast", std::string(ns_fast));
      for (auto& m : mechanisms(s)) f.add("mechanism", std::string(ns_fast)).add_text(m);
    };
    e.mechanisms = [](c2s_session& s) { return mechanisms(s); };
    e.authenticate = [this](c2s_session& s, const sasl2_request& r) { return authenticate(s, r); };
    e.succeeded = [this](c2s_session& s, const sasl2_request& r, xml::element& out) { return succeeded(s, r, out); };
    srv.sasl2().add(std::move(e));
  }

 private:
  // Channel-binding mechanisms first: XEP-0484 §4.1 asks clients to prefer them.
  static std::vector<std::string> mechanisms(c2s_session& s) {
    std::vector<std::string> out;
    for (const auto& t : s.offered_cb_types()) {
      if (t == "tls-exporter") out.emplace_back("HT-SHA-256-EXPR");
      if (t == "tls-server-end-point") out.emplace_back("HT-SHA-256-ENDP");
    }
    out.emplace_back("HT-SHA-256-NONE");
    return out;
  }

  asio::awaitable<sasl2_auth_result> authenticate(c2s_session& s, const sasl2_request& r) {
    sasl2_auth_result out;
    s.slot<fast_login>() = {};
    auto mech = sasl::parse_ht_mechanism(r.mechanism);
    if (!mech) {
      out.failure = sasl::failure::invalid_mechanism;
      co_return out;
    }
    std::string cb;
    if (!mech->cb_type.empty()) {
      auto data = s.channel_binding(mech->cb_type);
      if (!data) {
        out.failure = sasl::failure::invalid_mechanism;
        co_return out;
      }
      cb = std::move(*data);
    }
    // The HT exchange is client-first: without an initial response there is nothing to check.
    auto msg = r.initial ? sasl::parse_ht_initial(*r.initial) : std::nullopt;
    if (!msg) {
      out.failure = sasl::failure::malformed_request;
      co_return out;
    }
    auto user = precis::username_case_mapped(msg->authcid);
    out.user = user ? *user : msg->authcid;
    const xml::element* fast = r.authenticate.child("fast", ns_fast);
    // XEP-0484 §4.1: a client using a token provides its user-agent id; tokens are issued
    // per id, so without one there is none to find.
    const std::string& agent = s.user_agent().id;
    if (!user || !fast || agent.empty()) {
      out.failure = sasl::failure::not_authorized;
      co_return out;
    }
    std::optional<int64_t> count;
    if (const std::string* c = fast->attr("count")) {
      // XEP-0484 schema: xs:int; §3.3: a positive integer.
      char* end = nullptr;
      long long v = std::strtoll(c->c_str(), &end, 10);
      if (c->empty() || *end != '\0' || v <= 0 || v > 2147483647) {
        out.failure = sasl::failure::malformed_request;
        out.text = "count must be a positive integer";
        co_return out;
      }
      count = v;
    }
    auto tokens = co_await store_->load(s.host(), *user, agent);
    if (!tokens) {
      out.failure = sasl::failure::temporary_auth_failure;
      co_return out;
    }
    const std::string proof = msg->initiator_hash;
    const auto alg = mech->alg;
    auto check = [&](const std::string& key) {
      return sasl::equal_consttime(sasl::ht_initiator(alg, key, cb), proof);
    };
    fast_selection sel = select_fast_token(*tokens, r.mechanism, count, now_unix(), check);
    if (sel.failure) {
      out.failure = *sel.failure;
      if (*sel.failure == sasl::failure::credentials_expired) out.text = "The token has expired";
      co_return out;
    }
    const fast_token token = *sel.token;
    bool recorded = co_await store_->used(s.host(), *user, agent, token.slot, count);
    if (!recorded) {
      out.failure = sasl::failure::temporary_auth_failure;
      co_return out;
    }
    auto& login = s.slot<fast_login>();
    login.used = true;
    login.slot = fast_slot::current;  // where the used token is now
    login.mechanism = token.mechanism;
    login.issued = token.issued;
    out.additional_data = sasl::ht_responder(alg, token.key, cb);
    co_return out;
  }

  // After any successful SASL2 authentication: invalidation, token requests and rotation.
  asio::awaitable<bool> succeeded(c2s_session& s, const sasl2_request& r, xml::element& out) {
    const fast_login login = s.slot<fast_login>();
    s.slot<fast_login>() = {};
    const std::string& agent = s.user_agent().id;
    const std::string user = s.bare_jid().local();
    const xml::element* fast = r.authenticate.child("fast", ns_fast);
    const xml::element* request = r.authenticate.child("request-token", ns_fast);
    bool invalidated = false;
    if (login.used && fast && truthy(fast->attr_or("invalidate"))) {
      // XEP-0484 §3.5
      bool removed = co_await store_->invalidate(s.host(), user, agent, login.slot);
      if (!removed) spdlog::warn("c2s {}: could not invalidate a FAST token", s.remote_ip());
      invalidated = true;
      spdlog::info("c2s {}: FAST token of {} invalidated by the client", s.remote_ip(), s.bare_jid().str());
    }
    std::string mechanism;
    if (request) {
      // §3.2: the mechanism must be one advertised; otherwise no token is issued.
      std::string asked(request->attr_or("mechanism"));
      auto offered = mechanisms(s);
      if (std::find(offered.begin(), offered.end(), asked) != offered.end()) mechanism = asked;
    } else if (login.used && !invalidated) {
      // §3.4: rotation, even without a request, once the token is old enough.
      const auto rotate_after = srv_->cfg().fast.rotate_after.count();
      if (now_unix() - login.issued >= rotate_after) mechanism = login.mechanism;
    }
    // Tokens belong to a client installation: without a user-agent id there is none.
    if (mechanism.empty() || agent.empty()) co_return false;
    fast_token t;
    std::string token = util::random_token(token_length);
    t.mechanism = mechanism;
    t.key = sasl::ht_key(sasl::hash_alg::sha256, token);
    t.issued = now_unix();
    t.expiry = t.issued + srv_->cfg().fast.token_lifetime.count();
    const int64_t expiry = t.expiry;
    bool stored = co_await store_->issue(s.host(), user, agent, std::move(t));
    if (!stored) co_return false;
    out.add("token", std::string(ns_fast)).set_attr("token", token).set_attr("expiry", proto::format_xep0082_datetime(expiry * 1000000));
    co_return false;
  }

  server* srv_ = nullptr;
  std::unique_ptr<fast_store> store_;
};

}  // namespace starling::modules

using starling::modules::fast_module;
STARLING_MODULE(fast_module, "fast")
