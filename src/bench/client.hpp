#pragma once
// One XMPP client connection of the load generator: TCP, TLS through OpenSSL memory BIOs
// (so that all socket I/O stays on Asio's reactor), the stream split into top-level elements by
// stream_splitter (no DOM: the generator reads ids and types straight from the raw bytes).
// Kept small because the idle scenario holds thousands of them: a 1 KiB receive buffer per
// connection (anything beyond it is read through one buffer per thread), no per-connection
// coroutine for writes unless the kernel buffer is full.
#include <openssl/ssl.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "bench/scan.hpp"
#include "sasl/scram.hpp"

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

// TLS client context, one per process and shared by every connection: verification off
// (benchmarks run against self-signed test servers), TLS 1.2+, no session tickets or cache, so
// every login pays a full handshake as a new client would (the reference figures are for full
// handshakes; resumption would flatter every server alike and hide the handshake's cost).
// `legacy_ec`: read EC certificate keys and check ECDSA signatures with OpenSSL's legacy EC
// code instead of its provider decoders (much cheaper per handshake on OpenSSL 3.0; see
// client.cpp). Process-wide once set.
SSL_CTX* make_client_tls_context(bool legacy_ec = true);

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
  // `el` is the raw element (see scan.hpp raw:: helpers), valid during the call.
  virtual void on_stanza(class xmpp_client& c, std::string_view el) = 0;
};

class xmpp_client : public std::enable_shared_from_this<xmpp_client> {
 public:
  xmpp_client(asio::io_context& io, const target& t, SSL_CTX* ctx);
  ~xmpp_client();

  // Full login: connect, STARTTLS / direct TLS, SASL SCRAM, bind, session (if advertised and not
  // optional), roster get, initial presence and a ping whose answer shows the server has done
  // the presence broadcast (RFC 6121 §4.2.2). False with error() set on failure.
  asio::awaitable<bool> login(account& acct, std::string resource);
  // XEP-0077 in-band registration on a fresh connection (after STARTTLS). An existing
  // account (<conflict/>) counts as success.
  asio::awaitable<bool> register_account(const account& acct);
  // Sends </stream:stream>, waits briefly for the server's close, then closes the socket.
  asio::awaitable<void> close_stream();
  // Reads until the connection ends, handing each stanza to the sink.
  asio::awaitable<void> read_loop(stanza_sink* sink);
  // Sends an IQ (with id='id') and waits for its result or error (stanzas in between are
  // skipped); `reply` receives the raw answer. Not while read_loop() runs.
  asio::awaitable<bool> request(std::string_view stanza, std::string_view id, std::string* reply,
                                bool error_ok = false);
  // Waits for the next element (not while read_loop() runs); false on error or timeout.
  asio::awaitable<bool> receive(std::string& el);
  // Per-operation deadline for request()/receive() outside login (milliseconds).
  void arm_timeout() { arm_deadline(); }
  void disarm_timeout() { disarm_deadline(); }
  // Closes the socket at once (no stream close).
  void abort();

  // Queues bytes (encrypted when TLS is on) and writes them without waiting.
  void send(std::string_view data);

  const std::string& error() const { return error_; }
  const std::string& jid() const { return jid_; }
  size_t roster_items() const { return roster_items_; }
  bool is_open() const { return sock_.is_open() && !failed_; }
  void* user_data = nullptr;

 private:
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
  bool take(const char* data, size_t n);
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
  // Target of the asynchronous receive: big enough for one routed message (so a message costs
  // one receive), small enough for tens of thousands of idle sessions (1 KiB each).
  static constexpr size_t receive_bytes = 1024;
  std::unique_ptr<char[]> rbuf_;
  stream_splitter splitter_;
  std::deque<std::string> queue_;  // elements received while no sink is set
  std::string el_;
  std::string features_;
  std::string out_;
  std::string jid_;
  std::string error_;
  size_t roster_items_ = 0;
  stanza_sink* sink_ = nullptr;
  bool writing_ = false;
  bool header_seen_ = false;
  bool closed_ = false;
  bool failed_ = false;
};

}  // namespace starling::bench
