#pragma once
// A TCP connection that may be upgraded to TLS (STARTTLS, RFC 6120 §5) or start in TLS
// (XEP-0368 direct TLS). TLS runs on OpenSSL directly over the non-blocking socket instead of
// asio::ssl::stream: that avoids asio's two fixed 17 KiB record buffers per stream, so an
// idle session costs only OpenSSL's own state (buffers released with SSL_MODE_RELEASE_BUFFERS).
// Reads and writes may be in flight at the same time from two coroutines on the owning
// io_context; OpenSSL is only entered from that one thread.
//
// Client streams on TLS 1.3 go one step further (tls_accept with user_space_records): once
// OpenSSL's handshake is done, the traffic secrets move to net/tls_record (a user-space
// stand-in for kernel TLS, which this kernel lacks) and the SSL object is freed, so an idle
// session keeps a few hundred bytes of TLS state instead of OpenSSL's ~14 KiB.
#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace starling::net {

class tls13_record_layer;

template <class T>
using awaitable = boost::asio::awaitable<T>;

class connection {
 public:
  explicit connection(boost::asio::ip::tcp::socket socket);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Server-side TLS handshake with the given context (SNI may switch it). Returns an error
  // code on failure (the caller closes). With user_space_records (client streams), a TLS 1.3
  // connection with an AES-GCM or ChaCha20-Poly1305 suite continues on net/tls_record and the
  // SSL object is freed; anything else stays on OpenSSL.
  awaitable<boost::system::error_code> tls_accept(SSL_CTX* ctx, bool user_space_records = false);
  // The same, asking the peer for a certificate that is accepted whatever it is: server-to-
  // server streams check it afterwards against the peer's domain (XEP-0178, RFC 6125).
  awaitable<boost::system::error_code> tls_accept_with_peer_certificate(SSL_CTX* ctx);
  // Client-side TLS handshake (outgoing s2s), sending `server_name` as SNI. The peer's
  // certificate is not checked here; the caller decides what a failed check means.
  awaitable<boost::system::error_code> tls_connect(SSL_CTX* ctx, const std::string& server_name);
  bool is_tls() const { return (ssl_ != nullptr && handshake_done_) || records_ != nullptr; }
  // The OpenSSL object while OpenSSL carries the connection; nullptr after a handover to the
  // user-space record layer (use the accessors below for what a client stream needs).
  SSL* ssl() const { return ssl_; }
  bool user_space_records() const { return records_ != nullptr; }
  // RFC 9266 tls-exporter channel binding (32 bytes, label "EXPORTER-Channel-Binding", no
  // context); only for TLS 1.3 (nullopt otherwise, and false from tls_exporter_available()).
  bool tls_exporter_available() const;
  std::optional<std::string> tls_exporter() const;
  // Our certificate on this connection (the SNI-selected one), for tls-server-end-point.
  const X509* own_certificate() const;

  // Reads at least one byte (fewer than buf.size()); returns 0 with ec on EOF/error.
  awaitable<size_t> read_some(std::span<char> buf, boost::system::error_code& ec);
  // Writes all bytes (and first whatever try_write() left queued).
  awaitable<void> write_all(std::string_view data, boost::system::error_code& ec);
  // User-space TLS records only: seals `data` and writes what the socket takes at once,
  // without a coroutine; the rest stays queued in the connection for write_all() (which may be
  // called with no data to drain it). Returns true when nothing is left queued.
  bool try_write(std::string_view data, boost::system::error_code& ec);
  // Sealed records try_write() left for write_all() (the socket did not take them).
  bool has_queued_output() const { return write_queue_pos_ < write_queue_.size(); }

  // Sends TLS close_notify (best effort) and shuts the socket down. `last` (e.g. a closing
  // </stream:stream>) goes out first, in the same write as the close_notify when the user-space
  // record layer carries the stream; also best effort: a socket that cannot take it now is not
  // waited for (use write_all() for data that must arrive).
  void close(std::string_view last = {});
  bool is_open() const { return socket_.is_open(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  const std::string& remote_ip() const { return remote_ip_; }

 private:
  awaitable<boost::system::error_code> handshake();
  awaitable<size_t> read_records(std::span<char> buf, boost::system::error_code& ec);
  awaitable<void> write_records(std::string_view data, boost::system::error_code& ec);
  // Writes what the socket takes now without waiting; returns the byte count.
  size_t write_now(const char* p, size_t n, boost::system::error_code& ec);
  // Records the read side must send (KeyUpdate, alerts): behind anything still queued.
  void send_control(const std::string& records);
  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  bool handshake_done_ = false;
  bool read_drained_ = false;  // user-space records: the last read emptied the socket
  std::string remote_ip_;
  // User-space TLS 1.3 (after a handover). Both strings are empty (no allocation) while idle:
  // read_plain_ holds opened data the caller's buffer could not take, write_queue_ protected
  // records the socket did not take yet (record order is fixed when they are sealed).
  std::unique_ptr<tls13_record_layer> records_;
  X509* own_cert_ = nullptr;
  std::string read_plain_;
  std::string write_queue_;
  size_t write_queue_pos_ = 0;
};

}  // namespace starling::net
