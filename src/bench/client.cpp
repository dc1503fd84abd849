// The ENGINE and EVP_PKEY_METHOD calls below are deprecated in OpenSSL 3.0 but still the only
// way to reach its legacy EC code (see register_legacy_ec_engine()). Before any OpenSSL header.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "bench/client.hpp"

#include <openssl/bio.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <fmt/format.h>

#include "util/base64.hpp"

namespace starling::bench {

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/> offered and not <optional/>.
bool session_required(std::string_view features) {
  size_t i = features.find("<session");
  if (i == std::string_view::npos) return false;
  size_t gt = features.find('>', i);
  if (gt == std::string_view::npos || features[gt - 1] == '/') return true;
  size_t end = features.find("</session>", gt);
  std::string_view body = features.substr(gt, end == std::string_view::npos ? 0 : end - gt);
  return body.find("optional") == std::string_view::npos;
}

// Socket reads land here, then go straight into OpenSSL or the parser: one buffer per
// thread instead of one per connection (each thread owns one io_context).
std::array<char, 64 * 1024>& read_buffer() {
  thread_local std::array<char, 64 * 1024> buf;
  return buf;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&apos;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// First child element's local name, e.g. the condition of a SASL <failure/>.
std::string first_child_name(std::string_view el) {
  std::string_view c = raw::first_child(el);
  return c.empty() ? std::string("?") : std::string(c);
}

// Local name of the condition inside an <error/> child, for messages.
std::string error_condition(std::string_view el) {
  size_t e = el.find(":xmpp-stanzas");
  if (e == std::string_view::npos) return "no result";
  size_t lt = el.rfind('<', e);
  return lt == std::string_view::npos ? "?" : std::string(raw::name(el.substr(lt)));
}


// EVP_PKEY_METHOD table of legacy_ec_engine(): OpenSSL's own built-in EC method, nothing else.
int legacy_ec_pkey_meths(ENGINE*, EVP_PKEY_METHOD** pmeth, const int** nids, int nid) {
  static const int ec_nids[] = {EVP_PKEY_EC};
  if (!pmeth) {
    *nids = ec_nids;
    return 1;
  }
  *pmeth = nid == EVP_PKEY_EC ? const_cast<EVP_PKEY_METHOD*>(EVP_PKEY_meth_find(EVP_PKEY_EC))
                              : nullptr;
  return *pmeth != nullptr;
}

// OpenSSL 3.0 decodes the public key of every certificate it parses (the server's, once per
// handshake, even with verification off) through the provider decoder framework:
// OSSL_DECODER_CTX_new_for_pkey() walks every decoder and key manager of the library context
// on each call, which the generator's profile showed as ~20 % of a full TLS login. The old
// per-algorithm decoder (x509_pubkey_decode) is used instead only when an ENGINE claims the key
// type, so this registers one that claims EC and hands back OpenSSL's own built-in EC method:
// the key is then read by the legacy d2i code and the ECDSA CertificateVerify is checked by
// the legacy EC_KEY code (the same arithmetic, without the provider's parameter marshalling).
// Process-wide, once; only the generator links this (never the server).
void register_legacy_ec_engine() {
  static const bool done = [] {
    ENGINE* e = ENGINE_new();
    if (!e) return false;
    bool ok = ENGINE_set_id(e, "starling-bench-ec") &&
              ENGINE_set_name(e, "OpenSSL built-in EC, legacy decoder") &&
              ENGINE_set_pkey_meths(e, legacy_ec_pkey_meths) && ENGINE_add(e) &&
              ENGINE_register_pkey_meths(e);
    ENGINE_free(e);  // the engine list and table keep their own references
    return ok;
  }();
  (void)done;
}

// Why a read ended: the server closed the connection (end of file, or an empty receive),
// or a socket error.
std::string read_failure(const boost::system::error_code& ec) {
  return !ec || ec == asio::error::eof ? "connection closed by server" : "read: " + ec.message();
}

}  // namespace

SSL_CTX* make_client_tls_context(bool legacy_ec) {
  if (legacy_ec) register_legacy_ec_engine();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // With SSL_VERIFY_NONE OpenSSL still builds and checks the chain (X509_verify_cert) and only
  // ignores the result; this callback skips that work (~1.5 % of a login in the profile).
  SSL_CTX_set_cert_verify_callback(ctx, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // Fewer, smaller allocations per connection.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

xmpp_client::xmpp_client(asio::io_context& io, const target& t, SSL_CTX* ctx)
    : io_(io), target_(t), ctx_(ctx), sock_(io), deadline_(io) {}

xmpp_client::~xmpp_client() {
  if (ssl_) SSL_free(ssl_);  // frees both BIOs
}

bool xmpp_client::fail(std::string what) {
  if (!failed_) {
    failed_ = true;
    error_ = std::move(what);
  }
  return false;
}

void xmpp_client::abort() {
  boost::system::error_code ec;
  deadline_.cancel();
  sock_.close(ec);
}

void xmpp_client::arm_deadline() {
  deadline_.expires_after(target_.timeout);
  std::weak_ptr<xmpp_client> weak = weak_from_this();
  deadline_.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->fail("timeout");
      boost::system::error_code ignored;
      self->sock_.close(ignored);
    }
  });
}

void xmpp_client::disarm_deadline() { deadline_.cancel(); }

// ---- I/O

void xmpp_client::feed_plain(std::string_view data) {
  bool ok = splitter_.feed(data, [this](const stream_splitter::event& ev) {
    switch (ev.what) {
      case stream_splitter::kind::header: header_seen_ = true; break;
      case stream_splitter::kind::close: closed_ = true; break;
      case stream_splitter::kind::element:
        if (sink_)
          sink_->on_stanza(*this, ev.raw);
        else
          queue_.emplace_back(ev.raw);
        break;
    }
  });
  if (!ok) fail("malformed XML from server");
}

void xmpp_client::drain_tls_output() {
  size_t pending = BIO_ctrl_pending(wbio_);
  if (pending == 0) return;
  size_t old = out_.size();
  out_.resize(old + pending);
  int n = BIO_read(wbio_, out_.data() + old, static_cast<int>(pending));
  out_.resize(old + (n > 0 ? n : 0));
}

void xmpp_client::send(std::string_view data) {
  if (failed_ || !sock_.is_open()) return;
  if (ssl_) {
    if (SSL_write(ssl_, data.data(), static_cast<int>(data.size())) <= 0) {
      fail("SSL_write failed");
      return;
    }
    drain_tls_output();
  } else {
    out_.append(data);
  }
  write_now();
}

// Writes what the kernel takes right away; only a full socket buffer costs a coroutine.
void xmpp_client::write_now() {
  if (writing_ || out_.empty()) return;
  boost::system::error_code ec;
  size_t n = sock_.write_some(asio::buffer(out_), ec);
  if (!ec) {
    out_.erase(0, n);
    if (out_.empty()) return;
  } else if (ec != asio::error::would_block && ec != asio::error::try_again) {
    fail("write: " + ec.message());
    return;
  }
  writing_ = true;
  asio::co_spawn(io_, flush(shared_from_this()), asio::detached);
}

asio::awaitable<bool> xmpp_client::flush(std::shared_ptr<xmpp_client> self) {
  while (!out_.empty() && sock_.is_open()) {
    auto [wec] = co_await sock_.async_wait(tcp::socket::wait_write, as_tuple_awaitable);
    if (wec) break;
    boost::system::error_code ec;
    size_t n = sock_.write_some(asio::buffer(out_), ec);
    if (!ec) {
      out_.erase(0, n);
    } else if (ec != asio::error::would_block && ec != asio::error::try_again) {
      fail("write: " + ec.message());
      break;
    }
  }
  writing_ = false;
  co_return true;
}

// Bytes read from the socket go through TLS (when on) into the parser. False on error or end.
bool xmpp_client::take(const char* data, size_t n) {
  if (!ssl_) {
    feed_plain({data, n});
    return !failed_;
  }
  BIO_write(rbio_, data, static_cast<int>(n));
  if (!SSL_is_init_finished(ssl_)) return true;  // the handshake loop drives OpenSSL
  // Decrypt into the thread's buffer: the record's bytes are already inside OpenSSL.
  auto& buf = read_buffer();
  for (;;) {
    int r = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
    if (r > 0) {
      feed_plain({buf.data(), static_cast<size_t>(r)});
      if (failed_) return false;
      continue;
    }
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      closed_ = true;
      break;
    }
    return fail("TLS read error");
  }
  drain_tls_output();  // e.g. a key update answer
  write_now();
  return !failed_;
}

// One asynchronous receive into the connection's small buffer, then, only if that filled it,
// synchronous reads into the thread's buffer until the socket is empty.
// Why a receive and not a readiness wait followed by a read: Asio re-arms the descriptor with
// epoll_ctl(EPOLL_CTL_MOD) on every async_wait (a syscall per received record, ~2.5 % of the
// generator's CPU at 10,000 msg/s), while a receive that found the socket drained ("exhausted")
// lets the next one queue without any syscall (edge-triggered epoll already watches it).
asio::awaitable<bool> xmpp_client::read_more() {
  if (failed_ || closed_) co_return false;
  if (!rbuf_) rbuf_ = std::make_unique<char[]>(receive_bytes);
  auto [ec, n] = co_await sock_.async_receive(asio::buffer(rbuf_.get(), receive_bytes),
                                              as_tuple_awaitable);
  if (ec || n == 0) {
    if (failed_) co_return false;
    co_return fail(read_failure(ec));
  }
  bool full = n == receive_bytes;
  if (!take(rbuf_.get(), n)) co_return false;
  auto& buf = read_buffer();
  while (full && !closed_) {
    boost::system::error_code rec;
    size_t m = sock_.read_some(asio::buffer(buf), rec);
    if (rec == asio::error::would_block || rec == asio::error::try_again) break;
    if (rec) co_return fail(read_failure(rec));
    full = m == buf.size();
    // take() decrypts into this same buffer, after BIO_write has copied the raw bytes.
    if (!take(buf.data(), m)) co_return false;
  }
  co_return !failed_;
}

asio::awaitable<bool> xmpp_client::next_element() {
  while (queue_.empty()) {
    {
      bool step_ok = co_await read_more();
      if (!step_ok) co_return false;
    }
    if (closed_ && queue_.empty()) co_return fail("stream closed by server");
  }
  el_ = std::move(queue_.front());
  queue_.pop_front();
  co_return true;
}

asio::awaitable<bool> xmpp_client::wait_iq(std::string_view id, bool error_ok) {
  for (;;) {
    {
      bool step_ok = co_await next_element();
      if (!step_ok) co_return false;
    }
    if (raw::name(el_) == "iq" && raw::attr_raw(el_, "id") == id) {
      if (raw::attr_raw(el_, "type") == "result" || error_ok) co_return true;
      co_return fail(fmt::format("iq {} failed: {}", id, error_condition(el_)));
    }
    // Anything else (presence, pushes) is skipped during login.
  }
}

asio::awaitable<bool> xmpp_client::connect() {
  auto [ec] = co_await sock_.async_connect(target_.endpoint, as_tuple_awaitable);
  if (ec) co_return fail("connect: " + ec.message());
  boost::system::error_code ignored;
  sock_.set_option(tcp::no_delay(true), ignored);
  sock_.non_blocking(true, ignored);
  co_return true;
}

asio::awaitable<bool> xmpp_client::tls_handshake() {
  ssl_ = SSL_new(ctx_);
  if (!ssl_) co_return fail("SSL_new failed");
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl_, rbio_, wbio_);
  SSL_set_connect_state(ssl_);
  SSL_set_tlsext_host_name(ssl_, target_.domain.c_str());
  for (;;) {
    int r = SSL_do_handshake(ssl_);
    drain_tls_output();
    // Done: the client's last flight (TLS 1.3: its Finished) stays queued, and the stream
    // header open_stream() sends next joins it in one write(). The server gets the same bytes
    // in the same order (TLS 1.3 §4.4.4 lets the client send data right after its Finished);
    // it saves the generator one send per login.
    if (r == 1) break;
    write_now();
    int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ) {
      unsigned long code = ERR_get_error();
      char text[256];
      ERR_error_string_n(code, text, sizeof text);
      ERR_clear_error();
      co_return fail(std::string("TLS handshake: ") + text);
    }
    {
      bool step_ok = co_await read_more();
      if (!step_ok) co_return false;
    }
  }
  co_return true;
}

asio::awaitable<bool> xmpp_client::open_stream() {
  header_seen_ = false;
  send(fmt::format("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0'>",
                   target_.domain));
  while (!header_seen_) {
    {
      bool step_ok = co_await read_more();
      if (!step_ok) co_return false;
    }
  }
  {
    bool step_ok = co_await next_element();
    if (!step_ok) co_return false;
  }
  if (raw::name(el_) != "features")
    co_return fail("expected stream features, got " + std::string(raw::name(el_)));
  features_ = std::move(el_);
  co_return true;
}

asio::awaitable<bool> xmpp_client::starttls() {
  if (!raw::has_child(features_, "starttls")) co_return fail("server does not offer STARTTLS");
  send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  {
    bool step_ok = co_await next_element();
    if (!step_ok) co_return false;
  }
  if (raw::name(el_) != "proceed") co_return fail("STARTTLS refused: " + el_);
  splitter_.reset();  // RFC 6120 §5.4.3.3: new stream after TLS
  bool handshake_ok = co_await tls_handshake();
  co_return handshake_ok;
}

asio::awaitable<bool> xmpp_client::authenticate(account& acct) {
  // <mechanism>NAME</mechanism> inside <mechanisms/>.
  bool offered = features_.find(">" + target_.mechanism + "<") != std::string::npos;
  if (!offered) co_return fail("server does not offer " + target_.mechanism);

  sasl::scram_client scram(target_.alg);
  std::string first = scram.client_first(acct.user);
  send(fmt::format("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{}'>{}</auth>",
                   target_.mechanism, util::base64_encode(first)));
  {
    bool step_ok = co_await next_element();
    if (!step_ok) co_return false;
  }
  if (raw::name(el_) != "challenge") co_return fail("SASL: " + first_child_name(el_));
  auto server_first = util::base64_decode(raw::text_of(el_, "challenge"));
  if (!server_first) co_return fail("SASL: bad base64 in challenge");
  if (auto f = scram.handle_server_first(*server_first))
    co_return fail(fmt::format("SASL: bad server-first ({})", sasl::to_string(*f)));
  // RFC 5802 §5.1 / XEP-0474 practice: clients keep SaltedPassword per (salt, i), so only the
  // first login of an account pays PBKDF2.
  if (acct.salted.empty() || acct.salt != scram.salt() || acct.iterations != scram.iterations()) {
    acct.salted = sasl::salted_password(target_.alg, acct.password, scram.salt(),
                                        scram.iterations());
    acct.salt = scram.salt();
    acct.iterations = scram.iterations();
    ++acct.pbkdf2_runs;
  }
  send(fmt::format("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{}</response>",
                   util::base64_encode(scram.client_final(acct.salted))));
  {
    bool step_ok = co_await next_element();
    if (!step_ok) co_return false;
  }
  if (raw::name(el_) == "challenge") {
    // Some servers send server-final as a challenge and expect an empty response.
    auto fin = util::base64_decode(raw::text_of(el_, "challenge"));
    if (!fin || !scram.verify_server_final(*fin)) co_return fail("SASL: server signature");
    send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    {
      bool step_ok = co_await next_element();
      if (!step_ok) co_return false;
    }
    if (raw::name(el_) != "success") co_return fail("SASL: " + first_child_name(el_));
    co_return true;
  }
  if (raw::name(el_) != "success") {
    acct.salted.clear();  // maybe the password or the salt changed
    co_return fail("SASL failure: " + first_child_name(el_));
  }
  auto fin = util::base64_decode(raw::text_of(el_, "success"));
  if (!fin || !scram.verify_server_final(*fin)) co_return fail("SASL: bad server signature");
  co_return true;
}

// The login steps; login() wraps them with the deadline. Every co_await initialises a named
// variable: with g++ 12 the earlier `if (ok) ok = co_await f();` chains crashed (SIGILL on resume).
asio::awaitable<bool> xmpp_client::connect_and_secure() {
  bool connected = co_await connect();
  if (!connected) co_return false;
  if (target_.tls == tls_mode::direct) {
    bool secured = co_await tls_handshake();
    if (!secured) co_return false;
  }
  bool opened = co_await open_stream();
  if (!opened) co_return false;
  if (target_.tls == tls_mode::starttls) {
    bool secured = co_await starttls();
    if (!secured) co_return false;
    bool reopened = co_await open_stream();
    if (!reopened) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> xmpp_client::login_steps(account& acct, std::string resource) {
  bool secured = co_await connect_and_secure();
  if (!secured) co_return false;
  bool authenticated = co_await authenticate(acct);
  if (!authenticated) co_return false;
  splitter_.reset();  // RFC 6120 §6.4.6: stream restart after SASL success
  bool opened = co_await open_stream();
  if (!opened) co_return false;
  if (!raw::has_child(features_, "bind")) co_return fail("no resource binding offered");
  send(fmt::format("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>{}</resource></bind></iq>",
                   xml_escape(resource)));
  bool bound = co_await wait_iq("bind");
  if (!bound) co_return false;
  jid_ = raw::text_of(el_, "jid");
  if (jid_.empty()) co_return fail("bind result without jid");
  // RFC 3921 session establishment: only where a server still advertises it as required
  // (draft-cridland-xmpp-session-01 lets it be marked <optional/>, which clients then skip).
  if (session_required(features_)) {
    send("<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
    bool session = co_await wait_iq("sess");
    if (!session) co_return false;
  }
  send("<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>");
  // A server without a roster still answers (service-unavailable): the round trip is what
  // a login costs, so an error reply is accepted here.
  bool roster = co_await wait_iq("roster", true);
  if (!roster) co_return false;
  roster_items_ = raw::count(el_, "item");
  // Initial presence, then a ping to the server (XEP-0199) whose answer marks the end of the
  // login: a server handles a session's stanzas in order, so by then it has done the whole
  // presence broadcast (RFC 6121 §4.2.2) — a client that closed at once could let a server skip
  // it. (The echo of the presence to its own resource would also do, but not every server
  // sends it.) An error answer (no ping support) serves as well.
  send(fmt::format("<presence/><iq type='get' id='sync' to='{}'><ping xmlns='urn:xmpp:ping'/></iq>",
                   target_.domain));
  bool synced = co_await wait_iq("sync", true);
  if (!synced) co_return false;
  co_return !failed_;
}

asio::awaitable<bool> xmpp_client::login(account& acct, std::string resource) {
  arm_deadline();
  bool ok = co_await login_steps(acct, std::move(resource));
  disarm_deadline();
  queue_.clear();
  queue_.shrink_to_fit();
  el_ = std::string();
  features_ = std::string();
  co_return ok && !failed_;
}

asio::awaitable<bool> xmpp_client::register_steps(const account& acct) {
  bool secured = co_await connect_and_secure();
  if (!secured) co_return false;
  send(fmt::format("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>{}"
                   "</username><password>{}</password></query></iq>",
                   xml_escape(acct.user), xml_escape(acct.password)));
  for (;;) {
    bool got = co_await next_element();
    if (!got) co_return false;
    if (raw::name(el_) != "iq" || raw::attr_raw(el_, "id") != "reg") continue;
    if (raw::attr_raw(el_, "type") == "result") co_return true;
    if (raw::has_child(el_, "conflict")) co_return true;  // already registered
    co_return fail("registration failed: " + error_condition(el_));
  }
}

asio::awaitable<bool> xmpp_client::register_account(const account& acct) {
  arm_deadline();
  bool ok = co_await register_steps(acct);
  disarm_deadline();
  co_return ok;
}

asio::awaitable<void> xmpp_client::close_stream() {
  if (sock_.is_open() && !failed_) {
    send("</stream:stream>");
    // Wait (briefly) for the server's </stream:stream> so that it sees an orderly close.
    deadline_.expires_after(std::chrono::seconds(2));
    std::weak_ptr<xmpp_client> weak = weak_from_this();
    deadline_.async_wait([weak](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        boost::system::error_code ignored;
        self->sock_.close(ignored);
      }
    });
    while (!closed_ && !failed_) {
      bool more = co_await read_more();
      if (!more) break;
    }
    if (ssl_ && sock_.is_open()) {
      SSL_shutdown(ssl_);  // close_notify
      drain_tls_output();
      boost::system::error_code ignored;
      sock_.write_some(asio::buffer(out_), ignored);
    }
  }
  abort();
}

asio::awaitable<bool> xmpp_client::receive(std::string& el) {
  bool got = co_await next_element();
  if (got) el = std::move(el_);
  co_return got;
}

asio::awaitable<bool> xmpp_client::request(std::string_view stanza, std::string_view id,
                                           std::string* reply, bool error_ok) {
  send(stanza);
  bool got = co_await wait_iq(id, error_ok);
  if (got && reply) *reply = std::move(el_);
  co_return got;
}

asio::awaitable<void> xmpp_client::read_loop(stanza_sink* sink) {
  sink_ = sink;
  // Stanzas that arrived with the last login reply.
  while (!queue_.empty()) {
    std::string el = std::move(queue_.front());
    queue_.pop_front();
    sink_->on_stanza(*this, el);
  }
  for (;;) {
    bool more = co_await read_more();
    if (!more) break;
  }
  sink_ = nullptr;
}

}  // namespace starling::bench
