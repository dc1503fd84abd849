#pragma once
// A TCP connection that may be upgraded to TLS (STARTTLS, RFC 6120 §5) or start in TLS
// (XEP-0368 direct TLS). TLS runs on OpenSSL directly over the non-blocking socket instead of
// asio::ssl::stream: that avoids asio's two fixed 17 KiB record buffers per stream, so an
// idle session costs only OpenSSL's own state (buffers released with SSL_MODE_RELEASE_BUFFERS).
// Reads and writes may be in flight at the same time from two coroutines on the owning
// io_context; OpenSSL is only entered from that one thread.
#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <span>
#include <string>
#include <string_view>

namespace starling::net {

template <class T>
using awaitable = boost::asio::awaitable<T>;

class connection {
 public:
  explicit connection(boost::asio::ip::tcp::socket socket);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Server-side TLS handshake with the given context (SNI may switch it). Returns an error
  // code on failure (the caller closes).
  awaitable<boost::system::error_code> tls_accept(SSL_CTX* ctx);
  // The same, asking the peer for a certificate that is accepted whatever it is: server-to-
  // server streams check it afterwards against the peer's domain (XEP-0178, RFC 6125).
  awaitable<boost::system::error_code> tls_accept_with_peer_certificate(SSL_CTX* ctx);
  // Client-side TLS handshake (outgoing s2s), sending `server_name` as SNI. The peer's
  // certificate is not checked here; the caller decides what a failed check means.
  awaitable<boost::system::error_code> tls_connect(SSL_CTX* ctx, const std::string& server_name);
  bool is_tls() const { return ssl_ != nullptr && handshake_done_; }
  SSL* ssl() const { return ssl_; }

  // Reads at least one byte (fewer than buf.size()); returns 0 with ec on EOF/error.
  awaitable<size_t> read_some(std::span<char> buf, boost::system::error_code& ec);
  // Writes all bytes.
  awaitable<void> write_all(std::string_view data, boost::system::error_code& ec);

  // Sends TLS close_notify (best effort) and shuts the socket down.
  void close();
  bool is_open() const { return socket_.is_open(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  const std::string& remote_ip() const { return remote_ip_; }

 private:
  awaitable<boost::system::error_code> handshake();
  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  bool handshake_done_ = false;
  std::string remote_ip_;
};

}  // namespace starling::net
