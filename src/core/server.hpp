#pragma once
// The server: owns configuration, network threads, TLS contexts, storage, the session manager,
// the router's tables and the loaded modules. Modules reach everything through this object.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/live_set.hpp"
#include "core/bind2_registry.hpp"
#include "core/disco_registry.hpp"
#include "core/hooks.hpp"
#include "core/iq_table.hpp"
#include "core/module.hpp"
#include "core/rate_limiter.hpp"
#include "core/sasl2_registry.hpp"
#include "core/session_manager.hpp"
#include "core/stanza.hpp"
#include "net/io_pool.hpp"
#include "net/tls_store.hpp"
#include "storage/sqlite.hpp"
#include "storage/storage.hpp"

namespace starling {

class c2s_session;
class s2s_manager;

// Stream negotiation stages at which a module may offer a stream feature.
enum class feature_stage { before_tls, before_auth, after_auth };

using feature_provider = std::function<void(c2s_session&, feature_stage, xml::element& features)>;

// Core events. Modules add handlers at start-up.
struct server_hooks {
  // A session bound a resource (RFC 6120 §7) and is ready for stanzas.
  hook<c2s_session&> session_bound;
  // A bound session ended, however it ended (close, error, dropped TCP, replaced).
  hook<c2s_session&> session_closed;
  // A stanza from a bound local client, after validation and 'from' stamping, before routing.
  // Return stop if the module took care of it.
  hook<c2s_session&, xml::element&> client_stanza;
  // A stanza addressed to a local account (bare or full JID) that the core would otherwise
  // deliver by its simple rules (IM routing per RFC 6121 §8 plugs in here).
  hook<xml::element&, const jid& /*to*/> local_delivery;
  // Presence or message addressed to the server itself.
  hook<xml::element&, c2s_session*> server_stanza;
  // An account was deleted (modules remove their data).
  hook<const jid& /*bare*/> account_removed;
  // Any stanza about to be handled for a local account (to a bare or full JID of a local
  // user, any kind, from a local or remote sender), before IQ handlers and delivery: privacy
  // lists and blocking (XEP-0016, XEP-0191) filter here. Return stop if the stanza was dealt
  // with (dropped or bounced).
  hook<xml::element&, const jid& /*to*/> inbound_stanza;
  // A session sent its initial presence (RFC 6121 §4.2), after the presence module handled it:
  // offline messages are delivered here (XEP-0160).
  hook<c2s_session&> initial_presence;
  // A top-level element of an authenticated stream that is neither a stanza nor SASL/TLS nor
  // XEP-0198 (e.g. XEP-0352 <active/>). Return stop if a module handled it; otherwise the
  // stream ends with <unsupported-stanza-type/> (RFC 6120 §4.9.3.24).
  hook<c2s_session&, xml::element&> stream_element;
  // A stanza about to be sent to a bound client, on the session's thread. A module that returns
  // stop keeps it and later hands it on with c2s_session::send_now() (XEP-0352 holds back).
  hook<c2s_session&, const xml::element&> outbound_stanza;
  // XEP-0198: a stanza was queued for a hibernated session (its connection dropped; it waits
  // to be resumed). XEP-0357 notifies the user's app servers here.
  hook<c2s_session&, const xml::element&> hibernated_stanza;
  // XEP-0198 §5: `now` (on its own thread) took over the state of `before` (slots, JID,
  // counters); modules that remember sessions by address update them. No session_bound /
  // session_closed run for a resumption.
  hook<c2s_session& /*now*/, const c2s_session& /*before*/> session_resumed;
  // XEP-0160: a message was put into offline storage for `bare` (any thread).
  hook<const jid& /*bare*/, const xml::element&> offline_stored;
  // The IM router (src/modules/message, RFC 6121 §8.5) handed a <message/> for a local
  // account to these resources; `delivered` is empty when none took it (offline storage).
  // XEP-0280 carbons copy it to the account's other resources here.
  hook<const xml::element&, const jid& /*to*/, const std::vector<jid>& /*delivered*/> message_delivered;
};

class server {
 public:
  explicit server(config::server_config cfg);
  ~server();

  // Opens storage, loads TLS, starts modules and listeners. Returns false with errors logged.
  bool start();
  // Runs the network threads until stop().
  void run();
  // Stops the network threads at once: connections drop, work in flight is abandoned.
  void stop();
  // Graceful shutdown (SIGTERM), from any thread; returns at once. Stops accepting connections,
  // ends every client and server stream with <system-shutdown/> (RFC 6120 §4.9.3.19), lets the
  // sessions end through their usual path and the work they started (spawn()) finish, then
  // stop()s; after [limits] shutdown_timeout it stop()s whatever is left.
  void shutdown();
  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }
  // SIGHUP: reload certificates; sessions already established keep theirs.
  bool reload_tls();

  const config::server_config& cfg() const { return cfg_; }
  bool is_local_host(std::string_view domain) const;
  storage::database& db() { return *db_; }
  // Module stores run their SQL here (storage/sqlite.hpp: run(), read(), migrations); every
  // module keeps its own store interface so that other backends can implement it.
  storage::sqlite_database& sqlite() { return *db_; }
  // Registers a module's schema steps; call from module::start().
  void add_migrations(std::vector<storage::migration> m);
  session_manager& sessions() { return sessions_; }
  iq_table& iq() { return iq_; }
  disco_registry& disco() { return disco_; }
  // XEP-0386 Bind 2 inline features (carbons, stream management, ...): core/bind2_registry.hpp.
  bind2_registry& bind2() { return bind2_; }
  // XEP-0388 SASL2 extensions (inline features, module mechanisms): core/sasl2_registry.hpp.
  sasl2_registry& sasl2() { return sasl2_; }
  server_hooks& hooks() { return hooks_; }
  net::tls_store& tls() { return tls_; }
  // Federation: outgoing streams, dialback, peer certificates (core/s2s_manager.hpp).
  s2s_manager& s2s() { return *s2s_; }
  // The network thread for a new connection (round robin), e.g. an outgoing s2s stream.
  boost::asio::io_context& next_context() { return io_->next(); }
  rate_limiter& auth_failures_ip() { return auth_fail_ip_; }
  rate_limiter& auth_failures_account() { return auth_fail_account_; }
  rate_limiter& registrations_ip() { return registrations_ip_; }
  std::chrono::system_clock::time_point started_at() const { return started_at_; }

  void add_feature(feature_provider p) { features_.push_back(std::move(p)); }
  const std::vector<feature_provider>& features() const { return features_; }

  // Routes a stanza whose 'from' is set (RFC 6120 §10): to local sessions, to the server's
  // handlers, or back as an error. `origin` is the sending session, if local.
  boost::asio::awaitable<void> route(xml::element stanza, c2s_session* origin);
  // The same for a caller that has already parsed the stanza's 'from' and 'to' attributes
  // (c2s intake): `from`/`to` must be exactly what they say.
  boost::asio::awaitable<void> route(xml::element stanza, c2s_session* origin, jid from, std::optional<jid> to);
  // Sends an IQ get/set from the server (its 'from' a local host JID, or a local account's bare
  // JID when the server acts for the account, as in XEP-0357) to a local full JID and waits for
  // the result or error, or nullopt after `timeout` (used e.g. for XEP-0115 caps queries).
  boost::asio::awaitable<std::optional<xml::element>> request(xml::element iq, std::chrono::milliseconds timeout);
  // Sends the answer to an IQ request back to its sender.
  void reply(iq_request& req, const xml::element& r);
  // Sends a stanza to the local session holding full JID `to`; false if none. A JID at a
  // remote domain goes to federation instead (true: accepted for delivery), so that replies
  // and errors that modules send this way reach remote senders too.
  bool deliver_to_full(const jid& to, const xml::element& stanza);

  // Runs CPU-heavy work (PBKDF2) on the worker pool and resumes on the caller's executor.
  // (No coroutine lambda with captures here: GCC 12 mis-handles their closure lifetime.)
  template <class F>
  auto offload(F f) -> boost::asio::awaitable<decltype(f())> {
    using R = decltype(f());
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr, R)>(
        [this](auto handler, F fn) {
          boost::asio::post(cpu_pool_, [handler = std::move(handler), fn = std::move(fn)]() mutable {
            std::exception_ptr error;
            R result{};
            try {
              result = fn();
            } catch (...) {
              error = std::current_exception();
            }
            auto ex = boost::asio::get_associated_executor(handler);
            boost::asio::dispatch(ex, [handler = std::move(handler), error, result = std::move(result)]() mutable {
              std::move(handler)(error, std::move(result));
            });
          });
        },
        boost::asio::use_awaitable, std::move(f));
  }

  // Runs `work` on `ex` like co_spawn(ex, work, detached), as work that a graceful shutdown
  // waits for: modules hand stanzas they accepted to their own threads with it (a deferred
  // privacy decision, an inbound subscription request that must be stored, RFC 6121 §3.1.3).
  // `ex`: an executor or an execution context (a module's thread_pool).
  template <class Executor>
  void spawn(Executor&& ex, boost::asio::awaitable<void> work) {
    boost::asio::co_spawn(std::forward<Executor>(ex), std::move(work), [t = work_token(in_flight_)](std::exception_ptr) {});
  }
  // Work started with spawn() and not yet finished.
  int64_t work_in_flight() const { return in_flight_.load(std::memory_order_acquire); }

  // Live client connections, for shutdown() (c2s_session::start() and its destructor).
  void c2s_started(c2s_session* s);
  void c2s_ended(c2s_session* s);

  // Connection accounting per IP (limits.max_connections_per_ip).
  bool connection_opened(const std::string& ip);
  void connection_closed(const std::string& ip);

 private:
  // Counts one spawn()ed work in in_flight_ for as long as it lives (the completion handler
  // holds it, so work that never completes is uncounted when its pool drops it).
  class work_token {
   public:
    explicit work_token(std::atomic<int64_t>& n) : n_(&n) { n.fetch_add(1, std::memory_order_acq_rel); }
    work_token(work_token&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
    work_token(const work_token&) = delete;
    work_token& operator=(const work_token&) = delete;
    work_token& operator=(work_token&&) = delete;
    ~work_token() {
      if (n_) n_->fetch_sub(1, std::memory_order_acq_rel);
    }

   private:
    std::atomic<int64_t>* n_;
  };

  boost::asio::awaitable<void> accept_loop(const config::listener& l);
  boost::asio::awaitable<void> graceful_shutdown();
  boost::asio::awaitable<void> route_iq(xml::element stanza, c2s_session* origin, const jid& from,
                                        const jid& to);

  config::server_config cfg_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int64_t> in_flight_{0};
  live_set<c2s_session> live_c2s_;
  // The listeners' acceptors, touched only on io_->at(0) (the accept loops' thread).
  std::vector<boost::asio::ip::tcp::acceptor*> acceptors_;
  std::unique_ptr<net::io_pool> io_;
  boost::asio::thread_pool cpu_pool_;
  net::tls_store tls_;
  std::unique_ptr<s2s_manager> s2s_;
  std::unique_ptr<storage::sqlite_database> db_;
  std::vector<storage::migration> migrations_;
  session_manager sessions_;
  iq_table iq_;
  disco_registry disco_;
  bind2_registry bind2_;
  sasl2_registry sasl2_;
  server_hooks hooks_;
  std::vector<feature_provider> features_;
  std::vector<std::unique_ptr<module>> modules_;
  rate_limiter auth_fail_ip_;
  rate_limiter auth_fail_account_;
  rate_limiter registrations_ip_;
  struct pending_iq;
  std::mutex pending_mutex_;
  std::unordered_map<std::string, std::shared_ptr<pending_iq>> pending_iqs_;
  // Completes a request() waiting for this result/error; false if nobody waits for it.
  bool complete_request(const xml::element& stanza);
  std::mutex conn_mutex_;
  std::unordered_map<std::string, uint32_t> conns_per_ip_;
  std::chrono::system_clock::time_point started_at_;
};

// Answers an IQ request with a stanza error (RFC 6120 §8.3), carrying the legacy code.
inline void reply_error(iq_request& req, stanza_condition c, std::string_view text = {}) {
  req.srv.reply(req, make_error_reply(req.stanza, c, {}, text));
}

}  // namespace starling
