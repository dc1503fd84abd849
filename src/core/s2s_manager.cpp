#include "core/s2s_manager.hpp"

#include <openssl/err.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "core/s2s_stream.hpp"
#include "net/cert_verify.hpp"
#include "core/server.hpp"
#include "jid/jid.hpp"
#include "util/random.hpp"

namespace starling {
namespace asio = boost::asio;

struct s2s_manager::tls_state {
  std::map<std::string, SSL_CTX*> client;  // by local host
  std::unique_ptr<net::cert_verifier> verifier;
  ~tls_state() {
    for (auto& [host, ctx] : client) SSL_CTX_free(ctx);
  }
};

s2s_manager::s2s_manager(server& srv) : srv_(srv) {
  secret_ = srv.cfg().s2s.dialback_secret;
  // XEP-0185 §3: without a configured secret, a random one per start is enough for a single
  // server (keys only need to survive as long as the streams they were made for).
  if (secret_.empty()) secret_ = util::random_bytes(32);
  net::resolver_options opts;
  opts.servers = srv.cfg().s2s.dns_servers;
  // The whole lookup (SRV, then A/AAAA of the targets) fits in the connect deadline.
  opts.total_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(srv.cfg().s2s.connect_timeout);
  resolver_ = std::make_unique<net::resolver>(opts);
}

s2s_manager::~s2s_manager() = default;

namespace {
std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "unknown error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}
}  // namespace

bool s2s_manager::load_tls(std::string& error) {
  const auto& cfg = srv_.cfg();
  auto state = std::make_shared<tls_state>();
  for (const auto& host : cfg.hosts) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
      error = "s2s TLS client context: " + openssl_error();
      return false;
    }
    state->client[host.name] = ctx;
    SSL_CTX_set_min_proto_version(ctx, cfg.tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!cfg.tls.ciphers.empty()) SSL_CTX_set_cipher_list(ctx, cfg.tls.ciphers.c_str());
    // Our certificate goes to the peer, which may authenticate us with it (XEP-0178).
    auto cert = cfg.resolve(cfg.certificate_for(host));
    auto key = cfg.resolve(cfg.key_for(host));
    if (!cert.empty() && (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
                          SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)) {
      error = "s2s TLS certificate for " + host.name + ": " + openssl_error();
      return false;
    }
    // The peer's certificate is checked by peer_certificate_valid(), against the domain.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  net::cert_verify_options vo;
  vo.ca_file = cfg.s2s.ca_file.string();
  vo.use_system_store = true;
  state->verifier = std::make_unique<net::cert_verifier>(vo);
  if (!state->verifier->error().empty()) {
    error = "[s2s] ca_file " + cfg.s2s.ca_file.string() + ": " + state->verifier->error();
    return false;
  }
  std::lock_guard lock(mutex_);
  tls_ = std::move(state);
  return true;
}

SSL_CTX* s2s_manager::acquire_client_ctx(const std::string& local) const {
  std::shared_ptr<tls_state> t;
  {
    std::lock_guard lock(mutex_);
    t = tls_;
  }
  if (!t) return nullptr;
  auto it = t->client.find(local);
  if (it == t->client.end()) return nullptr;
  SSL_CTX_up_ref(it->second);
  return it->second;
}

bool s2s_manager::peer_certificate_valid(SSL* ssl, const std::string& domain) const {
  // RFC 6120 §13.7.2 / RFC 6125: chain to a trust anchor and an identity (DNS-ID, SRV-ID,
  // XmppAddr, CN-ID as last resort) matching the domain (net/cert_verify).
  if (!ssl) return false;
  std::shared_ptr<tls_state> t;
  {
    std::lock_guard lock(mutex_);
    t = tls_;
  }
  if (!t || !t->verifier) return false;
  auto r = t->verifier->verify_peer(ssl, domain);
  if (r.ok) spdlog::debug("s2s: certificate valid for {} ({})", domain, r.matched);
  else spdlog::debug("s2s: certificate not valid for {}: {}", domain, r.reason);
  return r.ok;
}

void s2s_manager::clear() {
  std::lock_guard lock(mutex_);
  out_.clear();
  bidi_.clear();
}

void s2s_manager::stream_started(s2s_stream* s) { live_.add(s); }

void s2s_manager::stream_ended(s2s_stream* s) { live_.remove(s); }

size_t s2s_manager::live_streams() const { return live_.size(); }

void s2s_manager::shutdown_streams() {
  for (auto& s : live_.snapshot()) s->shutdown();
}

void s2s_manager::add_bidi(const std::string& local, const std::string& remote, const std::shared_ptr<s2s_stream>& s) {
  std::lock_guard lock(mutex_);
  bidi_[{local, remote}] = s;
}

void s2s_manager::remove_bidi(const s2s_stream* s) {
  std::lock_guard lock(mutex_);
  for (auto it = bidi_.begin(); it != bidi_.end();) {
    auto p = it->second.lock();
    if (!p || p.get() == s) it = bidi_.erase(it);
    else ++it;
  }
}

std::shared_ptr<s2s_stream> s2s_manager::outgoing(const std::string& local, const std::string& remote) {
  std::shared_ptr<s2s_stream> s;
  {
    std::lock_guard lock(mutex_);
    auto& slot = out_[{local, remote}];
    if (slot) return slot;
    slot = std::make_shared<s2s_stream>(*this, srv_.next_context().get_executor(), local, remote);
    s = slot;
  }
  spdlog::debug("s2s out {}: new stream for {}", remote, local);
  s->start();
  return s;
}

void s2s_manager::outgoing_finished(const s2s_stream* s, const std::string& local, const std::string& remote) {
  std::lock_guard lock(mutex_);
  auto it = out_.find({local, remote});
  if (it != out_.end() && it->second.get() == s) out_.erase(it);
}

void s2s_manager::send(xml::element stanza, std::string bounce_to) {
  auto from = jid::parse(stanza.attr_or("from"));
  auto to = jid::parse(stanza.attr_or("to"));
  if (!from || !to) return;
  // Never a relay: only our own domains send over our outgoing streams.
  if (!srv_.is_local_host(from->domain()) || srv_.is_local_host(to->domain())) {
    spdlog::debug("s2s: not relaying {} -> {}", from->str(), to->str());
    return;
  }
  std::string local(from->domain()), remote(to->domain());
  std::shared_ptr<s2s_stream> via;
  {
    // An outgoing stream of ours first; else a bidirectional incoming one (XEP-0288).
    std::lock_guard lock(mutex_);
    if (out_.find({local, remote}) == out_.end())
      if (auto it = bidi_.find({local, remote}); it != bidi_.end()) via = it->second.lock();
  }
  if (!via) via = outgoing(local, remote);
  via->enqueue(std::move(stanza), std::move(bounce_to));
}

void s2s_manager::accept(asio::ip::tcp::socket socket, bool direct_tls) {
  if (!incoming_opened()) {
    spdlog::warn("s2s: incoming stream limit ([s2s] max_streams) reached");
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<s2s_stream>(*this, std::move(socket), direct_tls)->start();
}

bool s2s_manager::incoming_opened() {
  std::lock_guard lock(mutex_);
  if (incoming_ >= srv_.cfg().s2s.max_streams) return false;
  ++incoming_;
  return true;
}

void s2s_manager::incoming_closed() {
  std::lock_guard lock(mutex_);
  if (incoming_) --incoming_;
}

void s2s_manager::verify_dialback(const std::string& local, const std::string& remote, const std::string& id,
                                  const std::string& key, std::function<void(dialback_outcome)> done) {
  outgoing(local, remote)->request_verify(id, key, std::move(done));
}

std::string s2s_manager::key_for(std::string_view receiving, std::string_view originating, std::string_view id) const {
  return dialback_key(secret_, receiving, originating, id);
}

namespace {
std::string id_key(const std::string& originating, const std::string& receiving, const std::string& id) {
  return originating + "\n" + receiving + "\n" + id;
}
}  // namespace

bool s2s_manager::is_our_stream(const std::string& originating, const std::string& receiving,
                                const std::string& id) const {
  std::lock_guard lock(mutex_);
  return stream_ids_.count(id_key(originating, receiving, id)) > 0;
}

void s2s_manager::note_stream_id(const std::string& local, const std::string& remote, const std::string& id) {
  std::lock_guard lock(mutex_);
  stream_ids_.insert(id_key(local, remote, id));
}

void s2s_manager::forget_stream_id(const std::string& local, const std::string& remote, const std::string& id) {
  std::lock_guard lock(mutex_);
  stream_ids_.erase(id_key(local, remote, id));
}

}  // namespace starling
