// net::connection's write path on the user-space TLS 1.3 record layer, over a real loopback
// TCP connection to a plain OpenSSL client: try_write() (what c2s uses to send a burst without
// a coroutine), what it leaves queued when the socket does not take everything (a slow
// reader), write_all() draining that queue in order, and close() while data is queued.
#include "net/connection.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <string>
#include <thread>

#include "net/test_identity.hpp"
#include "net/tls_store.hpp"

using namespace starling::net;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

using starling::test_support::identity;

// A server connection handed over to the user-space record layer and a blocking OpenSSL client
// on the other end of a loopback TCP connection. `small_buffers` shrinks both socket buffers so
// that the server's writes stop being taken after a few records.
struct tls_loop {
  asio::io_context io{1};
  tls_store store;
  SSL_CTX* sctx = nullptr;
  SSL_CTX* cctx = nullptr;
  std::unique_ptr<connection> conn;
  int fd = -1;
  SSL* client = nullptr;

  explicit tls_loop(bool small_buffers) {
    std::string err;
    tls_options opts;
    EXPECT_TRUE(store.load({{"", identity().cert_path, identity().key_path}}, opts, err)) << err;
    sctx = store.acquire_default();
    cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);

    asio::ip::tcp::acceptor acc(io, {asio::ip::make_address("127.0.0.1"), 0});
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    if (small_buffers) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    timeval tv{10, 0};  // a broken write path fails the test instead of hanging it
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(acc.local_endpoint().port());
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    asio::ip::tcp::socket s = acc.accept();
    if (small_buffers) {
      asio::socket_base::send_buffer_size opt(4096);
      s.set_option(opt);
    }
    conn = std::make_unique<connection>(std::move(s));

    client = SSL_new(cctx);
    SSL_set_fd(client, fd);
    SSL_set_tlsext_host_name(client, "localhost");
    std::thread t([this] { EXPECT_EQ(SSL_connect(client), 1); });
    error_code result = asio::error::would_block;
    asio::co_spawn(
        io, [](connection* c, SSL_CTX* ctx, error_code* out) -> awaitable<void> {
          *out = co_await c->tls_accept(ctx, /*user_space_records=*/true);
        }(conn.get(), sctx, &result),
        asio::detached);
    io.run();
    io.restart();
    t.join();
    EXPECT_FALSE(result);
    EXPECT_TRUE(conn->user_space_records());
  }
  ~tls_loop() {
    conn.reset();
    SSL_free(client);
    if (fd >= 0) ::close(fd);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
  }

  // Reads from the client until `n` bytes arrived or the stream ends.
  std::string client_read(size_t n) {
    std::string got;
    char buf[16384];
    while (got.size() < n) {
      int r = SSL_read(client, buf, sizeof buf);
      if (r <= 0) break;
      got.append(buf, static_cast<size_t>(r));
    }
    ERR_clear_error();
    return got;
  }

  // Drains what try_write() left queued, with write_all() and no new data.
  error_code drain() {
    error_code ec = asio::error::would_block;
    asio::co_spawn(
        io, [](connection* c, error_code* out) -> awaitable<void> {
          error_code e;
          co_await c->write_all({}, e);
          *out = e;
        }(conn.get(), &ec),
        asio::detached);
    io.run();
    io.restart();
    return ec;
  }
};

std::string chunk(size_t i, size_t size) {
  std::string s(size, static_cast<char>('a' + i % 26));
  s.replace(0, std::min(size, std::to_string(i).size()), std::to_string(i));
  return s;
}

}  // namespace

TEST(connection_write, try_write_sends_everything_when_the_socket_takes_it) {
  tls_loop t(false);
  error_code ec;
  EXPECT_TRUE(t.conn->try_write({}, ec));  // nothing queued, nothing to seal
  EXPECT_FALSE(ec);
  EXPECT_TRUE(t.conn->try_write("<message><body>hi</body></message>", ec));
  EXPECT_FALSE(ec);
  EXPECT_FALSE(t.conn->has_queued_output());
  EXPECT_TRUE(t.conn->try_write("<iq/>", ec));
  const std::string want = "<message><body>hi</body></message><iq/>";
  EXPECT_EQ(t.client_read(want.size()), want);
}

TEST(connection_write, a_slow_reader_leaves_records_queued_in_order) {
  tls_loop t(true);
  std::string sent;
  error_code ec;
  size_t i = 0;
  bool all = true;
  // Writes until the socket stops taking records; then a few more, which must queue behind.
  for (; i < 2000 && all; ++i) {
    std::string c = chunk(i, 8000);
    all = t.conn->try_write(c, ec);
    ASSERT_FALSE(ec);
    sent += c;
  }
  ASSERT_FALSE(all) << "the socket took " << sent.size() << " bytes without pushing back";
  EXPECT_TRUE(t.conn->has_queued_output());
  for (size_t k = 0; k < 3; ++k, ++i) {
    std::string c = chunk(i, 5000);
    EXPECT_FALSE(t.conn->try_write(c, ec));  // behind the queue: never ahead of older records
    EXPECT_FALSE(ec);
    sent += c;
  }
  std::string got;
  std::thread reader([&] { got = t.client_read(sent.size()); });
  EXPECT_FALSE(t.drain());
  reader.join();
  EXPECT_FALSE(t.conn->has_queued_output());
  ASSERT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  // The queue is empty again: the next write goes out at once.
  EXPECT_TRUE(t.conn->try_write("after", ec));
  EXPECT_EQ(t.client_read(5), "after");
}

TEST(connection_write, close_while_records_are_queued) {
  tls_loop t(true);
  std::string sent;
  error_code ec;
  bool all = true;
  for (size_t i = 0; i < 2000 && all; ++i) {
    std::string c = chunk(i, 8000);
    all = t.conn->try_write(c, ec);
    ASSERT_FALSE(ec);
    sent += c;
  }
  ASSERT_FALSE(all);
  // Best effort (connection::close): what the socket takes now leaves, the rest is dropped;
  // no crash, no wait, and later writes fail instead of touching the closed socket.
  t.conn->close("</stream:stream>");
  EXPECT_FALSE(t.conn->is_open());
  EXPECT_FALSE(t.conn->try_write("late", ec));
  EXPECT_TRUE(ec);
  // The client sees an intact prefix of the stream, then the end of the connection.
  std::string got = t.client_read(sent.size() + 100);
  EXPECT_LE(got.size(), sent.size() + std::string("</stream:stream>").size());
  EXPECT_TRUE(sent.compare(0, std::min(got.size(), sent.size()), got, 0, std::min(got.size(), sent.size())) == 0);
}
