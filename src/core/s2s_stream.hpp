#pragma once
// One server-to-server stream (RFC 6120 §4, namespace jabber:server), incoming or outgoing.
// Like c2s_session: one coroutine reads and processes input in order, output is buffered and
// drained by a writer coroutine, all state is touched only on the stream's io_context thread.
//
// Outgoing (we are the Initiating Server for local -> remote): connect, STARTTLS (or direct
// TLS, XEP-0368), then SASL EXTERNAL when the peer offers it (XEP-0178), else Server Dialback
// (XEP-0220). Stanzas wait in a queue until the domain pair is authenticated and are bounced
// if that fails. The stream also carries our <db:verify/> requests for incoming streams.
// Incoming (we are the Receiving and Authoritative Server): STARTTLS, SASL EXTERNAL when the
// peer's certificate is valid for the domain it claims, dialback requests verified over our
// own outgoing stream to the claimed domain, <db:verify/> answered, stanzas accepted only from
// authenticated domains to local ones.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/s2s_dialback.hpp"
#include "core/stanza.hpp"
#include "net/connection.hpp"
#include "xml/stream_parser.hpp"

namespace starling {

class server;
class s2s_manager;

// Stanza elements inheriting an s2s stream's default namespace arrive in jabber:server; inside
// the server stanzas are jabber:client (RFC 6120 §4.8.3: the same vocabulary), so modules see
// one namespace whatever stream a stanza came from.
void to_client_namespace(xml::element& e);

class s2s_stream : public std::enable_shared_from_this<s2s_stream>, private xml::stream_handler {
 public:
  using verify_callback = std::function<void(dialback_outcome)>;

  // Incoming, from a listener.
  s2s_stream(s2s_manager& mgr, boost::asio::ip::tcp::socket socket, bool direct_tls);
  // Outgoing from `local` to `remote`, on executor `ex`.
  s2s_stream(s2s_manager& mgr, boost::asio::any_io_executor ex, std::string local, std::string remote);
  ~s2s_stream() override;

  void start();

  // --- any thread ---
  // Outgoing: sends the stanza once the domain pair is authenticated (queued until then).
  // A bounce goes to `bounce_to` if set (the sending session's full JID), else to 'from'.
  void enqueue(xml::element stanza, std::string bounce_to = {});
  // Outgoing: sends <db:verify/> for an incoming stream once this stream may carry it.
  void request_verify(std::string id, std::string key, verify_callback done);
  // Server shutdown: ends the stream with <system-shutdown/> (RFC 6120 §4.9.3.19) without
  // waiting for the peer's closing tag.
  void shutdown();
  boost::asio::any_io_executor executor() const { return executor_; }

 private:
  using event = std::variant<xml::stream_header, xml::element, xml::parse_error, std::monostate>;

  void on_stream_open(xml::stream_header header) override;
  void on_element(xml::element el) override;
  void on_stream_close() override;
  void on_parse_error(xml::parse_error err, std::string_view detail) override;

  boost::asio::awaitable<void> run();
  boost::asio::awaitable<bool> connect();
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> flush();
  boost::asio::awaitable<void> linger();
  boost::asio::awaitable<void> idle_watch();

  // Incoming side (s2s_in.cpp).
  void in_header(const xml::stream_header& h);
  boost::asio::awaitable<void> in_element(xml::element el);
  boost::asio::awaitable<void> in_starttls();
  void in_sasl(const xml::element& el);
  void in_db_result(const xml::element& el);
  void in_db_verify(const xml::element& el);
  void in_features();
  void dialback_done(std::string remote, std::string local, dialback_outcome outcome);
  void in_authenticated(const std::string& remote, const std::string& local);

  // Outgoing side (s2s_out.cpp).
  void send_header();
  void out_header(const xml::stream_header& h);
  boost::asio::awaitable<void> out_element(xml::element el);
  boost::asio::awaitable<void> out_features(const xml::element& features);
  void out_authenticated();
  void send_verifies();
  // The outgoing stream failed: bounce queued stanzas with `c`, fail pending verifications.
  void out_fail(stanza_condition c, std::string_view why);

  void send_raw(std::string_view text);
  void send_stanza(const xml::element& stanza);
  void close(std::optional<stream_condition> error = {}, std::string_view text = {});
  void finish();
  void restart();
  bool is_outgoing() const { return outgoing_; }
  const char* dir() const { return outgoing_ ? "s2s out" : "s2s in"; }

  s2s_manager& mgr_;
  server& srv_;
  boost::asio::any_io_executor executor_;
  std::optional<boost::asio::ip::tcp::socket> pending_socket_;  // incoming: until run()
  std::optional<net::connection> conn_;
  bool outgoing_;
  bool direct_tls_ = false;
  xml::stream_parser parser_;
  boost::asio::steady_timer handshake_timer_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer flush_timer_;
  std::deque<event> events_;
  std::string parse_error_detail_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();
  std::string out_;
  std::string peer_ip_;
  bool writing_ = false;
  bool header_sent_ = false;
  bool stream_open_ = false;
  bool restart_pending_ = false;
  bool closing_ = false;
  bool finished_ = false;
  bool tls_ = false;

  // Incoming.
  std::string in_local_;           // our domain the peer addressed in its header
  std::string in_remote_claimed_;  // the 'from' of its header (may be empty)
  std::string stream_id_;          // ours (incoming) or the peer's (outgoing)
  std::set<std::string> authenticated_;  // remote domains allowed as 'from' (incoming)
  std::set<std::string> dialback_pending_;  // "remote\nlocal" being verified
  bool sasl_done_ = false;
  bool bidi_ = false;  // XEP-0288 enabled on this stream (by the peer, or by us outgoing)

  // Outgoing.
  std::string local_, remote_;
  bool out_authenticated_ = false;
  bool ready_for_verify_ = false;  // TLS done (or not required): <db:verify/> may be sent
  bool sasl_tried_ = false;
  bool dialback_sent_ = false;
  bool was_authenticated_ = false;
  struct queued {
    xml::element stanza;
    std::string bounce_to;
  };
  std::deque<queued> queue_;
  struct pending_verify {
    std::string id, key;
    verify_callback done;
    bool sent = false;
  };
  std::vector<pending_verify> verifies_;
  std::optional<stanza_condition> failed_;
};

}  // namespace starling
