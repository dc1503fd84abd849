// libFuzzer target for the user-space TLS 1.3 record parser (net/tls_record). Input byte 0
// picks the cipher suite (bits 0-1) and the mode (bit 2):
//  - raw: the rest is the TCP byte stream, fed in pieces whose sizes come from byte 1;
//  - sealed: the rest is a list of (type, padding, length, content) entries that a client-role
//    layer with the same secrets protects, so the fuzzer reaches everything behind the AEAD
//    check (content types, alerts, KeyUpdate reassembly, padding) with authentic records.
// Checks: no crash; the layer never holds more than one record's bytes; once it is closed or
// failed it stays so and delivers nothing more.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "net/tls_record.hpp"

using namespace starling::net;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  tls13_secrets s;
  s.cipher = static_cast<tls13_cipher>((data[0] & 3) % 3);
  s.hash_len = s.cipher == tls13_cipher::aes_256_gcm ? 48 : 32;
  for (int i = 0; i < 48; ++i) {
    s.client[i] = static_cast<uint8_t>(i + 1);
    s.server[i] = static_cast<uint8_t>(0x80 + i);
    s.exporter[i] = static_cast<uint8_t>(0x40 + i);
  }
  s.have = 7;
  const bool sealed = data[0] & 4;
  const size_t step = data[1] ? data[1] : 1;
  data += 2;
  size -= 2;

  std::string wire;
  if (sealed) {
    tls13_record_layer client(s, false);
    client.set_key_limit(5);
    while (size >= 3) {
      uint8_t type = data[0], padding = data[1];
      size_t len = std::min<size_t>(data[2], size - 3);
      client.write_record(type, std::string(reinterpret_cast<const char*>(data + 3), len), padding, wire);
      data += 3 + len;
      size -= 3 + len;
    }
  } else {
    wire.assign(reinterpret_cast<const char*>(data), size);
  }

  tls13_record_layer server(s, true);
  server.set_key_limit(3);
  std::string plain, out;
  for (size_t at = 0; at < wire.size(); at += step) {
    size_t n = std::min(step, wire.size() - at);
    auto before = server.current_state();
    size_t delivered = plain.size();
    auto st = server.read(wire.data() + at, n, plain, out);
    if (before != tls13_record_layer::state::open && (st != before || plain.size() != delivered)) abort();
    if (server.buffered() > 5 + 16384 + 256) abort();
  }
  server.write(plain, out);
  (void)server.export_keying_material("EXPORTER-Channel-Binding", "", 32);
  return 0;
}
