#include "config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace cfg = starling::config;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

namespace {

// Every test config lives at /etc/starling/starling.toml unless said otherwise, so that the
// expected absolute paths below are fixed.
constexpr const char* config_path = "/etc/starling/starling.toml";

// The smallest valid configuration; tests append the table under test to it.
constexpr const char* minimal = R"(
[[host]]
name = "example.org"

[[listener]]
type = "c2s"
)";

cfg::load_result load(const std::string& text) { return cfg::load_string(text, config_path); }

std::string all_errors(const cfg::load_result& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.str() + "\n";
  return out;
}

// Loads `text`, which must produce exactly one error, and returns it.
cfg::config_error single_error(const std::string& text) {
  auto r = load(text);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.errors.size(), 1u) << all_errors(r);
  if (r.errors.empty()) return {};
  return r.errors.front();
}

// Line of the first occurrence of `needle` in `text`, 1-based.
uint32_t line_of(const std::string& text, const std::string& needle) {
  size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  return static_cast<uint32_t>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n') + 1);
}

// The "#key = value" lines of the default file, switched on.
std::string uncomment_settings(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.size() > 1 && line[0] == '#' && ((line[1] >= 'a' && line[1] <= 'z') || line[1] == '['))
      line.erase(0, 1);
    out += line + "\n";
  }
  return out;
}

}  // namespace

// --- the default file ---------------------------------------------------------------------------

TEST(DefaultConfig, LoadsWithoutErrors) {
  auto r = load(cfg::default_config_text("/var/lib/starling"));
  ASSERT_TRUE(r.config) << all_errors(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.data_dir, "/var/lib/starling");
  EXPECT_EQ(c.source, config_path);
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_EQ(c.hosts[0].name, "localhost");
  EXPECT_TRUE(c.hosts[0].registration);
  EXPECT_TRUE(c.hosts[0].certificate.empty());
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].kind, cfg::listener_kind::c2s_starttls);
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 5222);
  EXPECT_EQ(c.listeners[1].kind, cfg::listener_kind::c2s_direct_tls);
  EXPECT_EQ(c.listeners[1].port, 5223);
  EXPECT_EQ(c.tls.certificate, "/var/lib/starling/certs/localhost.crt");
  EXPECT_EQ(c.tls.key, "/var/lib/starling/certs/localhost.key");
  EXPECT_EQ(c.storage.backend, "sqlite");
  EXPECT_EQ(c.storage.path, "/var/lib/starling/starling.db");
  EXPECT_EQ(c.log.level, "info");
  EXPECT_TRUE(c.log.file.empty());
}

// The commented-out lines claim to show the built-in defaults; switching them all on must
// therefore give the very same configuration (and exercise every key).
TEST(DefaultConfig, CommentedSettingsAreTheDefaults) {
  std::string text = cfg::default_config_text("/var/lib/starling");
  std::string uncommented = uncomment_settings(text);
  ASSERT_NE(text, uncommented);
  auto plain = load(text);
  auto full = load(uncommented);
  ASSERT_TRUE(plain.config) << all_errors(plain);
  ASSERT_TRUE(full.config) << all_errors(full);
  EXPECT_TRUE(*plain.config == *full.config);
  EXPECT_EQ(full.config->auth.mechanisms.size(), cfg::supported_sasl_mechanisms.size());
}

TEST(DefaultConfig, QuotesAnyDataDir) {
  fs::path odd = "/srv/we\"ird\\dir/sp ace/\xc3\xa9t\xc3\xa9";
  auto r = load(cfg::default_config_text(odd));
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_EQ(r.config->data_dir, odd);
}

// --- defaults and paths -------------------------------------------------------------------------

TEST(Load, MinimalConfigGetsDefaults) {
  auto r = load(minimal);
  ASSERT_TRUE(r.config) << all_errors(r);
  const auto& c = *r.config;
  // data_dir defaults to the directory holding the config file.
  EXPECT_EQ(c.data_dir, "/etc/starling");
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.network_slice_us, 100u);
  EXPECT_FALSE(c.hosts[0].registration);  // open registration must be asked for
  EXPECT_EQ(c.listeners[0].address, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].port, 5222);
  // The default pair is named after the first host.
  EXPECT_EQ(c.tls.certificate, "/etc/starling/certs/example.org.crt");
  EXPECT_EQ(c.tls.key, "/etc/starling/certs/example.org.key");
  EXPECT_EQ(c.tls.min_version, "1.2");
  EXPECT_TRUE(c.tls.require_c2s_encryption);
  EXPECT_EQ(c.auth.mechanisms,
            std::vector<std::string>(cfg::supported_sasl_mechanisms.begin(),
                                     cfg::supported_sasl_mechanisms.end()));
  EXPECT_EQ(c.auth.scram_iterations, 4096u);
  EXPECT_EQ(c.auth.failure_window, std::chrono::seconds(300));
  EXPECT_EQ(c.auth.conflict, cfg::resource_conflict::replace);
  EXPECT_EQ(c.registration.min_interval_per_ip, std::chrono::seconds(60));
  EXPECT_EQ(c.limit.max_stanza_size, 262144u);
  EXPECT_EQ(c.limit.max_depth, 32u);
  EXPECT_EQ(c.limit.handshake_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c.limit.idle_release_delay, std::chrono::seconds(5));
  EXPECT_EQ(c.limit.shutdown_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.storage.path, "/etc/starling/starling.db");
  EXPECT_FALSE(c.modules.version_show_os);
}

TEST(Load, EveryKeyIsRead) {
  std::string text = R"(
data_dir = "/srv/xmpp"
threads = 4
network_slice_us = 250
[log]
level = "debug"
file = "log/starling.log"
[tls]
certificate = "/etc/ssl/xmpp.pem"
key = "private/xmpp.key"
min_version = "1.3"
ciphers = "ECDHE+AESGCM"
require_c2s_encryption = false
[auth]
mechanisms = ["SCRAM-SHA-256", "PLAIN"]
allow_plain = false
legacy_auth = false
scram_iterations = 10000
max_failures_per_ip = 0
max_failures_per_account = 3
failure_window = 60
resource_conflict = "random"
[registration]
min_interval_per_ip = 0
min_password_length = 8
[limits]
max_stanza_size = 65536
max_depth = 16
handshake_timeout = 10
close_timeout = 2
idle_timeout = 600
max_connections_per_ip = 0
idle_release_delay = 0
shutdown_timeout = 3
[storage]
backend = "sqlite"
path = ":memory:"
[modules]
version_show_os = true
[[host]]
name = "Example.ORG."
certificate = "certs/example.crt"
key = "certs/example.key"
registration = true
[[host]]
name = "chat.example.org"
[[listener]]
type = "c2s_tls"
address = "::"
port = 0
)";
  auto r = load(text);
  ASSERT_TRUE(r.config) << all_errors(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.data_dir, "/srv/xmpp");
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.network_slice_us, 250u);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.file, "/srv/xmpp/log/starling.log");
  EXPECT_EQ(c.tls.certificate, "/etc/ssl/xmpp.pem");  // absolute stays
  EXPECT_EQ(c.tls.key, "/srv/xmpp/private/xmpp.key");
  EXPECT_EQ(c.tls.min_version, "1.3");
  EXPECT_EQ(c.tls.ciphers, "ECDHE+AESGCM");
  EXPECT_FALSE(c.tls.require_c2s_encryption);
  EXPECT_EQ(c.auth.mechanisms, (std::vector<std::string>{"SCRAM-SHA-256", "PLAIN"}));
  EXPECT_FALSE(c.auth.allow_plain);
  EXPECT_FALSE(c.auth.legacy_auth);
  EXPECT_EQ(c.auth.scram_iterations, 10000u);
  EXPECT_EQ(c.auth.max_failures_per_ip, 0u);
  EXPECT_EQ(c.auth.max_failures_per_account, 3u);
  EXPECT_EQ(c.auth.failure_window, std::chrono::seconds(60));
  EXPECT_EQ(c.auth.conflict, cfg::resource_conflict::random);
  EXPECT_EQ(c.registration.min_interval_per_ip, std::chrono::seconds(0));
  EXPECT_EQ(c.registration.min_password_length, 8u);
  EXPECT_EQ(c.limit.max_stanza_size, 65536u);
  EXPECT_EQ(c.limit.max_depth, 16u);
  EXPECT_EQ(c.limit.handshake_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c.limit.close_timeout, std::chrono::seconds(2));
  EXPECT_EQ(c.limit.idle_timeout, std::chrono::seconds(600));
  EXPECT_EQ(c.limit.max_connections_per_ip, 0u);
  EXPECT_EQ(c.limit.idle_release_delay, std::chrono::seconds(0));
  EXPECT_EQ(c.limit.shutdown_timeout, std::chrono::seconds(3));
  EXPECT_EQ(c.storage.path, ":memory:");
  EXPECT_TRUE(c.modules.version_show_os);
  ASSERT_EQ(c.hosts.size(), 2u);
  EXPECT_EQ(c.hosts[0].name, "example.org");  // prepared: lowercase, trailing dot removed
  EXPECT_EQ(c.hosts[0].certificate, "/srv/xmpp/certs/example.crt");
  EXPECT_EQ(c.hosts[0].key, "/srv/xmpp/certs/example.key");
  EXPECT_TRUE(c.hosts[0].registration);
  EXPECT_FALSE(c.hosts[1].registration);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].kind, cfg::listener_kind::c2s_direct_tls);
  EXPECT_EQ(c.listeners[0].address, "::");
  EXPECT_EQ(c.listeners[0].port, 0);
}

TEST(Load, RelativeDataDirResolvesAgainstTheConfigFile) {
  auto r = cfg::load_string(std::string("data_dir = \"../var/./data/\"\n") + minimal,
                            "/opt/starling/etc/starling.toml");
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_EQ(r.config->data_dir, "/opt/starling/var/data");
  EXPECT_EQ(r.config->storage.path, "/opt/starling/var/data/starling.db");
  EXPECT_EQ(r.config->tls.certificate, "/opt/starling/var/data/certs/example.org.crt");
}

TEST(Load, RelativeSourceNameUsesTheWorkingDirectory) {
  auto r = cfg::load_string(minimal, "starling.toml");
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_EQ(r.config->data_dir, fs::current_path().lexically_normal());
  EXPECT_TRUE(r.config->data_dir.is_absolute());
}

TEST(Load, ReadsAFile) {
  fs::path dir = fs::temp_directory_path() / ("starling-config-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "s.toml";
  std::ofstream(file) << minimal << "[limits]\nmax_depth = 1\n";
  auto r = cfg::load(file);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].file, file.string());
  EXPECT_EQ(r.errors[0].line, 8u);
  std::ofstream(file) << minimal;
  r = cfg::load(file);
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_EQ(r.config->data_dir, dir);
  EXPECT_EQ(r.config->source, file);
  fs::remove_all(dir);
}

TEST(Load, MissingFile) {
  auto r = cfg::load("/nonexistent/starling.toml");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].str(),
            "/nonexistent/starling.toml: cannot open the configuration file: No such file or directory");
}

TEST(ServerConfig, FindHostResolveAndCertificates) {
  auto r = load(std::string(minimal) + R"(
[[host]]
name = "other.org"
certificate = "/etc/ssl/other.crt"
key = "/etc/ssl/other.key"
)");
  ASSERT_TRUE(r.config) << all_errors(r);
  const auto& c = *r.config;
  ASSERT_NE(c.find_host("example.org"), nullptr);
  EXPECT_EQ(c.find_host("example.org")->name, "example.org");
  EXPECT_EQ(c.find_host("nowhere.org"), nullptr);
  EXPECT_EQ(c.resolve("a/../b.db"), "/etc/starling/b.db");
  EXPECT_EQ(c.resolve("/x/y"), "/x/y");
  EXPECT_EQ(c.resolve(""), "");
  EXPECT_EQ(c.certificate_for(c.hosts[0]), c.tls.certificate);
  EXPECT_EQ(c.key_for(c.hosts[0]), c.tls.key);
  EXPECT_EQ(c.certificate_for(c.hosts[1]), "/etc/ssl/other.crt");
  EXPECT_EQ(c.key_for(c.hosts[1]), "/etc/ssl/other.key");
}

TEST(AuthSettings, PlainNeedsAllowPlain) {
  cfg::auth_settings a;
  a.mechanisms = {"SCRAM-SHA-1", "PLAIN"};
  EXPECT_TRUE(a.is_enabled("PLAIN"));
  EXPECT_TRUE(a.is_enabled("SCRAM-SHA-1"));
  EXPECT_FALSE(a.is_enabled("SCRAM-SHA-256"));
  a.allow_plain = false;
  EXPECT_FALSE(a.is_enabled("PLAIN"));
}

TEST(ConfigError, Format) {
  EXPECT_EQ((cfg::config_error{"a.toml", 3, 9, "bad"}).str(), "a.toml:3:9: bad");
  EXPECT_EQ((cfg::config_error{"a.toml", 0, 0, "bad"}).str(), "a.toml: bad");
}

// --- unknown keys -------------------------------------------------------------------------------

TEST(Errors, UnknownTopLevelKey) {
  std::string text = std::string("thread = 4\n") + minimal;
  auto e = single_error(text);
  EXPECT_EQ(e.file, config_path);
  EXPECT_EQ(e.line, 1u);
  EXPECT_EQ(e.column, 1u);
  // The list grows with every table a feature adds; its start and the required tables are
  // what matters here.
  EXPECT_THAT(e.message, HasSubstr("unknown key \"thread\" at top level; expected one of: data_dir, "
                                   "threads, network_slice_us, [log], [tls], [auth], [registration], [limits], "
                                   "[s2s], [storage], [modules]"));
  EXPECT_THAT(e.message, HasSubstr("[[host]], [[listener]]"));
  EXPECT_THAT(e.message, HasSubstr("did you mean \"threads\"?"));
}

TEST(Errors, UnknownTopLevelTable) {
  std::string text = std::string(minimal) + "\n[limit]\nmax_depth = 8\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, line_of(text, "[limit]"));
  EXPECT_THAT(e.message, HasSubstr("unknown table [limit]; expected one of:"));
  EXPECT_THAT(e.message, HasSubstr("did you mean \"limits\"?"));
}

TEST(Errors, UnknownSubTable) {
  std::string text = std::string(minimal) + "\n[limits.sub]\nx = 1\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, line_of(text, "[limits.sub]"));
  EXPECT_THAT(e.message, HasSubstr("unknown table [limits.sub]; expected one of: max_stanza_size"));
}

// Every table rejects keys it does not know, and lists the ones it does.
class UnknownKeyInTable : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(UnknownKeyInTable, IsReportedWithItsLineAndTheValidKeys) {
  auto [header, first_valid_key] = GetParam();
  std::string text;
  if (header == "[[host]]")
    text = "[[host]]\nname = \"example.org\"\nbogus_key = 1\n[[listener]]\n";
  else if (header == "[[listener]]")
    text = "[[host]]\nname = \"example.org\"\n[[listener]]\nbogus_key = 1\n";
  else
    text = std::string(minimal) + "\n" + header + "\nbogus_key = 1\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, line_of(text, "bogus_key"));
  EXPECT_EQ(e.column, 1u);
  EXPECT_THAT(e.message, HasSubstr("unknown key \"bogus_key\" in " + header +
                                   "; expected one of: " + first_valid_key));
}

INSTANTIATE_TEST_SUITE_P(
    AllTables, UnknownKeyInTable,
    ::testing::Values(std::pair<std::string, std::string>{"[log]", "level"},
                      std::pair<std::string, std::string>{"[tls]", "certificate"},
                      std::pair<std::string, std::string>{"[auth]", "mechanisms"},
                      std::pair<std::string, std::string>{"[registration]", "min_interval_per_ip"},
                      std::pair<std::string, std::string>{"[limits]", "max_stanza_size"},
                      std::pair<std::string, std::string>{"[s2s]", "enabled"},
                      std::pair<std::string, std::string>{"[storage]", "backend"},
                      std::pair<std::string, std::string>{"[modules]", "version_show_os"},
                      std::pair<std::string, std::string>{"[[host]]", "name"},
                      std::pair<std::string, std::string>{"[[listener]]", "type"}));

TEST(Errors, UnknownKeySuggestsTheClosestOne) {
  std::string text = std::string(minimal) + "[limits]\nmax_stanzas = 100000\n";
  auto e = single_error(text);
  EXPECT_EQ(e.str(),
            "/etc/starling/starling.toml:8:1: unknown key \"max_stanzas\" in [limits]; expected "
            "one of: max_stanza_size, max_depth, handshake_timeout, close_timeout, idle_timeout, "
            "max_connections_per_ip, max_bytes_per_second, max_roster_items, max_offline_messages, "
            "max_privacy_lists, max_privacy_list_items, max_blocked_jids, max_vcard_size, "
            "max_subscriptions_per_minute, idle_release_delay, shutdown_timeout; did you mean \"max_stanza_size\"?");
}

// --- types, ranges, choices ---------------------------------------------------------------------

TEST(Errors, WrongTypes) {
  struct test_case {
    std::string text;
    std::string needle;
    std::string message;
  };
  std::vector<test_case> cases = {
      {"threads = \"4\"\n", "\"4\"", "threads is a string; expected an integer from 0 to 1024"},
      {"[tls]\nrequire_c2s_encryption = \"yes\"\n", "\"yes\"",
       "[tls] require_c2s_encryption is a string; expected true or false"},
      {"[limits]\nhandshake_timeout = 2.5\n", "2.5",
       "[limits] handshake_timeout is a floating-point number; expected a number of seconds from 1 to 3600"},
      {"[limits]\nshutdown_timeout = \"5s\"\n", "\"5s\"",
       "[limits] shutdown_timeout is a string; expected a number of seconds from 0 to 3600"},
      {"[log]\nfile = 3\n", "3", "[log] file is an integer; expected a file path (string)"},
      {"log = \"debug\"\n", "\"debug\"", "log is a string; expected a table [log]"},
      {"[auth]\nmechanisms = \"PLAIN\"\n", "\"PLAIN\"",
       "[auth] mechanisms is a string; expected an array of mechanism names"},
      {"[auth]\nmechanisms = [\"PLAIN\", 3]\n", "3]", "an element of [auth] mechanisms is an integer"},
  };
  for (const auto& c : cases) {
    std::string text = c.text + minimal;
    auto e = single_error(text);
    EXPECT_EQ(e.line, line_of(text, c.needle)) << c.text;
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.text;
  }
}

TEST(Errors, TableInsteadOfArrayOfTables) {
  std::string text = "[host]\nname = \"example.org\"\n[[listener]]\n";
  auto r = load(text);
  ASSERT_FALSE(r.config);
  ASSERT_GE(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 1u);
  EXPECT_THAT(r.errors[0].message,
              HasSubstr("host is a table; expected an array of tables, each starting with [[host]]"));
}

TEST(Errors, OutOfRange) {
  std::string text = std::string(minimal) + "[limits]\nmax_depth = 1000\n";
  auto e = single_error(text);
  EXPECT_EQ(e.str(),
            "/etc/starling/starling.toml:8:13: [limits] max_depth = 1000 is out of range; expected "
            "an integer from 4 to 256");

  struct test_case {
    std::string text;
    std::string message;
  };
  std::vector<test_case> cases = {
      {"threads = -1\n", "threads = -1 is out of range"},
      {"network_slice_us = 200000\n",
       "network_slice_us = 200000 is out of range; expected microseconds from 0 to 100000"},
      {"[auth]\nscram_iterations = 1000\n",
       "[auth] scram_iterations = 1000 is out of range; expected an integer from 4096 to 10000000"},
      // RFC 6120 §13.12: no lower than 10000 bytes.
      {"[limits]\nmax_stanza_size = 1024\n",
       "[limits] max_stanza_size = 1024 is out of range; expected a number of bytes from 10000 to 16777216"},
      {"[limits]\nclose_timeout = 0\n", "[limits] close_timeout = 0 is out of range"},
      {"[registration]\nmin_password_length = 0\n", "min_password_length = 0 is out of range"},
      {"[auth]\nfailure_window = 9999999999999\n", "failure_window = 9999999999999 is out of range"},
      {"[stream_management]\nmax_unacked = 5\n",
       "[stream_management] max_unacked = 5 is out of range; expected a number of stanzas from 10 to 1000000"},
      {"[push]\nmax_per_account = 0\n", "[push] max_per_account = 0 is out of range"},
  };
  for (const auto& c : cases) {
    std::string text2 = c.text + minimal;
    auto e2 = single_error(text2);
    EXPECT_EQ(e2.line, static_cast<uint32_t>(std::count(c.text.begin(), c.text.end(), '\n')));
    EXPECT_THAT(e2.message, HasSubstr(c.message)) << c.text;
  }
  auto port = single_error("[[host]]\nname = \"a.org\"\n[[listener]]\nport = 70000\n");
  EXPECT_EQ(port.line, 4u);
  EXPECT_THAT(port.message, HasSubstr("[[listener]] port = 70000 is out of range; expected a port "
                                      "number from 0 to 65535"));
}

TEST(Errors, BadChoices) {
  struct test_case {
    std::string text;
    std::string message;
  };
  std::vector<test_case> cases = {
      {"[log]\nlevel = \"verbose\"\n",
       "[log] level = \"verbose\" is not allowed; expected one of: \"trace\", \"debug\", \"info\", "
       "\"warn\", \"error\", \"critical\", \"off\""},
      {"[log]\nlevel = \"warning\"\n", "did you mean \"warn\"?"},
      {"[tls]\nmin_version = \"1.1\"\n",
       "[tls] min_version = \"1.1\" is not allowed; expected one of: \"1.2\", \"1.3\""},
      {"[auth]\nresource_conflict = \"kick\"\n",
       "[auth] resource_conflict = \"kick\" is not allowed; expected one of: \"replace\", \"reject\", \"random\""},
      {"[storage]\nbackend = \"mysql\"\n", "[storage] backend = \"mysql\" is not allowed"},
      {"[storage]\nbackend = \"postgresql\"\n",
       "[storage] backend = \"postgresql\" is not available in this build; expected \"sqlite\""},
      {"[storage]\npath = \"\"\n", "[storage] path is empty"},
  };
  for (const auto& c : cases) {
    std::string text = c.text + minimal;
    auto e = single_error(text);
    EXPECT_EQ(e.line, 2u) << c.text;
    EXPECT_THAT(e.message, HasSubstr(c.message)) << c.text;
  }
  auto type = single_error("[[host]]\nname = \"a.org\"\n[[listener]]\ntype = \"s2s_plain\"\n");
  EXPECT_EQ(type.line, 4u);
  EXPECT_THAT(type.message, HasSubstr("[[listener]] type = \"s2s_plain\" is not allowed; expected one "
                                      "of: \"c2s\", \"c2s_tls\", \"s2s\", \"s2s_tls\""));
}

TEST(Errors, Mechanisms) {
  auto unknown = single_error(std::string("[auth]\nmechanisms = [\"SCRAM-SHA-1\", \"scram-sha-256\"]\n") + minimal);
  EXPECT_EQ(unknown.line, 2u);
  EXPECT_EQ(unknown.column, 30u);
  EXPECT_THAT(unknown.message,
              HasSubstr("[auth] mechanisms contains \"scram-sha-256\", which is not supported; "
                        "expected one of: SCRAM-SHA-512-PLUS,"));
  EXPECT_THAT(unknown.message, HasSubstr("did you mean \"SCRAM-SHA-256\"?"));

  auto twice = single_error(std::string("[auth]\nmechanisms = [\"PLAIN\", \"PLAIN\"]\n") + minimal);
  EXPECT_THAT(twice.message, HasSubstr("[auth] mechanisms lists \"PLAIN\" twice"));

  auto empty = single_error(std::string("[auth]\nmechanisms = []\n") + minimal);
  EXPECT_EQ(empty.line, 2u);
  EXPECT_THAT(empty.message, HasSubstr("[auth] mechanisms is empty"));
}

// --- hosts and listeners ------------------------------------------------------------------------

TEST(Errors, DuplicateHost) {
  std::string text = std::string(minimal) + "[[host]]\nname = \"EXAMPLE.org\"\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, 8u);
  EXPECT_EQ(e.column, 8u);
  EXPECT_THAT(e.message, HasSubstr("[[host]] name = \"EXAMPLE.org\" is already defined at line 3; "
                                   "expected each host once"));
}

TEST(Errors, InvalidHostNames) {
  for (const std::string& name : std::vector<std::string>{"bad..name", "-x.org", "x-.org", "10.0.0.256",
                                                      "a b.org", "", ".", std::string(64, 'a') + ".org",
                                                      "[::1"}) {
    std::string text = "[[host]]\nname = \"" + name + "\"\n[[listener]]\n";
    auto e = single_error(text);
    EXPECT_EQ(e.line, 2u) << name;
    EXPECT_THAT(e.message, HasSubstr("is not a valid domain name; expected")) << name;
  }
  for (std::string name : {"localhost", "a.example.org", "xn--bcher-kva.example", "10.0.0.1", "[::1]"}) {
    auto r = load("[[host]]\nname = \"" + name + "\"\n[[listener]]\n");
    EXPECT_TRUE(r.config) << name << ": " << all_errors(r);
  }
}

TEST(Errors, HostWithoutName) {
  std::string text = std::string(minimal) + "\n[[host]]\nregistration = true\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, line_of(text, "[[host]]\nregistration"));
  EXPECT_THAT(e.message, HasSubstr("[[host]] has no name; expected a domain"));
}

TEST(Errors, MissingHostAndListener) {
  auto r = load("threads = 2\n");
  ASSERT_EQ(r.errors.size(), 2u) << all_errors(r);
  EXPECT_EQ(r.errors[0].line, 0u);
  EXPECT_EQ(r.errors[0].str(),
            "/etc/starling/starling.toml: no [[host]] is configured; expected at least one, e.g. "
            "[[host]] name = \"example.org\"");
  EXPECT_THAT(r.errors[1].message, HasSubstr("no [[listener]] is configured; expected at least one"));
  auto empty_arrays = load("host = []\nlistener = []\n");
  EXPECT_EQ(empty_arrays.errors.size(), 2u) << all_errors(empty_arrays);
}

TEST(Errors, DuplicateListener) {
  std::string text = R"([[host]]
name = "example.org"
[[listener]]
address = "::1"
port = 5222
[[listener]]
type = "c2s_tls"
address = "0:0::1"
)";
  auto e = single_error(text);
  EXPECT_EQ(e.line, 6u);
  EXPECT_THAT(e.message, HasSubstr("[[listener]] 0:0::1:5222 is already used by the listener at "
                                   "line 3; expected each address and port once"));
  // Port 0 means "any free port": never a conflict.
  auto r = load("[[host]]\nname = \"a.org\"\n[[listener]]\nport = 0\n[[listener]]\nport = 0\n");
  EXPECT_TRUE(r.config) << all_errors(r);
}

TEST(Errors, ListenerAddressMustBeALiteral) {
  auto e = single_error("[[host]]\nname = \"a.org\"\n[[listener]]\naddress = \"localhost\"\n");
  EXPECT_EQ(e.line, 4u);
  EXPECT_THAT(e.message, HasSubstr("[[listener]] address = \"localhost\" is not an IP address; "
                                   "expected an IPv4 or IPv6 literal"));
}

TEST(Errors, CertificateWithoutKey) {
  auto tls = single_error(std::string("[tls]\ncertificate = \"x.crt\"\n") + minimal);
  EXPECT_EQ(tls.line, 2u);
  EXPECT_THAT(tls.message, HasSubstr("[tls] certificate is set but [tls] key is not; expected both"));
  auto host = single_error("[[host]]\nname = \"a.org\"\nkey = \"a.key\"\n[[listener]]\n");
  EXPECT_EQ(host.line, 3u);
  EXPECT_THAT(host.message, HasSubstr("[[host]] key is set but [[host]] certificate is not"));
}

TEST(Errors, HostWithoutAnyCertificate) {
  auto e = single_error(std::string("[tls]\ncertificate = \"\"\nkey = \"\"\n") + minimal);
  EXPECT_EQ(e.line, 6u);
  EXPECT_THAT(e.message, HasSubstr("[[host]] \"example.org\" has no certificate and [tls] "
                                   "certificate is empty"));
  // Fine when every host brings its own pair.
  auto r = load("[tls]\ncertificate = \"\"\nkey = \"\"\n[[host]]\nname = \"a.org\"\n"
                "certificate = \"a.crt\"\nkey = \"a.key\"\n[[listener]]\n");
  EXPECT_TRUE(r.config) << all_errors(r);
}

TEST(Errors, FastRotationMustBeShorterThanLifetime) {
  auto e = single_error(std::string("[fast]\ntoken_lifetime = 7200\nrotate_after = 7200\n") + minimal);
  EXPECT_EQ(e.line, 3u);
  EXPECT_THAT(e.message, HasSubstr("[fast] rotate_after (7200 s) is not shorter than [fast] token_lifetime"));
  auto r = load(std::string("[fast]\ntoken_lifetime = 7200\nrotate_after = 3600\n") + minimal);
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_EQ(r.config->fast.token_lifetime, std::chrono::seconds(7200));
  EXPECT_EQ(r.config->fast.rotate_after, std::chrono::seconds(3600));
  auto low = single_error(std::string("[fast]\ntoken_lifetime = 60\n") + minimal);
  EXPECT_THAT(low.message, HasSubstr("token_lifetime"));
}

TEST(Errors, ExternalServices) {
  auto ok = load(std::string(minimal) +
                 "[[external_service]]\ntype = \"turn\"\nhost = \"turn.example.org\"\nport = 3478\n"
                 "transport = \"udp\"\nsecret = \"s\"\ncredential_lifetime = 600\n"
                 "[[external_service]]\ntype = \"stun\"\nhost = \"192.0.2.1\"\n");
  ASSERT_TRUE(ok.config) << all_errors(ok);
  ASSERT_EQ(ok.config->external_services.size(), 2u);
  EXPECT_EQ(ok.config->external_services[0].secret, "s");
  EXPECT_EQ(ok.config->external_services[0].credential_lifetime, std::chrono::seconds(600));
  EXPECT_TRUE(ok.config->external_services[0].restricted());
  EXPECT_FALSE(ok.config->external_services[1].restricted());

  auto no_host = single_error(std::string(minimal) + "[[external_service]]\ntype = \"turn\"\n");
  EXPECT_THAT(no_host.message, HasSubstr("needs a host"));
  auto no_type = single_error(std::string(minimal) + "[[external_service]]\nhost = \"h\"\n");
  EXPECT_THAT(no_type.message, HasSubstr("needs a type"));
  auto half = single_error(std::string(minimal) +
                           "[[external_service]]\ntype = \"turn\"\nhost = \"h\"\nusername = \"u\"\n");
  EXPECT_THAT(half.message, HasSubstr("only one of username and password"));
  auto both = single_error(std::string(minimal) +
                           "[[external_service]]\ntype = \"turn\"\nhost = \"h\"\nusername = \"u\"\n"
                           "password = \"p\"\nsecret = \"s\"\n");
  EXPECT_THAT(both.message, HasSubstr("both secret and username/password"));
  auto lifetime = single_error(std::string(minimal) +
                               "[[external_service]]\ntype = \"turn\"\nhost = \"h\"\ncredential_lifetime = 600\n");
  EXPECT_THAT(lifetime.message, HasSubstr("credential_lifetime is set without secret"));
  auto transport = single_error(std::string(minimal) +
                                "[[external_service]]\ntype = \"turn\"\nhost = \"h\"\ntransport = \"sctp\"\n");
  EXPECT_THAT(transport.message, HasSubstr("transport"));
}

TEST(Errors, EmptyDataDirAndNulInPath) {
  auto e = single_error(std::string("data_dir = \"\"\n") + minimal);
  EXPECT_EQ(e.line, 1u);
  EXPECT_THAT(e.message, HasSubstr("data_dir is empty"));
  auto nul = single_error(std::string("[log]\nfile = \"a\\u0000b\"\n") + minimal);
  EXPECT_THAT(nul.message, HasSubstr("[log] file contains a NUL character"));
}

// --- syntax and collection ----------------------------------------------------------------------

TEST(Errors, SyntaxError) {
  std::string text = "threads = 2\n[limits\nmax_depth = 8\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, 2u);
  EXPECT_GT(e.column, 0u);
  EXPECT_THAT(e.message, HasSubstr("TOML syntax error"));
  auto dup = single_error("threads = 1\nthreads = 2\n");
  EXPECT_EQ(dup.line, 2u);
  EXPECT_THAT(dup.message, HasSubstr("TOML syntax error"));
}

TEST(Errors, AllErrorsAreReportedInFileOrder) {
  std::string text = R"(threads = "many"
[limits]
max_depth = 1
bogus = true
[[host]]
name = "bad..name"
[[listener]]
port = -5
[log]
level = "loud"
)";
  auto r = load(text);
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 6u) << all_errors(r);
  std::vector<uint32_t> lines;
  for (const auto& e : r.errors) lines.push_back(e.line);
  EXPECT_EQ(lines, (std::vector<uint32_t>{1, 3, 4, 6, 8, 10}));
}

TEST(Errors, ValuesAreQuotedSafely) {
  auto e = single_error(std::string("[log]\nlevel = \"a\\nb\\\"c\"\n") + minimal);
  EXPECT_THAT(e.message, HasSubstr("level = \"a\\u000Ab\\\"c\" is not allowed"));
}

// --- [s2s] --------------------------------------------------------------------------------------

TEST(S2s, DefaultsAndRoutes) {
  std::string text = std::string(minimal) + R"(
[[listener]]
type = "s2s"
port = 5269
[s2s]
require_valid_certificates = true
ca_file = "certs/peers.pem"
dns_servers = "127.0.0.1:5353"
handshake_timeout = 5
[s2s.routes]
"Partner.Example" = "192.0.2.10:5270"
"v6.example" = "tls://[2001:db8::1]:5269"
)";
  auto r = load(text);
  ASSERT_TRUE(r.config) << all_errors(r);
  const auto& s = r.config->s2s;
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.dialback);
  EXPECT_TRUE(s.require_encryption);
  EXPECT_TRUE(s.require_valid_certificates);
  EXPECT_EQ(s.ca_file, "/etc/starling/certs/peers.pem");
  EXPECT_EQ(s.dns_servers, "127.0.0.1:5353");
  EXPECT_EQ(s.handshake_timeout, std::chrono::seconds(5));
  EXPECT_EQ(s.idle_timeout, std::chrono::seconds(600));
  EXPECT_EQ(r.config->listeners.back().kind, cfg::listener_kind::s2s_starttls);
  ASSERT_EQ(s.routes.size(), 2u);
  const auto* p = s.find_route("partner.example");  // prepared like any domain
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "192.0.2.10");
  EXPECT_EQ(p->port, 5270);
  EXPECT_FALSE(p->direct_tls);
  const auto* v6 = s.find_route("v6.example");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_TRUE(v6->direct_tls);
  EXPECT_FALSE(s.find_route("other.example"));
}

TEST(S2s, BadRouteIsReportedWithItsLine) {
  std::string text = std::string(minimal) + "[s2s.routes]\n\"b.example\" = \"192.0.2.1\"\n";
  auto e = single_error(text);
  EXPECT_EQ(e.line, line_of(text, "\"b.example\""));
  EXPECT_THAT(e.message, HasSubstr("is not an address; expected \"host:port\""));
  e = single_error(std::string(minimal) + "[s2s.routes]\n\"b.example\" = \"h:70000\"\n");
  EXPECT_THAT(e.message, HasSubstr("port from 1 to 65535"));
  e = single_error(std::string(minimal) + "[s2s.routes]\n\"b.example\" = 5269\n");
  EXPECT_THAT(e.message, HasSubstr("expected a string"));
  e = single_error(std::string(minimal) + "[s2s.routes]\n\"bad domain..\" = \"h:1\"\n");
  EXPECT_THAT(e.message, HasSubstr("not a valid domain name"));
}

TEST(S2s, DialbackOffNeedsEncryption) {
  auto e = single_error(std::string(minimal) + "[s2s]\ndialback = false\nrequire_encryption = false\n");
  EXPECT_THAT(e.message, HasSubstr("dialback = false needs require_encryption = true"));
}

// --- the documentation --------------------------------------------------------------------------

// docs/configuration.md's complete example must stay a valid configuration.
TEST(Load, StreamManagementAndPush) {
  auto r = load(std::string(minimal) +
                "[stream_management]\nresume_timeout = 60\nmax_resume_timeout = 120\nmax_unacked = 50\n"
                "csi_max_queue = 7\nenabled = false\n[push]\ninclude_body = true\nrequest_timeout = 5\n");
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_FALSE(r.config->sm.enabled);
  EXPECT_EQ(r.config->sm.resume_timeout, std::chrono::seconds(60));
  EXPECT_EQ(r.config->sm.max_resume_timeout, std::chrono::seconds(120));
  EXPECT_EQ(r.config->sm.max_unacked, 50u);
  EXPECT_EQ(r.config->sm.csi_max_queue, 7u);
  EXPECT_TRUE(r.config->push.include_body);
  EXPECT_EQ(r.config->push.request_timeout, std::chrono::seconds(5));
  // XEP-0198 §5: the client's 'max' is capped by max_resume_timeout, which must allow the default.
  auto e = single_error(std::string(minimal) + "[stream_management]\nresume_timeout = 600\nmax_resume_timeout = 60\n");
  EXPECT_THAT(e.message, HasSubstr("max_resume_timeout = 60 is below resume_timeout = 600"));
}

TEST(Load, Pep) {
  auto r = load(std::string(minimal) + "[pep]\nmax_items = 10\nmax_payload_bytes = 2048\nmax_nodes = 5\n");
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_EQ(r.config->pep.max_items, 10u);
  EXPECT_EQ(r.config->pep.max_payload_bytes, 2048u);
  EXPECT_EQ(r.config->pep.max_nodes, 5u);
  EXPECT_EQ(load(std::string(minimal)).config->pep, cfg::pep_settings{});
  auto e = single_error(std::string(minimal) + "[pep]\nmax_items = 0\n");
  EXPECT_THAT(e.message, HasSubstr("max_items"));
  e = single_error(std::string(minimal) + "[pep]\nmax_payload_bytes = 10\n");
  EXPECT_THAT(e.message, HasSubstr("max_payload_bytes"));
  e = single_error(std::string(minimal) + "[pep]\nmax_node = 5\n");
  EXPECT_THAT(e.message, HasSubstr("did you mean \"max_nodes\"?"));
}

TEST(Documentation, CompleteExampleLoads) {
  fs::path doc = fs::path(__FILE__).parent_path() / "../../docs/configuration.md";
  std::ifstream in(doc);
  ASSERT_TRUE(in) << "cannot open " << doc;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t section = text.find("## Complete example");
  ASSERT_NE(section, std::string::npos);
  size_t start = text.find("```toml\n", section);
  ASSERT_NE(start, std::string::npos);
  start += 8;
  size_t end = text.find("```", start);
  ASSERT_NE(end, std::string::npos);
  auto r = cfg::load_string(text.substr(start, end - start), "/etc/starling/starling.toml");
  ASSERT_TRUE(r.config) << all_errors(r);
  EXPECT_GE(r.config->hosts.size(), 2u);
}
