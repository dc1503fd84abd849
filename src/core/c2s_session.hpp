#pragma once
// A client-to-server stream (RFC 6120): stream negotiation (STARTTLS, SASL, resource binding),
// then stanzas. One coroutine reads and processes input in order; output is appended to a
// buffer that a writer coroutine drains, so many stanzas produced together go out in one write.
// All state is touched only on the session's own io_context thread.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/sm_queue.hpp"
#include "core/stanza.hpp"
#include "jid/jid.hpp"
#include "net/connection.hpp"
#include "sasl/scram.hpp"
#include "xml/stream_parser.hpp"

namespace starling {

class server;

class c2s_session : public std::enable_shared_from_this<c2s_session>, private xml::stream_handler {
 public:
  c2s_session(server& srv, boost::asio::ip::tcp::socket socket, bool direct_tls);
  ~c2s_session() override;

  void start();

  // --- any thread ---
  // Queues a stanza for this client (posted to the session's thread).
  void deliver(xml::element stanza);
  // Ends the stream with a stream error from another thread (e.g. <conflict/> on replace).
  void kick(stream_condition c, std::string text = {});
  // Server shutdown (server::shutdown()): <system-shutdown/> and the session ends without
  // waiting for the client's closing tag; a hibernated XEP-0198 session ends now.
  void shut_down();
  boost::asio::any_io_executor executor() const { return executor_; }

  // --- session thread only ---
  // Sends an element. Stanzas pass the outbound_stanza hook (XEP-0352 may hold them back) and
  // stream management (XEP-0198: counted and kept until acknowledged); after a resumption on
  // another connection they are forwarded to the new session.
  void send(const xml::element& stanza);
  // A stanza past the outbound_stanza hook, e.g. released by a module that held it back.
  void send_now(const xml::element& stanza);
  void send_raw(std::string_view text);
  // Sends the stream error (if any) and </stream:stream>, then closes after the peer's close
  // or limits.close_timeout (RFC 6120 §4.4).
  void close(std::optional<stream_condition> error = {}, std::string_view text = {});

  server& srv() { return srv_; }
  bool is_tls() const { return conn_.is_tls(); }
  bool is_authenticated() const { return authenticated_; }
  bool is_bound() const { return bound_; }
  bool is_closing() const { return closing_; }
  // XEP-0198: the connection dropped and the session waits to be resumed. It is still bound
  // and available; stanzas are queued.
  bool is_hibernated() const { return hibernated_; }
  bool sm_enabled() const { return sm_ != nullptr; }
  const std::string& host() const { return host_; }          // the domain the client asked for
  const jid& full_jid() const { return jid_; }                // user@host/resource once bound
  jid bare_jid() const { return jid_.bare(); }                // user@host once authenticated
  const std::string& remote_ip() const { return conn_.remote_ip(); }
  const std::string& stream_id() const { return stream_id_; }
  net::connection& connection() { return conn_; }

  // XEP-0198 §3: enables stream management on this bound session as <enable/> asks and
  // returns the answer (<enabled/> or <failed/>) without sending it, so that XEP-0386 Bind2
  // can put it inside <bound/>; on a plain stream the core sends it.
  xml::element enable_sm(const xml::element& enable);

  // Authentication done (SASL or XEP-0078): the session now belongs to `user`@host.
  void set_authenticated(const std::string& user);
  // Resource binding (RFC 6120 §7): enforces/generates the resource, applies the conflict
  // policy, registers the session. Returns the error condition on failure.
  std::optional<stanza_condition> bind(std::string_view requested);

  // SASL2 (XEP-0388): the client's <user-agent/>, kept for the session's lifetime (Bind 2
  // and FAST key on its id). Set before binding and never changed after, so other sessions
  // may read it once they found this one through the session manager.
  struct user_agent_info {
    std::string id;        // UUID v4 as sent, empty if none
    std::string software;  // free text, never shown to other entities (XEP-0388 §2.3)
    std::string device;
  };
  const user_agent_info& user_agent() const { return user_agent_; }
  // Channel-binding types offered on this connection (XEP-0440) and their data.
  std::vector<std::string> offered_cb_types() const;
  std::optional<std::string> channel_binding(std::string_view type) const;

  // Per-module state (ARCHITECTURE.md: typed slots, not shared fields).
  template <class T>
  T& slot() {
    const size_t id = slot_id<T>();
    if (slots_.size() <= id) slots_.resize(id + 1);
    if (!slots_[id]) slots_[id] = std::make_unique<holder<T>>();
    return static_cast<holder<T>*>(slots_[id].get())->value;
  }

 private:
  struct slot_base {
    virtual ~slot_base() = default;
  };
  template <class T>
  struct holder : slot_base {
    T value{};
  };
  static size_t next_slot_id();
  template <class T>
  static size_t slot_id() {
    static const size_t id = next_slot_id();
    return id;
  }

  // xml::stream_handler: queue parser events; they are processed in order after feed().
  void on_stream_open(xml::stream_header header) override;
  void on_element(xml::element el) override;
  void on_stream_close() override;
  void on_parse_error(xml::parse_error err, std::string_view detail) override;

  boost::asio::awaitable<void> run();
  void schedule_write();  // out_ has data: write it once the current handler is done
  void write_out();       // the posted write of out_ (see schedule_write)
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> flush();
  boost::asio::awaitable<void> linger();
  boost::asio::awaitable<void> pause_reading(double seconds);  // traffic shaping
  // Idle handling on idle_timer_ (a plain callback, no coroutine frame): closes the stream
  // after limits.idle_timeout and frees per-stream memory after limits.idle_release_delay.
  void note_activity();
  void arm_idle_timer(std::chrono::steady_clock::time_point at);
  void on_idle_timer();
  void release_idle_memory();
  void drop_events() {
    events_.clear();
    events_head_ = 0;
  }
  boost::asio::awaitable<void> handle_header(const xml::stream_header& h);
  boost::asio::awaitable<void> handle_element(xml::element el);
  boost::asio::awaitable<void> handle_starttls();
  boost::asio::awaitable<void> handle_sasl(xml::element el);
  boost::asio::awaitable<void> handle_sasl2(xml::element el);  // c2s_sasl2.cpp
  boost::asio::awaitable<void> handle_stanza(xml::element el);
  boost::asio::awaitable<void> handle_bind(xml::element iq);
  void send_features();
  xml::element features();  // <stream:features/> for the current stage (RFC 6120 §4.3.2)
  // XEP-0198 (c2s_sm.cpp).
  boost::asio::awaitable<void> handle_sm(xml::element el);
  void sm_enable(const xml::element& el);
  void sm_ack(const xml::element& el);
  boost::asio::awaitable<void> sm_resume(xml::element el);
  void sm_failed(stanza_condition c, std::optional<uint32_t> h = {});
  void sm_track(const xml::element& stanza);
  void write_stanza(const xml::element& stanza);
  bool can_hibernate() const;
  void hibernate();
  void expire();
  void dispose_unacked();
  struct handover;
  std::unique_ptr<handover> hand_over(std::shared_ptr<c2s_session> successor);
  void restart_stream();
  std::vector<std::string> offered_mechanisms() const;
  void add_sasl2_feature(xml::element& features);  // c2s_sasl2.cpp

  // One SASL exchange shared by both profiles (RFC 6120 §6 and XEP-0388): the profile code
  // decodes its elements, calls sasl_begin()/sasl_continue(), and renders the outcome.
  struct sasl_outcome {
    enum class kind { challenge, success, failure } what = kind::failure;
    std::string data;  // challenge, or additional data with success (raw bytes)
    sasl::failure condition = sasl::failure::not_authorized;
    std::string text;
  };
  boost::asio::awaitable<sasl_outcome> sasl_begin(std::string mechanism, std::optional<std::string> initial,
                                                  std::vector<std::string> advertised, bool initial_malformed = false);
  boost::asio::awaitable<sasl_outcome> sasl_continue(std::string data);
  // Logs the failed attempt, ends the exchange, counts it against the per-stream retries.
  sasl_outcome sasl_failed(sasl::failure f, std::string text = {});
  void sasl_send_failure(const sasl_outcome& o, std::string_view ns);
  // RFC 6120 §6.4.5: too many failures on this stream end it.
  void sasl_check_retries(sasl::failure f);
  void send_held_output();
  // Ends the session and closes the connection; `last` is written just before the TLS
  // close_notify (net::connection::close).
  void finish(std::string_view last = {});

  server& srv_;
  boost::asio::any_io_executor executor_;
  net::connection conn_;
  bool direct_tls_;
  xml::stream_parser parser_;
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer flush_timer_;

  using event = std::variant<xml::stream_header, xml::element, xml::parse_error, std::monostate>;
  // Parser events of the current read, processed in order from events_head_. A vector rather
  // than a deque: an empty std::deque still holds a 512-byte node, and this one is emptied
  // (capacity kept while busy, freed when idle) after every read.
  std::vector<event> events_;
  size_t events_head_ = 0;
  std::string parse_error_detail_;

  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  bool idle_armed_ = false;    // a wait on idle_timer_ is pending
  bool release_due_ = false;   // input arrived since the last release_idle_memory()
  std::string out_;
  bool writing_ = false;
  bool header_sent_ = false;
  bool stream_open_ = false;  // a client header was received on the current stream
  bool legacy_stream_ = false;  // no version attribute (pre-RFC 3920 client)
  bool restart_pending_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool authenticated_ = false;
  bool bound_ = false;
  std::string host_;
  std::string stream_id_;
  std::string lang_;
  jid jid_;

  // SASL exchange in progress (RFC 6120 §6.4).
  struct sasl_state {
    std::string mechanism;
    std::optional<sasl::scram_server> scram;
    std::string username;
    std::vector<std::string> advertised;  // the profile's mechanism list (XEP-0474 'h')
  };
  // Only during the exchange: on the heap, so that a bound session does not carry ~700 bytes
  // of SCRAM state.
  std::unique_ptr<sasl_state> sasl_;
  bool sasl2_ = false;  // the exchange in progress uses XEP-0388 elements
  std::unique_ptr<xml::element> sasl2_request_;  // the client's <authenticate/> (inline requests)
  user_agent_info user_agent_;
  // While a SASL2 success is being put together the session is already bound, but nothing may
  // reach the client before <success/> (XEP-0388 §2.6): stanzas delivered meanwhile wait here.
  bool hold_output_ = false;
  std::string held_output_;
  unsigned sasl_failures_ = 0;

  std::vector<std::unique_ptr<slot_base>> slots_;

  // XEP-0198 Stream Management (c2s_sm.cpp).
  std::unique_ptr<sm_state> sm_;
  bool hibernated_ = false;
  bool resuming_ = false;                   // <resume/> waits for the old session's state
  bool conn_counted_ = true;                // connection_closed() not yet called
  std::vector<xml::element> held_;          // stanzas that arrived while resuming
  std::shared_ptr<c2s_session> successor_;  // the session that resumed this one
  boost::asio::steady_timer hibernate_timer_;
};

}  // namespace starling
