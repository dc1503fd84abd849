// The configuration file written on first run. It is meant to be read and edited by people:
// the settings a new server needs are active, every other key is present but commented out
// with its built-in default, so the file doubles as a reference. config_test.cpp checks that
// the text loads and that uncommenting every "#key = value" line changes nothing.
#include <fmt/format.h>

#include "config/config.hpp"

namespace starling::config {
namespace {

// A TOML basic string: data_dir may contain quotes, backslashes or non-ASCII characters.
std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string mechanism_list() {
  std::string out;
  for (auto m : supported_sasl_mechanisms) out += fmt::format("{}\"{}\"", out.empty() ? "" : ", ", m);
  return "[" + out + "]";
}

}  // namespace

std::string default_config_text(const std::filesystem::path& data_dir) {
  return fmt::format(R"(# Starling XMPP server configuration.
#
# docs/configuration.md documents every key. A line "#key = value" shows a built-in default:
# remove the "#" to change it. Relative paths resolve against data_dir.

# Database and certificates live here.
data_dir = {data_dir}

# Network threads; 0 = one per CPU core.
#threads = 0

[log]
# trace, debug, info, warn, error, critical or off.
level = "info"
# Log file; empty = standard error (what systemd's journal expects).
#file = ""

[tls]
# Certificate chain and private key (PEM) for every host without its own pair. On first run
# Starling generated a self-signed pair here; replace it with a CA-issued certificate for
# public use. SIGHUP reloads certificates without dropping connections.
certificate = "certs/localhost.crt"
key = "certs/localhost.key"
# Oldest TLS version accepted: "1.2" or "1.3" (RFC 7590 rules out anything older).
#min_version = "1.2"
# TLS 1.2 cipher list in OpenSSL syntax; empty = OpenSSL's secure default.
#ciphers = ""
# Clients must negotiate TLS before authenticating (RFC 6120 §5.3.1). Turn this off only for
# local testing.
#require_c2s_encryption = true

[auth]
# SASL mechanisms offered, from this set. The -PLUS variants bind the login to the TLS
# channel, which defeats a man in the middle holding a forged certificate.
#mechanisms = {mechanisms}
# PLAIN sends the password itself (over TLS only); it lets clients log in when the account's
# stored SCRAM hash does not match their mechanism.
#allow_plain = true
# XEP-0078 non-SASL login for very old clients (over TLS only).
#legacy_auth = true
# PBKDF2 rounds for new passwords: at least 4096 (RFC 7677). More is slower for attackers and
# for every login alike.
#scram_iterations = 4096
# Failed logins allowed per client IP and per account within failure_window seconds before
# further attempts are refused; 0 = no limit.
#max_failures_per_ip = 10
#max_failures_per_account = 10
#failure_window = 300
# A second login with the same full JID: "replace" the old session, "reject" the new one,
# or give the new one a "random" resource (RFC 6120 §7.7.2.2).
#resource_conflict = "replace"

[registration]
# In-band registration (XEP-0077) is switched on per [[host]]. Seconds between two
# registrations from one IP address (0 = no limit): a brake on spam accounts.
#min_interval_per_ip = 60
#min_password_length = 4

[limits]
# Largest stanza in bytes; bigger ones end the stream with <policy-violation/>.
# RFC 6120 §13.12 requires at least 10000.
#max_stanza_size = 262144
# Deepest XML nesting inside a stanza.
#max_depth = 32
# Seconds from connecting to a bound session, and to wait for the peer's </stream:stream>.
#handshake_timeout = 30
#close_timeout = 5
# Seconds without traffic before a connection is closed; 0 = never.
#idle_timeout = 0
# Simultaneous connections from one IP address; 0 = no limit.
#max_connections_per_ip = 100
# Bytes per second one client may send before reading from it pauses; 0 = no limit.
#max_bytes_per_second = 1048576
# Seconds without input after which a client stream frees its XML parser and buffers
# (recreated on the next byte); 0 = never.
#idle_release_delay = 5
# Per-account quotas: roster size, offline messages, privacy lists and their items,
# blocked JIDs, vCard bytes, outbound subscription requests per minute.
#max_roster_items = 1000
#max_offline_messages = 1000
#max_privacy_lists = 50
#max_privacy_list_items = 250
#max_blocked_jids = 1000
#max_vcard_size = 65536
#max_subscriptions_per_minute = 100

[storage]
backend = "sqlite"
path = "starling.db"

[modules]
# XEP-0092 Software Version: also reveal the operating system (hidden for privacy).
#version_show_os = false

[stream_management]
# XEP-0198: seconds a dropped session stays resumable, and the most a client may ask for.
#resume_timeout = 300
#max_resume_timeout = 3600
# Unacknowledged stanzas kept per session; XEP-0352 stanzas held for an inactive client.
#max_unacked = 1000
#csi_max_queue = 100

[push]
# XEP-0357: include the message text in notifications to app servers.
#include_body = false

# One [[host]] per domain this server serves.
[[host]]
name = "localhost"
# Anyone may create an account with their client (XEP-0077). Switch this off on a public
# server unless you want open registration.
registration = true
# This host's own certificate and key (chosen by SNI); empty = the [tls] pair.
#certificate = ""
#key = ""

# Client connections with STARTTLS (RFC 6120) ...
[[listener]]
type = "c2s"
address = "127.0.0.1"
port = 5222

# ... and with TLS from the first byte (XEP-0368). Use "0.0.0.0" / "::" to accept
# connections from other machines.
[[listener]]
type = "c2s_tls"
address = "127.0.0.1"
port = 5223
)",
                     fmt::arg("data_dir", toml_string(data_dir.string())),
                     fmt::arg("mechanisms", mechanism_list()));
}

}  // namespace starling::config
