#pragma once
// Server configuration: one TOML file (docs/configuration.md documents every key).
// load() validates everything up front: an unknown key or a bad value is an error with file,
// line and what was expected, and the server refuses to start.
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace starling::config {

// Every SASL mechanism the server implements, strongest first; [auth] mechanisms must be a
// subset. The -PLUS variants add channel binding (RFC 5802 §6, RFC 9266 tls-exporter).
inline constexpr std::array<std::string_view, 7> supported_sasl_mechanisms = {
    "SCRAM-SHA-512-PLUS", "SCRAM-SHA-512", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
    "SCRAM-SHA-1-PLUS",   "SCRAM-SHA-1",   "PLAIN"};

// After load() every path below is absolute (resolved against data_dir), except an empty
// path, which keeps its documented meaning (stderr, "use the [tls] default", ...).

struct virtual_host {
  std::string name;                   // domain, PRECIS-prepared (starling::precis::domain)
  std::filesystem::path certificate;  // PEM chain; empty: use [tls] default
  std::filesystem::path key;          // PEM private key; empty: use [tls] default
  bool registration = false;          // XEP-0077 in-band registration allowed on this host
  bool operator==(const virtual_host&) const = default;
};

// s2s listeners (RFC 6120 §4, port 5269 with STARTTLS; XEP-0368 direct TLS on 5270) accept
// server-to-server streams.
enum class listener_kind { c2s_starttls, c2s_direct_tls, s2s_starttls, s2s_direct_tls };

struct listener {
  listener_kind kind = listener_kind::c2s_starttls;
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal, "::" / "0.0.0.0" for all
  uint16_t port = 5222;               // 0: any free port (tests)
  bool operator==(const listener&) const = default;
};

struct tls_settings {
  std::filesystem::path certificate;  // default certificate (PEM), relative to data_dir if relative
  std::filesystem::path key;
  std::string min_version = "1.2";    // "1.2" or "1.3" (RFC 7590: never below 1.2)
  std::string ciphers;                // TLS 1.2 cipher list (OpenSSL syntax); empty: built-in default
  bool require_c2s_encryption = true; // RFC 6120 §5.3.1: STARTTLS mandatory-to-negotiate
  bool operator==(const tls_settings&) const = default;
};

enum class resource_conflict { replace, reject, random };

struct auth_settings {
  // Enabled SASL mechanisms; default: all supported.
  std::vector<std::string> mechanisms{supported_sasl_mechanisms.begin(),
                                      supported_sasl_mechanisms.end()};
  bool allow_plain = true;              // PLAIN (only ever offered over TLS)
  bool legacy_auth = true;              // XEP-0078 jabber:iq:auth (password method, TLS only)
  uint32_t scram_iterations = 4096;     // PBKDF2 iterations for new credentials (>= 4096)
  // Throttling of failed authentications (per IP and per account) within a sliding window.
  uint32_t max_failures_per_ip = 10;
  uint32_t max_failures_per_account = 10;
  std::chrono::seconds failure_window{300};
  resource_conflict conflict = resource_conflict::replace;  // RFC 6120 §7.7.2.2

  // Whether `mechanism` may be offered: listed in `mechanisms`, and for PLAIN also
  // allow_plain. (Whether PLAIN needs TLS is the SASL layer's business, not config's.)
  bool is_enabled(std::string_view mechanism) const;
  bool operator==(const auth_settings&) const = default;
};

struct registration_settings {
  std::chrono::seconds min_interval_per_ip{60};  // one registration per IP per interval (0: off)
  uint32_t min_password_length = 4;
  bool operator==(const registration_settings&) const = default;
};

struct limits {
  uint32_t max_stanza_size = 256 * 1024;  // bytes; larger -> <policy-violation/>
  uint32_t max_depth = 32;                // XML nesting depth
  std::chrono::seconds handshake_timeout{30};  // from connect to authenticated session
  std::chrono::seconds close_timeout{5};       // waiting for the peer's </stream:stream>
  std::chrono::seconds idle_timeout{0};        // 0: no idle timeout (keepalives handle it)
  uint32_t max_connections_per_ip = 100;
  // Bytes per second one client connection may send; reading pauses above it (traffic
  // shaping, so a flooding client slows down instead of slowing others). 0: unlimited.
  uint32_t max_bytes_per_second = 1024 * 1024;       // 0: unlimited
  // Per-account quotas of the IM features (RFC 6121, XEP-0160, XEP-0016, XEP-0191, XEP-0054).
  uint32_t max_roster_items = 1000;
  uint32_t max_offline_messages = 1000;
  uint32_t max_privacy_lists = 50;
  uint32_t max_privacy_list_items = 250;
  uint32_t max_blocked_jids = 1000;
  uint32_t max_vcard_size = 64 * 1024;               // bytes
  uint32_t max_subscriptions_per_minute = 100;       // outbound subscribe requests per account
  // A client stream without input for this long frees its XML parser and buffers (recreated
  // on the next byte), so idle sessions stay small. 0: never.
  std::chrono::seconds idle_release_delay{5};
  // SIGTERM/SIGINT: how long the graceful shutdown (RFC 6120 §4.9.3.19 <system-shutdown/> to
  // every stream, sessions ended, in-flight work finished) may take before the server stops
  // hard. 0: stop at once.
  std::chrono::seconds shutdown_timeout{10};
  bool operator==(const limits&) const = default;
};

// A fixed address for a remote domain ([s2s] routes): private federations and tests; used
// instead of DNS discovery.
struct s2s_route {
  std::string domain;  // prepared domain
  std::string host;    // IP literal or host name
  uint16_t port = 5269;
  bool direct_tls = false;  // "tls://host:port": TLS from the first byte (XEP-0368)
  bool operator==(const s2s_route&) const = default;
};

// Server-to-server (federation, RFC 6120 §4 and §13, XEP-0220, XEP-0178).
struct s2s_settings {
  bool enabled = true;                       // false: stanzas to other domains bounce
  std::vector<s2s_route> routes;             // per-domain overrides of DNS discovery
  bool require_encryption = true;            // TLS on every s2s stream (RFC 7590)
  bool require_valid_certificates = false;   // peers must authenticate by certificate
  bool dialback = true;                      // Server Dialback (XEP-0220) allowed
  std::filesystem::path ca_file;             // extra trust anchors for peers (system store too)
  std::string dns_servers;                   // c-ares server list; empty: /etc/resolv.conf
  std::string dialback_secret;               // XEP-0185 secret; empty: random per start
  std::chrono::seconds connect_timeout{10};  // resolve + TCP connect
  std::chrono::seconds handshake_timeout{30};  // connect to authenticated (both directions)
  std::chrono::seconds idle_timeout{600};    // close streams without traffic
  uint32_t max_queued_stanzas = 1000;        // per remote domain while connecting
  uint32_t max_streams = 1000;               // incoming s2s streams at once
  const s2s_route* find_route(std::string_view domain) const;
  bool operator==(const s2s_settings&) const = default;
};

struct storage_settings {
  std::string backend = "sqlite";
  std::filesystem::path path = "starling.db";  // relative to data_dir if relative; ":memory:" kept
  bool operator==(const storage_settings&) const = default;
};

struct log_settings {
  std::string level = "info";     // trace, debug, info, warn, error, critical, off
  std::filesystem::path file;     // empty: stderr
  bool operator==(const log_settings&) const = default;
};

struct module_settings {
  bool version_show_os = false;  // XEP-0092 <os/>: hidden by default (RFC 6120 §13.13 privacy)
  bool operator==(const module_settings&) const = default;
};

// XEP-0198 Stream Management, XEP-0352 Client State Indication, XEP-0357 Push.
struct stream_management_settings {
  bool enabled = true;
  // How long a session whose connection dropped stays resumable (XEP-0198 §5), and the most a
  // client may ask for with <enable max=…/>.
  std::chrono::seconds resume_timeout{300};
  std::chrono::seconds max_resume_timeout{3600};
  // Stanzas sent to a client and not yet acknowledged; beyond it a connected stream ends with
  // <policy-violation/> and a hibernated session expires (its stanzas go to offline storage).
  uint32_t max_unacked = 1000;
  // Stanzas held back for an inactive client (XEP-0352); beyond it the queue is flushed.
  uint32_t csi_max_queue = 100;
  bool operator==(const stream_management_settings&) const = default;
};

struct push_settings {
  // XEP-0357 §7: the message text leaves the server only if the operator allows it.
  bool include_body = false;
  uint32_t max_per_account = 10;              // registered app servers per account
  std::chrono::seconds request_timeout{30};   // waiting for the app server's answer
  bool operator==(const push_settings&) const = default;
};

// XEP-0484 FAST tokens (SASL2 one-round-trip re-authentication).
struct fast_settings {
  bool enabled = true;
  std::chrono::seconds token_lifetime{30 * 86400};  // how long an issued token is valid
  // A token used later than this after it was issued is replaced by a new one in the same
  // <success/> (XEP-0484 §3.4); must be shorter than token_lifetime.
  std::chrono::seconds rotate_after{86400};
  bool operator==(const fast_settings&) const = default;
};

// XEP-0215 external services (STUN/TURN) announced to clients. Credentials are either fixed
// (username + password) or, with `secret`, temporary TURN REST credentials: username
// "<expiry unix time>:<user JID>", password base64(HMAC-SHA1(secret, username)), as coturn's
// use-auth-secret expects.
struct external_service {
  std::string type;       // "stun", "turn", "turns", "stuns", ...
  std::string host;       // FQDN or IP literal
  uint16_t port = 0;      // 0: not announced
  std::string transport;  // "udp", "tcp" or empty
  std::string name;       // human-readable, optional
  std::string username;   // fixed credentials (with password)
  std::string password;
  std::string secret;     // TURN REST shared secret
  std::chrono::seconds credential_lifetime{86400};  // with secret
  bool restricted() const { return !username.empty() || !secret.empty(); }
  bool operator==(const external_service&) const = default;
};

// XEP-0313 message archives (src/modules/mam).
struct mam_settings {
  std::string default_mode = "always";            // XEP-0441 default: always, never, roster
  std::chrono::seconds max_age{0};                // retention; 0: keep messages forever
  std::chrono::seconds expiry_interval{3600};     // how often expired messages are removed
  uint32_t max_messages_per_user = 100000;        // size cap, oldest go first; 0: none
  uint32_t max_page_size = 250;                   // RSM <max/> is capped to this
  uint32_t default_page_size = 50;                // page size when the query has no <max/>
  uint32_t write_batch = 512;                      // archive rows per write transaction, at most
  uint32_t write_delay_ms = 10;                    // a queued row waits at most this for its batch
  bool operator==(const mam_settings&) const = default;
};

// PEP (XEP-0163) service limits per account.
struct pep_settings {
  uint32_t max_items = 256;                // items per node; what pubsub#max_items "max" means
  uint32_t max_payload_bytes = 256 * 1024;  // one item's serialized payload
  uint32_t max_nodes = 1000;               // nodes per account
  bool operator==(const pep_settings&) const = default;
};

struct server_config {
  std::filesystem::path source;    // the file this came from
  std::filesystem::path data_dir;  // absolute
  unsigned threads = 0;            // network threads; 0: one per core
  uint32_t network_slice_us = 100;  // scheduling slice the network threads ask for; 0: default
  std::vector<virtual_host> hosts;
  std::vector<listener> listeners;
  tls_settings tls;
  auth_settings auth;
  registration_settings registration;
  limits limit;
  s2s_settings s2s;
  storage_settings storage;
  log_settings log;
  module_settings modules;
  stream_management_settings sm;
  push_settings push;
  fast_settings fast;
  std::vector<external_service> external_services;
  mam_settings mam;
  pep_settings pep;

  // `name` must be a prepared domain (as stored in hosts, e.g. a JID's domainpart); nullptr
  // when the server does not serve it.
  const virtual_host* find_host(std::string_view name) const;
  // Paths resolved against data_dir; absolute and empty paths are returned unchanged.
  std::filesystem::path resolve(const std::filesystem::path& p) const;
  // Certificate and key for `host`: its own pair if it has one, else the [tls] default.
  std::filesystem::path certificate_for(const virtual_host& host) const;
  std::filesystem::path key_for(const virtual_host& host) const;
  bool operator==(const server_config&) const = default;
};

struct config_error {
  std::string file;
  uint32_t line = 0;    // 0: not tied to a line
  uint32_t column = 0;
  std::string message;  // what is wrong and what was expected
  std::string str() const;  // "file:line:column: message"
};

struct load_result {
  std::optional<server_config> config;
  std::vector<config_error> errors;
};

// Parses and validates. All errors found are returned, not just the first.
load_result load(const std::filesystem::path& file);
load_result load_string(std::string_view toml_text, const std::string& source_name);

// The default configuration written on first run: host "localhost", listeners on 127.0.0.1
// 5222 (STARTTLS) and 5223 (direct TLS), registration on, SQLite under data_dir.
std::string default_config_text(const std::filesystem::path& data_dir);

// First run: creates data_dir, writes `config_file` if missing (default_config_text), and a
// self-signed ECDSA P-256 certificate for every host lacking one. Returns errors as text.
std::vector<std::string> bootstrap(const std::filesystem::path& config_file,
                                   const std::filesystem::path& data_dir);
// Self-signed certificate (ECDSA P-256, SAN DNS:<hosts>, 10 years) written as PEM files.
bool make_self_signed(const std::vector<std::string>& hosts, const std::filesystem::path& cert,
                      const std::filesystem::path& key, std::string& error);

}  // namespace starling::config
