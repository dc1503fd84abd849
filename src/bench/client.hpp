#pragma once
// One XMPP client connection of the load generator: TCP, TLS through OpenSSL memory BIOs
// (so that all socket I/O stays on Asio's reactor), the stream parsed with xml::stream_parser.
// Kept small because the idle scenario holds thousands of them: no per-connection read buffer
// (reads go through one buffer per thread after the socket reports readability), no
// per-connection coroutine for writes unless the kernel buffer is full.
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "sasl/scram.hpp"
#include "xml/element.hpp"
#include "xml/stream_parser.hpp"

namespace starling::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

enum class tls_mode { starttls, direct, none };

struct target {
  tcp::endpoint endpoint;
  std::string domain;
  tls_mode tls = tls_mode::starttls;
  std::string mechanism = "SCRAM-SHA-1";
  sasl::hash_alg alg = sasl::hash_alg::sha1;
  std::chrono::milliseconds timeout{10000};  // per login stage
};

// TLS client context: verification off (benchmarks run against self-signed test servers),
// TLS 1.2+, no session tickets or cache, so every login pays a full handshake as a new client.
SSL_CTX* make_client_tls_context();

// What a client keeps per account between logins, as real clients do: the PRECIS-prepared
// password, and the SaltedPassword for the (salt, iterations) the server last announced.
struct account {
  std::string user;  // localpart
  std::string password;
  std::string salt;
  uint32_t iterations = 0;
  std::string salted;
  uint64_t pbkdf2_runs = 0;
};

// Receives stanzas once a session is online (reader mode).
class stanza_sink {
 public:
  virtual ~stanza_sink() = default;
  virtual void on_stanza(class xmpp_client& c, xml::element& el) = 0;
};

class xmpp_client : public std::enable_shared_from_this<xmpp_client>, private xml::stream_handler {
 public:
  xmpp_client(asio::io_context& io, const target& t, SSL_CTX* ctx);
  ~xmpp_client() override;

  // Full login: connect, STARTTLS / direct TLS, SASL SCRAM, bind, session (if advertised),
  // roster get, initial presence. False with error() set on failure.
  asio::awaitable<bool> login(account& acct, std::string resource);
  // XEP-0077 in-band registration on a fresh connection (after STARTTLS). An existing
  // account (<conflict/>) counts as success.
  asio::awaitable<bool> register_account(const account& acct);
  // Sends </stream:stream>, waits briefly for the server's close, then closes the socket.
  asio::awaitable<void> close_stream();
  // Reads until the connection ends, handing each stanza to the sink.
  asio::awaitable<void> read_loop(stanza_sink* sink);
  // Closes the socket at once (no stream close).
  void abort();

  // Queues bytes (encrypted when TLS is on) and writes them without waiting.
  void send(std::string_view data);

  const std::string& error() const { return error_; }
  const std::string& jid() const { return jid_; }
  bool is_open() const { return sock_.is_open() && !failed_; }
  void* user_data = nullptr;

 private:
  // stream_handler
  void on_stream_open(xml::stream_header header) override;
  void on_element(xml::element el) override;
  void on_stream_close() override;
  void on_parse_error(xml::parse_error err, std::string_view detail) override;

  asio::awaitable<bool> connect();
  asio::awaitable<bool> connect_and_secure();
  asio::awaitable<bool> login_steps(account& acct, std::string resource);
  asio::awaitable<bool> register_steps(const account& acct);
  asio::awaitable<bool> tls_handshake();
  asio::awaitable<bool> open_stream();  // header out, header + features in
  asio::awaitable<bool> starttls();
  asio::awaitable<bool> authenticate(account& acct);
  asio::awaitable<bool> next_element();  // into el_
  asio::awaitable<bool> wait_iq(std::string_view id, bool error_ok = false);
  asio::awaitable<bool> read_more();
  asio::awaitable<bool> flush(std::shared_ptr<xmpp_client> self);
  void feed_plain(std::string_view data);
  void drain_tls_output();
  void write_now();
  void arm_deadline();
  void disarm_deadline();
  bool fail(std::string what);

  asio::io_context& io_;
  const target& target_;
  SSL_CTX* ctx_;
  tcp::socket sock_;
  asio::steady_timer deadline_;
  SSL* ssl_ = nullptr;
  BIO* rbio_ = nullptr;  // network -> OpenSSL
  BIO* wbio_ = nullptr;  // OpenSSL -> network
  xml::stream_parser parser_;
  std::deque<xml::element> queue_;
  xml::element el_;
  xml::element features_;
  std::string out_;
  std::string jid_;
  std::string error_;
  stanza_sink* sink_ = nullptr;
  bool writing_ = false;
  bool header_seen_ = false;
  bool closed_ = false;
  bool failed_ = false;
};

}  // namespace starling::bench
