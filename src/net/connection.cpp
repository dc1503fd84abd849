#include "net/connection.hpp"

#include <openssl/err.h>

#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace starling::net {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// Waits until the socket is ready for what OpenSSL asked for.
awaitable<error_code> wait_for(asio::ip::tcp::socket& s, int ssl_error) {
  error_code ec;
  auto what = ssl_error == SSL_ERROR_WANT_WRITE ? asio::ip::tcp::socket::wait_write
                                                : asio::ip::tcp::socket::wait_read;
  co_await s.async_wait(what, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

error_code ssl_failure() {
  ERR_clear_error();
  return asio::error::make_error_code(asio::error::connection_aborted);
}
}  // namespace

connection::connection(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) remote_ip_ = ep.address().to_string();
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
}

connection::~connection() {
  if (ssl_) SSL_free(ssl_);
}

awaitable<error_code> connection::tls_accept(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1)
    co_return ssl_failure();
  SSL_set_accept_state(ssl_);
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) break;
    int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) co_return ssl_failure();
    if (auto ec = co_await wait_for(socket_, err)) co_return ec;
  }
  handshake_done_ = true;
  co_return error_code{};
}

awaitable<error_code> connection::tls_accept_with_peer_certificate(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1) co_return ssl_failure();
  // Ask for a certificate, but keep the handshake going whatever it is: verification happens
  // against the domain the peer claims, which is only known from its stream header.
  SSL_set_verify(ssl_, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  SSL_set_accept_state(ssl_);
  co_return co_await handshake();
}

awaitable<error_code> connection::tls_connect(SSL_CTX* ctx, const std::string& server_name) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1) co_return ssl_failure();
  if (!server_name.empty()) SSL_set_tlsext_host_name(ssl_, server_name.c_str());
  SSL_set_connect_state(ssl_);
  co_return co_await handshake();
}

awaitable<error_code> connection::handshake() {
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) break;
    int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) co_return ssl_failure();
    if (auto ec = co_await wait_for(socket_, err)) co_return ec;
  }
  handshake_done_ = true;
  co_return error_code{};
}

awaitable<size_t> connection::read_some(std::span<char> buf, error_code& ec) {
  ec = {};
  for (;;) {
    if (ssl_) {
      ERR_clear_error();
      size_t n = 0;
      int r = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
      if (r == 1) co_return n;
      int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_ZERO_RETURN) {
        ec = asio::error::eof;
        co_return 0;
      }
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        ec = err == SSL_ERROR_SYSCALL ? asio::error::make_error_code(asio::error::eof) : ssl_failure();
        ERR_clear_error();
        co_return 0;
      }
      if ((ec = co_await wait_for(socket_, err))) co_return 0;
    } else {
      size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        if ((ec = co_await wait_for(socket_, SSL_ERROR_WANT_READ))) co_return 0;
        continue;
      }
      co_return n;
    }
  }
}

awaitable<void> connection::write_all(std::string_view data, error_code& ec) {
  ec = {};
  while (!data.empty()) {
    if (ssl_) {
      ERR_clear_error();
      size_t n = 0;
      int r = SSL_write_ex(ssl_, data.data(), data.size(), &n);
      if (r == 1) {
        data.remove_prefix(n);
        continue;
      }
      int err = SSL_get_error(ssl_, r);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        ec = ssl_failure();
        co_return;
      }
      if ((ec = co_await wait_for(socket_, err))) co_return;
    } else {
      size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        if ((ec = co_await wait_for(socket_, SSL_ERROR_WANT_WRITE))) co_return;
        continue;
      }
      if (ec) co_return;
      data.remove_prefix(n);
    }
  }
}

void connection::close() {
  if (ssl_ && handshake_done_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // best effort on a non-blocking socket
    ERR_clear_error();
  }
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace starling::net
