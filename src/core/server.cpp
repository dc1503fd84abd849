#include "core/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>

#include "core/c2s_session.hpp"
#include "core/s2s_manager.hpp"
#include "util/random.hpp"

namespace starling {
namespace asio = boost::asio;
using boost::system::error_code;

std::vector<module_entry>& module_registry() {
  static std::vector<module_entry> registry;
  return registry;
}

server::server(config::server_config cfg)
    : cfg_(std::move(cfg)),
      cpu_pool_(std::max(1u, std::thread::hardware_concurrency())),
      auth_fail_ip_(cfg_.auth.max_failures_per_ip, cfg_.auth.failure_window),
      auth_fail_account_(cfg_.auth.max_failures_per_account, cfg_.auth.failure_window),
      registrations_ip_(1, cfg_.registration.min_interval_per_ip) {
  s2s_ = std::make_unique<s2s_manager>(*this);
  if (cfg_.registration.min_interval_per_ip.count() == 0) registrations_ip_.set_limits(0, std::chrono::seconds(1));
}

server::~server() {
  // Shutdown order: no thread runs handlers any more; modules let go of sessions; the
  // sessions and the coroutine frames that hold them are destroyed while their io_context,
  // the modules and the database still exist; then the modules; the database last.
  stop();
  cpu_pool_.join();
  for (auto& m : modules_) m->stop();
  sessions_.clear();
  s2s_->clear();
  {
    // Their timers belong to the io_contexts destroyed next.
    std::lock_guard lock(pending_mutex_);
    pending_iqs_.clear();
  }
  if (db_) {
    // Database calls issued just before the stop (e.g. by sessions as they closed) complete by
    // posting to their coroutine's io_context from the writer thread: let the writer finish
    // its queue while the io_contexts still exist. Nothing queues new ones now: the network
    // threads have returned and the sessions are gone.
    try {
      db_->run_blocking([](storage::connection&) {});
    } catch (const std::exception&) {
      // Closed already: nothing runs on it.
    }
  }
  io_.reset();
  s2s_.reset();  // after the streams, which call it until their io_context goes
  modules_.clear();
  if (db_) db_->close();
}

void server::add_migrations(std::vector<storage::migration> m) {
  for (auto& x : m) migrations_.push_back(std::move(x));
}

bool server::is_local_host(std::string_view domain) const { return cfg_.find_host(domain) != nullptr; }

bool server::reload_tls() {
  std::vector<net::tls_identity> ids;
  ids.push_back({"", cfg_.resolve(cfg_.tls.certificate).string(), cfg_.resolve(cfg_.tls.key).string()});
  for (const auto& h : cfg_.hosts)
    if (!h.certificate.empty())
      ids.push_back({h.name, cfg_.resolve(h.certificate).string(), cfg_.resolve(h.key).string()});
  net::tls_options opts;
  opts.min_version = cfg_.tls.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
  opts.ciphers = cfg_.tls.ciphers;
  std::string error;
  if (!tls_.load(ids, opts, error)) {
    spdlog::error("TLS: {}", error);
    return false;
  }
  if (!s2s_->load_tls(error)) {
    spdlog::error("TLS: {}", error);
    return false;
  }
  spdlog::info("TLS certificates loaded ({} identities)", ids.size());
  return true;
}

namespace {
// XEP-0386 §3 with XEP-0198: an inline <enable/> is answered inside <bound/> with <enabled/>
// or <failed/> (the session is bound at this point, as XEP-0198 §3 requires).
asio::awaitable<void> sm_bind2_inline(c2s_session& s, const xml::element& req, xml::element& bound) {
  if (req.name() == "enable") bound.add_child(s.enable_sm(req));
  co_return;
}
}  // namespace

bool server::start() {
  started_at_ = std::chrono::system_clock::now();
  if (!reload_tls()) return false;
  std::string error;
  if (cfg_.storage.backend != "sqlite") {
    spdlog::error("storage backend {} is not available", cfg_.storage.backend);
    return false;
  }
  db_ = storage::open_sqlite_database(cfg_.resolve(cfg_.storage.path), {}, error);
  if (!db_) {
    spdlog::error("storage: {}", error);
    return false;
  }
  if (cfg_.sm.enabled) bind2_.add("urn:xmpp:sm:3", sm_bind2_inline);
  for (const auto& entry : module_registry()) {
    auto m = entry.factory();
    m->start(*this);
    spdlog::debug("module {} started", entry.name);
    modules_.push_back(std::move(m));
  }
  // Schema steps of the modules, each versioned per module (storage/sqlite.hpp).
  if (!db_->migrate(migrations_, error)) {
    spdlog::error("storage: {}", error);
    return false;
  }
  io_ = std::make_unique<net::io_pool>(cfg_.threads, std::chrono::microseconds(cfg_.network_slice_us));
  for (const auto& l : cfg_.listeners) {
    // Bind now so that a port conflict fails start-up instead of being logged later.
    asio::co_spawn(io_->at(0), accept_loop(l), asio::detached);
  }
  return true;
}

void server::run() {
  if (!io_) return;
  if (cfg_.network_slice_us > 0) {
    // Runs first on the thread that runs context 0, after io_pool::run() asked for the slice.
    asio::post(io_->at(0), [this] {
      if (io_->slice_granted())
        spdlog::info("network threads scheduled in slices of {} µs", std::max<uint32_t>(cfg_.network_slice_us, 100));
      else
        spdlog::info("network_slice_us: the kernel has no per-thread slices (Linux 6.12+); its default applies");
    });
  }
  io_->run();
}

void server::stop() {
  if (io_) io_->stop();
}

void server::shutdown() {
  if (!io_ || shutting_down_.exchange(true, std::memory_order_acq_rel)) return;
  if (cfg_.limit.shutdown_timeout.count() == 0) {
    stop();
    return;
  }
  asio::co_spawn(io_->at(0), graceful_shutdown(), asio::detached);
}

void server::c2s_started(c2s_session* s) { live_c2s_.add(s); }

void server::c2s_ended(c2s_session* s) { live_c2s_.remove(s); }

// On io_->at(0), the accept loops' thread.
asio::awaitable<void> server::graceful_shutdown() {
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + cfg_.limit.shutdown_timeout;
  spdlog::info("shutting down: ending {} client streams (at most {} s)", live_c2s_.size(),
               cfg_.limit.shutdown_timeout.count());
  // No new connections: the accept loops end (shutting_down_ is set).
  error_code ec;
  for (auto* a : acceptors_) a->close(ec);
  // RFC 6120 §4.9.3.19: every client stream gets <system-shutdown/>; each session then ends as
  // any other does (unavailable presence, XEP-0012 record, XEP-0198 unacknowledged stanzas
  // rerouted), on its own thread. Connections accepted from now on are closed by the accept
  // loops, so one pass reaches them all.
  for (auto& s : live_c2s_.snapshot()) s->shut_down();
  // Done when no stream is left and the work the sessions started (routing, storage) is
  // finished, twice in a row, so that work handed from one thread to another between two looks
  // is not missed. Server streams are ended on every pass: routing may still open new ones.
  asio::steady_timer t(co_await asio::this_coro::executor);
  int quiet = 0;
  for (;;) {
    s2s_->shutdown_streams();
    const size_t clients = live_c2s_.size();
    const size_t servers = s2s_->live_streams();
    const int64_t work = work_in_flight();
    if (clients == 0 && servers == 0 && work == 0) {
      if (++quiet == 2) break;
    } else {
      quiet = 0;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("shutdown_timeout reached with {} client streams, {} server streams and {} tasks left: "
                   "stopping now", clients, servers, work);
      break;
    }
    t.expires_after(std::chrono::milliseconds(10));
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  spdlog::info("shutdown: streams ended in {} ms",
               std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
  // What the sessions queued for the database (batch writers, posted writes) is written when
  // the modules stop, in ~server(), before the database closes.
  stop();
}

asio::awaitable<void> server::accept_loop(const config::listener& l) {
  auto exec = co_await asio::this_coro::executor;
  error_code ec;
  auto addr = asio::ip::make_address(l.address, ec);
  if (ec) {
    spdlog::critical("listener {}: bad address", l.address);
    stop();
    co_return;
  }
  asio::ip::tcp::acceptor acceptor(exec);
  asio::ip::tcp::endpoint ep(addr, l.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    spdlog::critical("cannot listen on {}:{}: {}", l.address, l.port, ec.message());
    stop();
    co_return;
  }
  // Closed by graceful_shutdown() (same thread); unlisted before this frame ends.
  acceptors_.push_back(&acceptor);
  struct unlist {
    std::vector<asio::ip::tcp::acceptor*>& v;
    asio::ip::tcp::acceptor* a;
    ~unlist() { std::erase(v, a); }
  } unlist_on_exit{acceptors_, &acceptor};
  const bool s2s = l.kind == config::listener_kind::s2s_starttls || l.kind == config::listener_kind::s2s_direct_tls;
  const bool direct_tls = l.kind == config::listener_kind::c2s_direct_tls || l.kind == config::listener_kind::s2s_direct_tls;
  spdlog::info("listening on {}:{} ({} {})", l.address, l.port, s2s ? "s2s" : "c2s", direct_tls ? "direct TLS" : "STARTTLS");
  for (;;) {
    auto& ctx = io_->next();
    auto socket = co_await acceptor.async_accept(ctx, asio::redirect_error(asio::use_awaitable, ec));
    if (shutting_down()) {
      // Accepted just before the listener closed: the server is going away.
      error_code ignored;
      socket.close(ignored);
      co_return;
    }
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off briefly instead of spinning.
      spdlog::warn("accept on {}:{}: {}", l.address, l.port, ec.message());
      asio::steady_timer t(exec, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (s2s) {
      // Servers share addresses (many domains behind one host): [s2s] max_streams limits them.
      s2s_->accept(std::move(socket), direct_tls);
      continue;
    }
    error_code ignored;
    std::string ip = socket.remote_endpoint(ignored).address().to_string();
    if (!connection_opened(ip)) {
      spdlog::warn("connection limit reached for {}", ip);
      socket.close(ignored);
      continue;
    }
    auto session = std::make_shared<c2s_session>(*this, std::move(socket), direct_tls);
    session->start();
  }
}

bool server::connection_opened(const std::string& ip) {
  std::lock_guard lock(conn_mutex_);
  auto& n = conns_per_ip_[ip];
  if (cfg_.limit.max_connections_per_ip && n >= cfg_.limit.max_connections_per_ip) {
    if (n == 0) conns_per_ip_.erase(ip);
    return false;
  }
  ++n;
  return true;
}

void server::connection_closed(const std::string& ip) {
  std::lock_guard lock(conn_mutex_);
  auto it = conns_per_ip_.find(ip);
  if (it == conns_per_ip_.end()) return;
  if (--it->second == 0) conns_per_ip_.erase(it);
}

void server::reply(iq_request& req, const xml::element& r) {
  if (req.session) {
    if (!req.session->is_closing()) req.session->send(r);
    return;
  }
  if (auto to = jid::parse(r.attr_or("to"))) deliver_to_full(*to, r);
}

bool server::deliver_to_full(const jid& to, const xml::element& stanza) {
  if (!is_local_host(to.domain())) {
    if (!cfg_.s2s.enabled) return false;
    s2s_->send(stanza);
    return true;
  }
  auto s = sessions_.find(to);
  if (!s) return false;
  s->deliver(stanza);
  return true;
}

namespace {
// Sends `reply` back to whoever sent `original`: the local session directly if there is one.
void bounce(server& srv, c2s_session* origin, const xml::element& original, stanza_condition c) {
  if (is_error(original)) return;  // RFC 6120 §8.3.1: never answer an error with an error
  auto reply = make_error_reply(original, c);
  if (origin) {
    if (!origin->is_closing()) origin->send(reply);
    return;
  }
  if (auto to = jid::parse(reply.attr_or("to"))) srv.deliver_to_full(*to, reply);
}
}  // namespace

asio::awaitable<void> server::route(xml::element stanza, c2s_session* origin) {
  auto from = jid::parse(stanza.attr_or("from"));
  if (!from) co_return;
  std::optional<jid> to;
  if (const std::string* t = stanza.attr("to")) to = jid::parse(*t);
  co_await route(std::move(stanza), origin, std::move(*from), std::move(to));
}

asio::awaitable<void> server::route(xml::element stanza, c2s_session* origin, jid from, std::optional<jid> to) {
  const std::string_view kind = stanza.name();

  // RFC 6120 §10.3: no 'to' means the sender's own account (bare JID).
  if (!to) {
    if (kind == "iq") {
      co_await route_iq(std::move(stanza), origin, from, from.bare());
    } else if (kind == "message") {
      if (hooks_.local_delivery.run(stanza, from.bare()) == hook_result::next)
        bounce(*this, origin, stanza, stanza_condition::service_unavailable);
    }
    // Presence without 'to' is a broadcast, handled by the presence module's client_stanza hook.
    co_return;
  }

  if (!is_local_host(to->domain())) {
    // Federation switched off: RFC 6120 §8.3.3.16. Otherwise the s2s layer delivers, or
    // bounces once the remote domain turns out unreachable (§8.3.3.16, §8.3.3.17).
    if (!cfg_.s2s.enabled || !is_local_host(from.domain())) {
      bounce(*this, origin, stanza, stanza_condition::remote_server_not_found);
      co_return;
    }
    s2s_->send(std::move(stanza), origin && origin->is_bound() ? origin->full_jid().str() : std::string());
    co_return;
  }

  if (!to->has_local()) {
    if (kind == "iq" && !to->has_resource()) {
      co_await route_iq(std::move(stanza), origin, from, *to);
      co_return;
    }
    if (to->has_resource()) {
      bounce(*this, origin, stanza, stanza_condition::service_unavailable);
      co_return;
    }
    if (hooks_.server_stanza.run(stanza, origin) == hook_result::stop) co_return;
    if (kind == "message") bounce(*this, origin, stanza, stanza_condition::service_unavailable);
    co_return;
  }

  if (hooks_.inbound_stanza.run(stanza, *to) == hook_result::stop) co_return;
  if (kind == "iq" && to->is_bare()) {
    co_await route_iq(std::move(stanza), origin, from, *to);
    co_return;
  }
  if (hooks_.local_delivery.run(stanza, *to) == hook_result::stop) co_return;
  // Without the IM module: deliver to a connected full JID, or to every session of a bare JID.
  bool delivered = false;
  if (to->has_resource()) {
    delivered = deliver_to_full(*to, stanza);
  } else {
    for (auto& s : sessions_.find_bare(*to)) {
      s->deliver(stanza);
      delivered = true;
    }
  }
  // RFC 6121 §8.5.3.2.1 / §8.5.2.2.1: nobody to take a message or an IQ.
  if (!delivered && kind != "presence") bounce(*this, origin, stanza, stanza_condition::service_unavailable);
}

struct server::pending_iq {
  explicit pending_iq(asio::any_io_executor ex) : timer(ex) {}
  asio::steady_timer timer;
  std::string peer;  // only the queried entity may answer
  std::optional<xml::element> result;
};

asio::awaitable<std::optional<xml::element>> server::request(xml::element iq, std::chrono::milliseconds timeout) {
  auto exec = co_await asio::this_coro::executor;
  auto p = std::make_shared<pending_iq>(exec);
  std::string id = "starling-" + util::random_token(16);
  iq.set_attr("id", id);
  auto to = jid::parse(iq.attr_or("to"));
  if (!to) co_return std::nullopt;
  p->peer = to->str();
  {
    std::lock_guard lock(pending_mutex_);
    pending_iqs_[id] = p;
  }
  p->timer.expires_after(timeout);
  // To a local session, or over federation (deliver_to_full hands remote JIDs to s2s).
  if (deliver_to_full(*to, iq)) {
    error_code ec;
    co_await p->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  std::lock_guard lock(pending_mutex_);
  pending_iqs_.erase(id);
  co_return std::move(p->result);
}

bool server::complete_request(const xml::element& stanza) {
  std::shared_ptr<pending_iq> p;
  {
    std::lock_guard lock(pending_mutex_);
    auto it = pending_iqs_.find(std::string(stanza.attr_or("id")));
    if (it == pending_iqs_.end() || it->second->peer != stanza.attr_or("from")) return false;
    p = it->second;
    pending_iqs_.erase(it);
  }
  // Wake the waiter on its own thread.
  asio::post(p->timer.get_executor(), [p, st = stanza] {
    p->result = st;
    p->timer.cancel();
  });
  return true;
}

asio::awaitable<void> server::route_iq(xml::element stanza, c2s_session* origin, const jid& from, const jid& to) {
  std::string_view type = stanza.attr_or("type");
  if (type != "get" && type != "set") {
    // A result or error for the server, or for an account the server spoke for (XEP-0357
    // notifications come from the user's bare JID): a request() may be waiting for it.
    if (!to.has_local() || to.is_bare()) complete_request(stanza);
    co_return;
  }
  const xml::element* payload = stanza.first_element();
  if (!payload) {
    bounce(*this, origin, stanza, stanza_condition::bad_request);
    co_return;
  }
  const iq_registration* reg = nullptr;
  iq_target target = iq_target::host;
  if (to.has_local()) {
    target = to == from.bare() ? iq_target::self : iq_target::bare;
    reg = iq_.find(target, payload->ns());
  } else {
    reg = iq_.find(iq_target::host, payload->ns());
  }
  // An IQ with no 'to' that no account handler claims is answered by the server itself
  // (e.g. ping or disco without 'to', as many clients send them).
  if (!reg && target == iq_target::self && !stanza.attr("to")) reg = iq_.find(iq_target::host, payload->ns());
  if (!reg) {
    // RFC 6120 §8.4: nobody handles this namespace.
    bounce(*this, origin, stanza, stanza_condition::service_unavailable);
    co_return;
  }
  std::string ns = payload->ns();
  iq_request req{*this, origin, std::move(stanza), from, to};
  try {
    co_await reg->handler(req);
  } catch (const std::exception& e) {
    spdlog::error("IQ handler for {} failed: {}", ns, e.what());
    bounce(*this, origin, req.stanza, stanza_condition::internal_server_error);
  }
}

}  // namespace starling
