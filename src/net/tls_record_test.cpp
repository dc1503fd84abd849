// The user-space TLS 1.3 record layer against a real OpenSSL client, in memory: the server
// side runs OpenSSL's handshake with the production contexts (net/tls_store), is handed over
// (tls_take_over) and continues on tls13_record_layer; the client stays plain OpenSSL.
#include "net/tls_record.hpp"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "net/test_identity.hpp"
#include "net/tls_store.hpp"

using namespace starling::net;
using state = tls13_record_layer::state;

namespace {

using starling::test_support::identity;

std::string drain(BIO* b) {
  std::string out;
  char buf[4096];
  int n;
  while ((n = BIO_read(b, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

struct tls_pair {
  tls_store store;
  SSL_CTX* sctx = nullptr;
  SSL_CTX* cctx = nullptr;
  SSL* s = nullptr;
  SSL* c = nullptr;
  BIO* s_in = BIO_new(BIO_s_mem());   // client -> server
  BIO* s_out = BIO_new(BIO_s_mem());  // server -> client
  BIO* c_in = BIO_new(BIO_s_mem());
  BIO* c_out = BIO_new(BIO_s_mem());
  tls13_secrets secrets;
  tls13_secrets saved;                  // a copy for the mirror (client-role) layer
  std::unique_ptr<tls13_record_layer> layer;
  std::string leftover;                 // what the server SSL never consumed
  std::string exporter_openssl, exporter_ctx_openssl;

  // suites: the client's TLS 1.3 list (the server picks among them); server_suites: "" keeps
  // the production default.
  explicit tls_pair(const char* suites = "TLS_AES_128_GCM_SHA256", const char* server_suites = "",
                    int client_max = TLS1_3_VERSION) {
    std::string err;
    tls_options opts;
    EXPECT_TRUE(store.load({{"", identity().cert_path, identity().key_path}}, opts, err)) << err;
    sctx = store.acquire_default();
    if (!sctx) throw std::runtime_error("no server context");
    if (*server_suites) SSL_CTX_set_ciphersuites(sctx, server_suites);
    cctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_ciphersuites(cctx, suites);
    SSL_CTX_set_max_proto_version(cctx, client_max);
    s = SSL_new(sctx);
    c = SSL_new(cctx);
    SSL_set_bio(s, s_in, s_out);
    SSL_set_bio(c, c_in, c_out);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, "localhost");
    tls_capture_secrets(s, &secrets);
  }
  ~tls_pair() {
    if (s) SSL_free(s);
    SSL_free(c);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
  }

  // Runs the handshake; `pipelined` is written by the client right behind its Finished, before
  // the server has seen the Finished. Then hands the server over.
  bool handshake(const std::string& pipelined = "") {
    bool client_done = false, server_done = false;
    for (int i = 0; i < 20 && !(server_done && client_done); ++i) {
      if (!client_done) {
        int r = SSL_do_handshake(c);
        if (r == 1) {
          client_done = true;
          if (!pipelined.empty()) {
            EXPECT_EQ(SSL_write(c, pipelined.data(), static_cast<int>(pipelined.size())),
                      static_cast<int>(pipelined.size()));
          }
        }
      }
      std::string to_server = drain(c_out);
      BIO_write(s_in, to_server.data(), static_cast<int>(to_server.size()));
      if (!server_done && SSL_do_handshake(s) == 1) server_done = true;
      std::string to_client = drain(s_out);
      BIO_write(c_in, to_client.data(), static_cast<int>(to_client.size()));
    }
    if (!server_done || !client_done) {
      ERR_print_errors_fp(stderr);
      return false;
    }
    exporter_openssl = export_ssl("EXPORTER-Channel-Binding", "", 32, false);
    exporter_ctx_openssl = export_ssl("EXPERIMENTAL-starling", "some context", 48, true);
    saved = secrets;
    layer = tls_take_over(s, secrets);
    leftover = drain(s_in);
    if (layer) {
      saved.cipher = cipher_of(SSL_get_current_cipher(s));
      SSL_free(s);
      s = nullptr;
    }
    return true;
  }

  static tls13_cipher cipher_of(const SSL_CIPHER* c) {
    switch (SSL_CIPHER_get_protocol_id(c)) {
      case 0x1302: return tls13_cipher::aes_256_gcm;
      case 0x1303: return tls13_cipher::chacha20_poly1305;
      default: return tls13_cipher::aes_128_gcm;
    }
  }

  std::string export_ssl(const char* label, const std::string& ctx, size_t len, bool use_ctx) {
    std::string out(len, '\0');
    EXPECT_EQ(SSL_export_keying_material(s, reinterpret_cast<unsigned char*>(out.data()), len, label,
                                         strlen(label), reinterpret_cast<const unsigned char*>(ctx.data()),
                                         ctx.size(), use_ctx ? 1 : 0),
              1);
    return out;
  }

  // What the client sends for `data` (application data records, and anything pending such as
  // a KeyUpdate).
  std::string client_write(const std::string& data) {
    EXPECT_EQ(SSL_write(c, data.data(), static_cast<int>(data.size())), static_cast<int>(data.size()));
    return drain(c_out);
  }
  // Feeds the server's bytes to the client and returns everything it can read.
  std::string client_read(const std::string& wire, int* last_error = nullptr) {
    BIO_write(c_in, wire.data(), static_cast<int>(wire.size()));
    std::string out;
    char buf[4096];
    for (;;) {
      int n = SSL_read(c, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (last_error) *last_error = SSL_get_error(c, n);
      break;
    }
    return out;
  }
  // Feeds the wire bytes to the server layer in chunks of `chunk` bytes.
  state server_read(std::string wire, std::string& plain, std::string& control, size_t chunk = 0) {
    if (chunk == 0) chunk = wire.size() ? wire.size() : 1;
    state st = layer->current_state();
    for (size_t at = 0; at < wire.size(); at += chunk) {
      size_t n = std::min(chunk, wire.size() - at);
      st = layer->read(wire.data() + at, n, plain, control);
    }
    return st;
  }
  std::unique_ptr<tls13_record_layer> mirror() { return std::make_unique<tls13_record_layer>(saved, false); }
};

std::string pattern(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return s;
}

class all_suites : public ::testing::TestWithParam<const char*> {};

TEST_P(all_suites, handover_and_data_both_ways_in_any_chunking) {
  tls_pair p(GetParam());
  ASSERT_TRUE(p.handshake());
  ASSERT_NE(p.layer, nullptr) << "TLS 1.3 with " << GetParam() << " must be handed over";
  EXPECT_TRUE(p.leftover.empty());
  // RFC 8446 §5.3: both sequence numbers start at 0 under the application keys.
  EXPECT_EQ(p.layer->read_sequence(), 0u);
  EXPECT_EQ(p.layer->write_sequence(), 0u);
  for (size_t chunk : {size_t{0}, size_t{100}, size_t{17}, size_t{6}, size_t{5}, size_t{3}, size_t{2}, size_t{1}}) {
    std::string msg = "<message to='bob@localhost'><body>chunk " + std::to_string(chunk) + "</body></message>";
    std::string wire = p.client_write(msg);
    wire += p.client_write(msg + "!");
    std::string plain, control;
    EXPECT_EQ(p.server_read(wire, plain, control, chunk), state::open) << static_cast<int>(p.layer->last_alert());
    EXPECT_EQ(plain, msg + msg + "!") << "chunk " << chunk;
    EXPECT_TRUE(control.empty());
    EXPECT_EQ(p.layer->buffered(), 0u) << "no buffer held between records";

    std::string out;
    p.layer->write("<presence/>" + std::to_string(chunk), out);
    EXPECT_EQ(p.client_read(out), "<presence/>" + std::to_string(chunk));
  }
}

TEST_P(all_suites, tls_exporter_equals_openssl) {
  tls_pair p(GetParam());
  ASSERT_TRUE(p.handshake());
  ASSERT_NE(p.layer, nullptr);
  // RFC 9266: label EXPORTER-Channel-Binding, no context, 32 bytes.
  auto cb = p.layer->export_keying_material("EXPORTER-Channel-Binding", "", 32);
  ASSERT_TRUE(cb);
  EXPECT_EQ(*cb, p.exporter_openssl);
  auto other = p.layer->export_keying_material("EXPERIMENTAL-starling", "some context", 48);
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, p.exporter_ctx_openssl);
  EXPECT_NE(*p.layer->export_keying_material("EXPORTER-Channel-Binding", "x", 32), p.exporter_openssl);
}

TEST_P(all_suites, client_key_update_with_and_without_request) {
  tls_pair p(GetParam());
  ASSERT_TRUE(p.handshake());
  ASSERT_NE(p.layer, nullptr);
  // update_not_requested: we switch our read key, send nothing.
  ASSERT_EQ(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  std::string plain, control;
  EXPECT_EQ(p.server_read(p.client_write("after one"), plain, control, 3), state::open);
  EXPECT_EQ(plain, "after one");
  EXPECT_TRUE(control.empty());
  EXPECT_EQ(p.layer->read_sequence(), 1u);  // the data record was the first under the new key
  std::string out;
  p.layer->write("still old key", out);
  EXPECT_EQ(p.client_read(out), "still old key");

  // update_requested: we answer with our own KeyUpdate, then write under the next key.
  ASSERT_EQ(SSL_key_update(p.c, SSL_KEY_UPDATE_REQUESTED), 1);
  plain.clear();
  EXPECT_EQ(p.server_read(p.client_write("after two"), plain, control, 1), state::open);
  EXPECT_EQ(plain, "after two");
  ASSERT_FALSE(control.empty()) << "RFC 8446 §4.6.3: a KeyUpdate must answer update_requested";
  EXPECT_EQ(p.layer->write_sequence(), 0u);
  out = control;
  p.layer->write("new key", out);
  EXPECT_EQ(p.client_read(out), "new key");
  // More data both ways afterwards.
  plain.clear();
  control.clear();
  EXPECT_EQ(p.server_read(p.client_write("and more"), plain, control), state::open);
  EXPECT_EQ(plain, "and more");
  EXPECT_TRUE(control.empty());
  out.clear();
  p.layer->write("and more back", out);
  EXPECT_EQ(p.client_read(out), "and more back");
}

INSTANTIATE_TEST_SUITE_P(tls13, all_suites,
                         ::testing::Values("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256"));

TEST(tls_record, pipelined_data_behind_client_finished_is_not_lost) {
  tls_pair p;
  std::string early = "<iq type='get' id='pipelined'/>";
  ASSERT_TRUE(p.handshake(early));
  ASSERT_NE(p.layer, nullptr);
  // OpenSSL stopped at the end of the Finished record: the data record is still "on the wire".
  ASSERT_FALSE(p.leftover.empty());
  std::string plain, control;
  EXPECT_EQ(p.server_read(p.leftover, plain, control, 7), state::open);
  EXPECT_EQ(plain, early);
}

TEST(tls_record, large_writes_split_into_records_of_at_most_2_14) {
  tls_pair p("TLS_AES_256_GCM_SHA384");
  ASSERT_TRUE(p.handshake());
  ASSERT_NE(p.layer, nullptr);
  std::string big = pattern(100000);
  std::string out;
  p.layer->write(big, out);
  // Walk the records: 100000 bytes need 7 records, none above 2^14 + 256 on the wire.
  size_t records = 0;
  for (size_t at = 0; at < out.size(); ++records) {
    size_t len = (static_cast<uint8_t>(out[at + 3]) << 8) | static_cast<uint8_t>(out[at + 4]);
    EXPECT_LE(len, 16384u + 1 + 16);
    at += 5 + len;
  }
  EXPECT_EQ(records, 7u);
  EXPECT_EQ(p.client_read(out), big);

  // And a large client write, fed in odd pieces (1 byte, and pieces cutting headers).
  std::string big2 = pattern(40000, 9);
  std::string wire = p.client_write(big2);
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{4099}}) {
    tls_pair q;
    ASSERT_TRUE(q.handshake());
    std::string w = q.client_write(big2), plain, control;
    EXPECT_EQ(q.server_read(w, plain, control, chunk), state::open);
    EXPECT_EQ(plain, big2) << chunk;
    EXPECT_EQ(q.layer->buffered(), 0u);
  }
}

TEST(tls_record, close_notify_both_ways) {
  tls_pair p;
  ASSERT_TRUE(p.handshake());
  ASSERT_NE(p.layer, nullptr);
  std::string wire = p.client_write("last words");
  ASSERT_EQ(SSL_shutdown(p.c), 0);  // close_notify sent, the peer's not yet received
  wire += drain(p.c_out);
  std::string plain, control;
  EXPECT_EQ(p.server_read(wire, plain, control), state::closed);
  EXPECT_EQ(plain, "last words");  // data before close_notify is delivered
  EXPECT_TRUE(control.empty());

  tls_pair q;
  ASSERT_TRUE(q.handshake());
  std::string out;
  q.layer->write_alert(tls_alert::close_notify, out);
  int err = 0;
  EXPECT_EQ(q.client_read(out, &err), "");
  EXPECT_EQ(err, SSL_ERROR_ZERO_RETURN);
}

TEST(tls_record, tampered_record_is_bad_record_mac_and_nothing_is_delivered) {
  // Body, header (additional data) and tag.
  for (size_t where : {size_t{7}, size_t{2}, size_t{0xffff}}) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    ASSERT_NE(p.layer, nullptr);
    std::string wire = p.client_write("<message><body>secret</body></message>");
    std::string next = p.client_write("more");
    size_t at = where == 0xffff ? wire.size() - 1 : where;
    // legacy_record_version is ignored but authenticated (it is additional data).
    wire[at] ^= where == 2 ? 0x01 : 0x40;
    std::string plain, control;
    EXPECT_EQ(p.server_read(wire, plain, control), state::failed);
    EXPECT_EQ(p.layer->last_alert(), tls_alert::bad_record_mac);
    EXPECT_TRUE(plain.empty());
    // The client receives a bad_record_mac alert.
    ERR_clear_error();
    int err = 0;
    p.client_read(control, &err);
    EXPECT_EQ(err, SSL_ERROR_SSL);
    EXPECT_EQ(ERR_GET_REASON(ERR_peek_error()), SSL_R_SSLV3_ALERT_BAD_RECORD_MAC);
    ERR_clear_error();
    // Nothing more is read afterwards.
    plain.clear();
    EXPECT_EQ(p.server_read(next, plain, control), state::failed);
    EXPECT_TRUE(plain.empty());
  }
}

TEST(tls_record, oversized_records_are_record_overflow) {
  {
    // A header announcing 2^14 + 257 bytes is refused before any body arrives.
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    std::string hdr = {23, 3, 3, static_cast<char>((16384 + 257) >> 8), static_cast<char>((16384 + 257) & 0xff)};
    std::string plain, control;
    EXPECT_EQ(p.server_read(hdr, plain, control, 1), state::failed);
    EXPECT_EQ(p.layer->last_alert(), tls_alert::record_overflow);
    EXPECT_FALSE(control.empty());
  }
  {
    // An authentic record whose inner plaintext exceeds 2^14 + 1 bytes (RFC 8446 §5.2).
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    auto client = p.mirror();
    std::string ok, bad, plain, control;
    client->write_record(23, pattern(16384), 0, ok);
    client->write_record(23, pattern(16384), 1, bad);
    EXPECT_EQ(p.server_read(ok, plain, control), state::open);
    EXPECT_EQ(plain.size(), 16384u);
    EXPECT_EQ(p.server_read(bad, plain, control), state::failed);
    EXPECT_EQ(p.layer->last_alert(), tls_alert::record_overflow);
  }
}

TEST(tls_record, padding_and_empty_records) {
  tls_pair p;
  ASSERT_TRUE(p.handshake());
  auto client = p.mirror();
  std::string wire, plain, control;
  client->write_record(23, "hi", 300, wire);     // RFC 8446 §5.4 padding
  client->write_record(23, "", 0, wire);         // zero-length application data is allowed
  client->write_record(21, std::string{1, 90}, 0, wire);  // user_canceled: ignored
  client->write_record(23, "there", 0, wire);
  EXPECT_EQ(p.server_read(wire, plain, control, 11), state::open);
  EXPECT_EQ(plain, "hithere");
  EXPECT_TRUE(control.empty());
}

// Each entry: what the mirror client sends after the handshake, the alert we must send.
struct bad_case {
  const char* name;
  uint8_t type;
  std::string content;
  size_t padding;
  tls_alert alert;
};

TEST(tls_record, protocol_violations_get_the_rfc_8446_alert) {
  const std::vector<bad_case> cases = {
      {"all-zero inner plaintext", 0, "", 10, tls_alert::unexpected_message},
      {"NewSessionTicket from a client", 22, std::string("\x04\x00\x00\x01\x00", 5), 0, tls_alert::unexpected_message},
      {"Certificate after the handshake", 22, std::string("\x0b\x00\x00\x00", 4), 0, tls_alert::unexpected_message},
      {"KeyUpdate with a bad value", 22, std::string("\x18\x00\x00\x01\x02", 5), 0, tls_alert::illegal_parameter},
      {"KeyUpdate of length 2", 22, std::string("\x18\x00\x00\x02\x00\x00", 6), 0, tls_alert::decode_error},
      {"KeyUpdate not ending its record", 22, std::string("\x18\x00\x00\x01\x00\x18", 6), 0,
       tls_alert::unexpected_message},
      {"empty handshake record", 22, "", 0, tls_alert::unexpected_message},
      {"alert of three bytes", 21, std::string("\x02\x28\x00", 3), 0, tls_alert::decode_error},
      {"inner change_cipher_spec", 20, "\x01", 0, tls_alert::unexpected_message},
      {"unknown inner type", 99, "x", 0, tls_alert::unexpected_message},
  };
  for (const auto& c : cases) {
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    auto client = p.mirror();
    std::string wire, plain, control;
    if (c.type == 0) {
      // content type 0 would be padding: an inner plaintext of zeros only.
      client->write_record(0, "", c.padding, wire);
    } else {
      client->write_record(c.type, c.content, c.padding, wire);
    }
    client->write_record(23, "not delivered", 0, wire);
    EXPECT_EQ(p.server_read(wire, plain, control), state::failed) << c.name;
    EXPECT_EQ(p.layer->last_alert(), c.alert) << c.name;
    EXPECT_TRUE(plain.empty()) << c.name;
    EXPECT_FALSE(control.empty()) << c.name;
  }
  {
    // A plaintext change_cipher_spec record after the handshake (RFC 8446 §5).
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    std::string plain, control, ccs = {20, 3, 3, 0, 1, 1};
    EXPECT_EQ(p.server_read(ccs, plain, control), state::failed);
    EXPECT_EQ(p.layer->last_alert(), tls_alert::unexpected_message);
  }
  {
    // An error alert from the peer ends the connection without an alert in answer (RFC 8446 §6).
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    auto client = p.mirror();
    std::string wire, plain, control;
    client->write_alert(tls_alert::internal_error, wire);
    EXPECT_EQ(p.server_read(wire, plain, control), state::failed);
    EXPECT_TRUE(control.empty());
  }
  {
    // A KeyUpdate split over two records is fine; data interleaved inside it is not (§5.1).
    tls_pair p;
    ASSERT_TRUE(p.handshake());
    auto client = p.mirror();
    std::string wire, plain, control;
    client->write_record(22, std::string("\x18\x00", 2), 0, wire);
    client->write_record(22, std::string("\x00\x01\x00", 3), 0, wire);
    client->write_key_update(false, control);  // only to move the mirror's write key on
    control.clear();
    client->write_record(23, "after split update", 0, wire);
    EXPECT_EQ(p.server_read(wire, plain, control, 4), state::open);
    EXPECT_EQ(plain, "after split update");

    tls_pair q;
    ASSERT_TRUE(q.handshake());
    auto client2 = q.mirror();
    wire.clear();
    plain.clear();
    client2->write_record(22, std::string("\x18\x00", 2), 0, wire);
    client2->write_record(23, "interleaved", 0, wire);
    EXPECT_EQ(q.server_read(wire, plain, control), state::failed);
    EXPECT_EQ(q.layer->last_alert(), tls_alert::unexpected_message);
    EXPECT_TRUE(plain.empty());
  }
}

TEST(tls_record, key_updates_before_the_usage_limit) {
  tls_pair p("TLS_AES_128_GCM_SHA256");
  ASSERT_TRUE(p.handshake());
  ASSERT_NE(p.layer, nullptr);
  p.layer->set_key_limit(3);
  // Write side: every third record we move to the next key; the client follows.
  std::string out, expect;
  for (int i = 0; i < 10; ++i) {
    std::string m = "message " + std::to_string(i) + ";";
    p.layer->write(m, out);
    expect += m;
  }
  EXPECT_EQ(p.client_read(out), expect);
  EXPECT_LT(p.layer->write_sequence(), 3u);
  // Read side: past the limit we ask the client for a KeyUpdate; it answers with its next
  // write, and reading goes on under its new key.
  std::string wire, plain, control;
  for (int i = 0; i < 4; ++i) wire += p.client_write("c" + std::to_string(i));
  EXPECT_EQ(p.server_read(wire, plain, control), state::open);
  EXPECT_EQ(plain, "c0c1c2c3");
  ASSERT_FALSE(control.empty());
  EXPECT_EQ(p.client_read(control), "");
  plain.clear();
  control.clear();
  EXPECT_EQ(p.server_read(p.client_write("under the new key"), plain, control), state::open);
  EXPECT_EQ(plain, "under the new key");
  EXPECT_EQ(p.layer->read_sequence(), 1u);
}

TEST(tls_record, no_handover_for_ccm_or_tls_1_2) {
  {
    tls_pair p("TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_SHA256:TLS_AES_128_GCM_SHA256");
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.layer, nullptr);
    // The connection goes on with OpenSSL.
    std::string wire = p.client_write("ccm data");
    BIO_write(p.s_in, wire.data(), static_cast<int>(wire.size()));
    char buf[64];
    int n = SSL_read(p.s, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "ccm data");
  }
  {
    tls_pair p("TLS_AES_128_GCM_SHA256", "", TLS1_2_VERSION);
    ASSERT_TRUE(p.handshake());
    EXPECT_EQ(p.layer, nullptr);
    EXPECT_EQ(SSL_version(p.s), TLS1_2_VERSION);
  }
}

TEST(tls_record, hkdf_expand_label_rfc_8448_server_handshake_key) {
  // RFC 8448 §3 (simple 1-RTT handshake): server handshake traffic secret b67b7d69...,
  // key 3fce5160..., iv 5d313eb2....
  auto unhex = [](const char* h) {
    std::string out;
    for (size_t i = 0; h[i] && h[i + 1]; i += 2) out.push_back(static_cast<char>(std::stoi(std::string(h + i, 2), nullptr, 16)));
    return out;
  };
  std::string secret = unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
  uint8_t key[16], iv[12];
  ASSERT_TRUE(hkdf_expand_label(tls13_cipher::aes_128_gcm, reinterpret_cast<const uint8_t*>(secret.data()), 32,
                                "key", "", key, sizeof key));
  ASSERT_TRUE(hkdf_expand_label(tls13_cipher::aes_128_gcm, reinterpret_cast<const uint8_t*>(secret.data()), 32,
                                "iv", "", iv, sizeof iv));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(key), 16), unhex("3fce516009c21727d0f2e4e86ee403bc"));
  EXPECT_EQ(std::string(reinterpret_cast<char*>(iv), 12), unhex("5d313eb2671276ee13000b30"));
}

}  // namespace
