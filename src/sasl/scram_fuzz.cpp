// libFuzzer target: arbitrary client-first / client-final messages into scram_server, arbitrary
// server messages into scram_client, arbitrary PLAIN messages into parse_plain. Untrusted input
// must produce a failure value, never a crash, an exception or a success without the password.
//
// Input layout: byte 0 selects the configuration, the rest is split at the first '\n' into the
// client-first and client-final messages; the whole rest is also a PLAIN message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sasl/sasl.hpp"
#include "sasl/scram.hpp"
#include "sasl/utf8.hpp"

namespace sasl = starling::sasl;

namespace {

constexpr uint32_t fuzz_iterations = 2;

const sasl::scram_credentials& creds_for(sasl::hash_alg alg) {
  // PBKDF2 once per algorithm, with a tiny count: the fuzzer is after parsing bugs.
  static const sasl::scram_credentials c[] = {
      sasl::derive_credentials(sasl::hash_alg::sha1, "pencil", "saltsalt", fuzz_iterations),
      sasl::derive_credentials(sasl::hash_alg::sha256, "pencil", "saltsalt", fuzz_iterations),
      sasl::derive_credentials(sasl::hash_alg::sha512, "pencil", "saltsalt", fuzz_iterations),
  };
  return c[static_cast<int>(alg)];
}

void check(bool ok) {
  if (!ok) std::abort();
}

void fuzz_plain(std::string_view msg) {
  auto m = sasl::parse_plain(msg);
  if (!m) return;
  check(!m->authcid.empty() && !m->password.empty());
  check(m->authzid.size() <= 1023 && m->authcid.size() <= 1023 && m->password.size() <= 1023);
  check(sasl::is_valid_utf8(m->authzid) && sasl::is_valid_utf8(m->authcid) &&
        sasl::is_valid_utf8(m->password));
}

void fuzz_server(uint8_t config, std::string_view first, std::string_view final_msg) {
  auto alg = static_cast<sasl::hash_alg>(config % 3);
  sasl::scram_server::options o;
  o.alg = alg;
  o.plus = config & 0x04;
  o.server_supports_plus = config & 0x08;
  o.unknown_user_iterations = fuzz_iterations;
  o.cb_types = {"tls-exporter", "tls-server-end-point"};
  if (config & 0x10) {
    o.cb_data = [](std::string_view type) -> std::optional<std::string> {
      if (type == "tls-exporter") return std::string("EXPORTER");
      return std::nullopt;
    };
  }
  if (config & 0x20) {
    o.advertised_mechanisms = {"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN"};
    o.advertised_cb_types = config & 0x40;
  }
  sasl::scram_server server(o);
  // A fixed server nonce lets the fuzzer reach the c= and proof checks.
  server.set_server_nonce_for_testing("S");
  if (server.parse_client_first(first)) return;
  const bool known = config & 0x80;
  std::string sf = server.server_first(known ? std::optional(creds_for(alg)) : std::nullopt);
  check(sf.rfind("r=", 0) == 0);
  auto r = server.client_final(final_msg);
  if (!r.error) {
    // Success requires a correct proof for a known user.
    check(known);
    check(r.server_final.rfind("v=", 0) == 0);
  } else {
    check(r.server_final.empty() && !server.scram_error().empty());
  }
  // Any further message is refused.
  check(server.client_final(final_msg).error.has_value());
}

void fuzz_client(uint8_t config, std::string_view server_first, std::string_view server_final) {
  auto alg = static_cast<sasl::hash_alg>(config % 3);
  sasl::scram_client client(alg);
  client.set_max_iterations(16);  // keep iterations cheap whatever the input says
  client.client_first("user", "abc");
  if (client.handle_server_first(server_first)) return;
  check(client.iterations() >= 1 && client.iterations() <= 16);
  client.client_final_with_password("pencil");
  (void)client.verify_server_final(server_final);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t config = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t nl = rest.find('\n');
  std::string_view first = rest.substr(0, nl);
  std::string_view second = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);

  fuzz_plain(rest);
  fuzz_server(config, first, second);
  fuzz_client(config, first, second);
  (void)sasl::unescape_saslname(first);
  return 0;
}
