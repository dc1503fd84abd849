#include "net/connection.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstring>

#include "net/tls_record.hpp"

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
  if (own_cert_) X509_free(own_cert_);
}

namespace {
// The key-log callback writes into the coroutine frame of tls_accept: detach it on every way
// out, so a failed handshake leaves no dangling pointer in the SSL.
struct capture_guard {
  SSL* ssl;
  ~capture_guard() {
    if (ssl) tls_capture_secrets(ssl, nullptr);
  }
};
}  // namespace

awaitable<error_code> connection::tls_accept(SSL_CTX* ctx, bool user_space_records) {
  ssl_ = SSL_new(ctx);
  if (!ssl_ || SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle())) != 1)
    co_return ssl_failure();
  SSL_set_accept_state(ssl_);
  tls13_secrets secrets;
  capture_guard guard{user_space_records ? ssl_ : nullptr};
  if (user_space_records) tls_capture_secrets(ssl_, &secrets);
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) break;
    int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) co_return ssl_failure();
    if (auto ec = co_await wait_for(socket_, err)) co_return ec;
  }
  handshake_done_ = true;
  if (user_space_records) {
    // Handover right after the server's handshake completed: OpenSSL wrote nothing under the
    // application keys (no tickets, see tls_prepare_context) and read nothing past the
    // client's Finished (no read-ahead), so both sequence numbers start at 0 and every
    // following byte of the stream is still in the socket for the record layer.
    guard.ssl = nullptr;
    records_ = tls_take_over(ssl_, secrets);
    if (records_) {
      if (X509* cert = SSL_get_certificate(ssl_)) {
        X509_up_ref(cert);
        own_cert_ = cert;
      }
      SSL_free(ssl_);  // the socket BIO does not own the descriptor
      ssl_ = nullptr;
    }
  }
  co_return error_code{};
}

bool connection::tls_exporter_available() const {
  if (records_) return true;  // only TLS 1.3 is ever handed over
  return ssl_ && handshake_done_ && SSL_version(ssl_) == TLS1_3_VERSION;
}

std::optional<std::string> connection::tls_exporter() const {
  // RFC 9266 §2: label "EXPORTER-Channel-Binding", no context (in TLS 1.3 the same as an empty
  // one, RFC 8446 §7.5), 32 bytes.
  static constexpr std::string_view label = "EXPORTER-Channel-Binding";
  if (!tls_exporter_available()) return std::nullopt;
  if (records_) return records_->export_keying_material(label, "", 32);
  std::string out(32, '\0');
  if (SSL_export_keying_material(ssl_, reinterpret_cast<unsigned char*>(out.data()), out.size(), label.data(),
                                 label.size(), nullptr, 0, 0) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  return out;
}

const X509* connection::own_certificate() const {
  if (records_) return own_cert_;
  return ssl_ && handshake_done_ ? SSL_get_certificate(ssl_) : nullptr;
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
  if (records_) co_return co_await read_records(buf, ec);
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
      // Waited for here rather than through wait_for(): an idle session sits in this wait,
      // and a nested coroutine would keep one more frame per session.
      co_await socket_.async_wait(err == SSL_ERROR_WANT_WRITE ? asio::ip::tcp::socket::wait_write
                                                               : asio::ip::tcp::socket::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return 0;
    } else {
      size_t n = socket_.read_some(asio::buffer(buf.data(), buf.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        co_await socket_.async_wait(asio::ip::tcp::socket::wait_read,
                                    asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return 0;
        continue;
      }
      co_return n;
    }
  }
}

awaitable<void> connection::write_all(std::string_view data, error_code& ec) {
  ec = {};
  if (records_) {
    co_await write_records(data, ec);
    co_return;
  }
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

// --- User-space TLS 1.3 records (net/tls_record) -------------------------------------------------

awaitable<size_t> connection::read_records(std::span<char> buf, error_code& ec) {
  // One ciphertext buffer and one plaintext buffer per thread: nothing is kept per session
  // except an incomplete record (inside the record layer) and opened data the caller's buffer
  // had no room for.
  static thread_local char wire[16384];
  static thread_local std::string plain;
  for (;;) {
    if (!read_plain_.empty()) {
      size_t n = std::min(buf.size(), read_plain_.size());
      std::memcpy(buf.data(), read_plain_.data(), n);
      if (n == read_plain_.size())
        std::string().swap(read_plain_);
      else
        read_plain_.erase(0, n);
      co_return n;
    }
    switch (records_->current_state()) {
      case tls13_record_layer::state::open: break;
      case tls13_record_layer::state::closed: ec = asio::error::eof; co_return 0;  // close_notify
      case tls13_record_layer::state::failed:
        ec = asio::error::make_error_code(asio::error::connection_aborted);
        co_return 0;
    }
    if (read_drained_) {
      // The last read emptied the socket: wait before reading instead of asking the socket
      // once more only to hear EAGAIN (one system call less per incoming burst, issue 6).
      // Nothing is missed: the wait re-arms the descriptor (EPOLL_CTL_MOD), which reports
      // data or an end of stream that arrived since.
      read_drained_ = false;
      error_code wait_ec = co_await wait_for(socket_, SSL_ERROR_WANT_READ);
      if (wait_ec) {
        ec = wait_ec;
        co_return 0;
      }
    }
    size_t got = socket_.read_some(asio::buffer(wire, sizeof wire), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      error_code wait_ec = co_await wait_for(socket_, SSL_ERROR_WANT_READ);
      if (wait_ec) {
        ec = wait_ec;
        co_return 0;
      }
      continue;
    }
    if (ec) co_return 0;  // EOF without close_notify (RFC 8446 §6.1: truncation) or an error
    // A short read took everything the socket had (a stream socket returns what is queued,
    // up to the buffer's size).
    read_drained_ = got < sizeof wire;
    plain.clear();
    std::string control;
    auto st = records_->read(wire, got, plain, control);
    if (!control.empty()) send_control(control);
    if (st == tls13_record_layer::state::failed) continue;  // reported above, nothing delivered
    if (plain.empty()) continue;
    size_t n = std::min(buf.size(), plain.size());
    std::memcpy(buf.data(), plain.data(), n);
    if (n < plain.size()) read_plain_.assign(plain, n);
    if (plain.capacity() > 65536) std::string().swap(plain);
    co_return n;
  }
}

size_t connection::write_now(const char* p, size_t n, error_code& ec) {
  size_t done = 0;
  while (done < n) {
    size_t w = socket_.write_some(asio::buffer(p + done, n - done), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      break;
    }
    if (ec) break;
    done += w;
  }
  return done;
}

void connection::send_control(const std::string& records) {
  if (!socket_.is_open()) return;
  if (write_queue_pos_ < write_queue_.size()) {
    write_queue_.append(records);  // the writer waiting on the socket sends it in order
    return;
  }
  error_code ec;
  size_t n = write_now(records.data(), records.size(), ec);
  // A KeyUpdate the socket could not take waits for the next write (the peer does not wait for
  // it: RFC 8446 §4.6.3 only orders it before our next application data).
  if (!ec && n < records.size()) {
    write_queue_.assign(records, n);
    write_queue_pos_ = 0;
  }
}

bool connection::try_write(std::string_view data, error_code& ec) {
  ec = {};
  if (!records_) {  // only the user-space record layer queues sealed output itself
    ec = asio::error::make_error_code(asio::error::operation_not_supported);
    return false;
  }
  if (records_->current_state() == tls13_record_layer::state::failed) {
    ec = asio::error::make_error_code(asio::error::connection_aborted);
    return false;
  }
  if (write_queue_pos_ >= write_queue_.size()) {
    if (data.empty()) return true;  // nothing queued, nothing to seal (no empty record)
    // Common case: seal into a per-thread buffer and write at once; only what the socket does
    // not take is copied to the session.
    static thread_local std::string sealed;
    sealed.clear();
    records_->write(data, sealed);
    size_t n = write_now(sealed.data(), sealed.size(), ec);
    if (!ec && n < sealed.size()) {
      write_queue_.assign(sealed, n);
      write_queue_pos_ = 0;
    }
    if (sealed.capacity() > 65536) std::string().swap(sealed);
    return !ec && write_queue_pos_ >= write_queue_.size();
  }
  // Behind records already queued: record order is fixed when they are sealed.
  if (!data.empty()) records_->write(data, write_queue_);
  while (write_queue_pos_ < write_queue_.size()) {
    size_t w = socket_.write_some(
        asio::buffer(write_queue_.data() + write_queue_pos_, write_queue_.size() - write_queue_pos_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      return false;
    }
    if (ec) return false;
    write_queue_pos_ += w;
  }
  std::string().swap(write_queue_);
  write_queue_pos_ = 0;
  return true;
}

awaitable<void> connection::write_records(std::string_view data, error_code& ec) {
  if (try_write(data, ec) || ec) co_return;
  while (has_queued_output()) {
    // A named local, not `if ((ec = co_await ...))`: with g++ 12 the frame's `this` was null after
    // resuming from that form here (the connection_write unit tests crashed on it).
    error_code wait_ec = co_await wait_for(socket_, SSL_ERROR_WANT_WRITE);
    if (wait_ec) {
      ec = wait_ec;
      co_return;
    }
    if (try_write(std::string_view(), ec) || ec) co_return;
  }
}

void connection::close(std::string_view last) {
  if (records_ && socket_.is_open() && records_->current_state() != tls13_record_layer::state::failed) {
    // RFC 8446 §6.1: close_notify before closing our side (best effort, like SSL_shutdown),
    // sealed behind the last data so that both leave in one write (one system call, one
    // segment for the peer to receive).
    std::string alert;
    if (!last.empty()) records_->write(last, alert);
    records_->write_alert(tls_alert::close_notify, alert);
    error_code ec;
    if (write_queue_pos_ < write_queue_.size()) {
      write_queue_.append(alert);
      write_queue_pos_ += write_now(write_queue_.data() + write_queue_pos_, write_queue_.size() - write_queue_pos_, ec);
    } else {
      write_now(alert.data(), alert.size(), ec);
    }
  }
  if (ssl_ && handshake_done_) {
    ERR_clear_error();
    size_t n = 0;
    if (!last.empty()) SSL_write_ex(ssl_, last.data(), last.size(), &n);  // best effort, see above
    SSL_shutdown(ssl_);  // best effort on a non-blocking socket
    ERR_clear_error();
  } else if (!ssl_ && !records_ && !last.empty() && socket_.is_open()) {
    error_code ec;
    write_now(last.data(), last.size(), ec);
  }
  error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace starling::net
