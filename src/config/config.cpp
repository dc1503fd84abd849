// Loading and validating starling.toml. The schema is the sequence of read_* calls below, one
// function per table; docs/configuration.md documents the same keys and bounds, and
// config_test.cpp loads the example from that document so the two stay in step.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "config/domain_name.hpp"
#include "config/toml_reader.hpp"

namespace starling::config {
namespace fs = std::filesystem;

std::string config_error::str() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

bool auth_settings::is_enabled(std::string_view mechanism) const {
  if (mechanism == "PLAIN" && !allow_plain) return false;
  return std::find(mechanisms.begin(), mechanisms.end(), mechanism) != mechanisms.end();
}

const virtual_host* server_config::find_host(std::string_view name) const {
  for (const auto& host : hosts)
    if (host.name == name) return &host;
  return nullptr;
}

fs::path server_config::resolve(const fs::path& p) const {
  if (p.empty() || p.is_absolute()) return p;
  return (data_dir / p).lexically_normal();
}

const s2s_route* s2s_settings::find_route(std::string_view domain) const {
  for (const auto& r : routes)
    if (r.domain == domain) return &r;
  return nullptr;
}

fs::path server_config::certificate_for(const virtual_host& host) const {
  return host.certificate.empty() ? tls.certificate : host.certificate;
}

fs::path server_config::key_for(const virtual_host& host) const {
  return host.key.empty() ? tls.key : host.key;
}

namespace {

constexpr std::string_view log_levels[] = {"trace", "debug", "info", "warn",
                                           "error", "critical", "off"};
constexpr std::string_view tls_versions[] = {"1.2", "1.3"};
constexpr std::string_view conflict_policies[] = {"replace", "reject", "random"};
constexpr resource_conflict conflict_values[] = {resource_conflict::replace,
                                                 resource_conflict::reject,
                                                 resource_conflict::random};
// "postgresql" is accepted by the schema so that the error can say it is a build limitation,
// not a typo.
constexpr std::string_view storage_backends[] = {"sqlite", "postgresql"};
constexpr std::string_view mam_default_modes[] = {"always", "never", "roster"};
constexpr std::string_view listener_types[] = {"c2s", "c2s_tls", "s2s", "s2s_tls"};
constexpr listener_kind listener_values[] = {listener_kind::c2s_starttls, listener_kind::c2s_direct_tls,
                                             listener_kind::s2s_starttls, listener_kind::s2s_direct_tls};

constexpr int64_t one_day = 86400;

// A listener binds to an address literal; resolving a name at startup would make the socket
// depend on DNS and /etc/hosts. Writes the binary address for duplicate detection.
bool parse_listen_address(const std::string& address, std::string& bytes) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, address.c_str(), buf) == 1) {
    bytes.assign(reinterpret_cast<char*>(buf), 4);
    return true;
  }
  if (inet_pton(AF_INET6, address.c_str(), buf) == 1) {
    bytes.assign(reinterpret_cast<char*>(buf), 16);
    return true;
  }
  return false;
}
constexpr int64_t one_week = 7 * one_day;

// Loads one file's worth of TOML into a server_config; all methods append to `errors_`.
class loader {
 public:
  loader(error_sink& errors, fs::path base_dir) : errors_(errors), base_dir_(std::move(base_dir)) {}

  void load(const toml::table& root, server_config& cfg) {
    table_reader top(errors_, root, "", table_reader::table_kind::root);
    fs::path data_dir;
    if (top.read_path("data_dir", data_dir) && data_dir.empty())
      errors_.add(root.get("data_dir")->source().begin,
                  "data_dir is empty; expected a directory path (omit the key to use the "
                  "directory that contains the configuration file)");
    // Relative to the config file, not the working directory: the server must not find a
    // different data directory depending on where it was started from.
    cfg.data_dir = (base_dir_ / data_dir).lexically_normal();
    if (!cfg.data_dir.has_filename() && cfg.data_dir.has_relative_path())
      cfg.data_dir = cfg.data_dir.parent_path();  // "data/" -> "data", so == comparisons work
    top.read_int("threads", 0, 1024, cfg.threads);
    top.read_int("network_slice_us", 0, 100000, cfg.network_slice_us, "microseconds");

    if (auto* t = top.read_table("log")) read_log(*t, cfg.log);
    bool tls_pair_given = false;
    if (auto* t = top.read_table("tls")) tls_pair_given = read_tls(*t, cfg.tls);
    if (auto* t = top.read_table("auth")) read_auth(*t, cfg.auth);
    if (auto* t = top.read_table("registration")) read_registration(*t, cfg.registration);
    if (auto* t = top.read_table("limits")) read_limits(*t, cfg.limit);
    if (auto* t = top.read_table("s2s")) read_s2s(*t, cfg.s2s);
    if (auto* t = top.read_table("storage")) read_storage(*t, cfg.storage);
    if (auto* t = top.read_table("modules")) read_modules(*t, cfg.modules);
    if (auto* t = top.read_table("stream_management")) read_stream_management(*t, cfg.sm);
    if (auto* t = top.read_table("push")) read_push(*t, cfg.push);
    if (auto* t = top.read_table("fast")) read_fast(*t, cfg.fast);
    if (auto* t = top.read_table("mam")) read_mam(*t, cfg.mam);
    if (auto* t = top.read_table("pep")) read_pep(*t, cfg.pep);
    if (auto* a = top.read_array_of_tables("host")) read_hosts(*a, cfg);
    if (auto* a = top.read_array_of_tables("listener")) read_listeners(*a, cfg);
    if (auto* a = top.read_array_of_tables("external_service")) read_external_services(*a, cfg);
    top.finish();

    if (root.get("host") == nullptr || (root.get("host")->is_array() && root.get("host")->as_array()->empty()))
      errors_.add("no [[host]] is configured; expected at least one, e.g. [[host]] name = \"example.org\"");
    if (root.get("listener") == nullptr ||
        (root.get("listener")->is_array() && root.get("listener")->as_array()->empty()))
      errors_.add("no [[listener]] is configured; expected at least one, e.g. [[listener]] "
                  "type = \"c2s\" address = \"0.0.0.0\" port = 5222");

    // The default pair is named after the first host, so that a minimal config needs no
    // [tls] section and bootstrap's generated files say what they are for.
    if (!tls_pair_given && !cfg.hosts.empty()) {
      cfg.tls.certificate = fs::path("certs") / (cfg.hosts.front().name + ".crt");
      cfg.tls.key = fs::path("certs") / (cfg.hosts.front().name + ".key");
    }
    if (cfg.tls.certificate.empty()) {
      for (const auto& host : cfg.hosts)
        if (host.certificate.empty())
          errors_.add(host_positions_[host.name],
                      fmt::format("[[host]] {} has no certificate and [tls] certificate is empty; "
                                  "expected a certificate and key for every host, either its own "
                                  "or the [tls] default",
                                  table_reader::quote(host.name)));
    }

    cfg.tls.certificate = cfg.resolve(cfg.tls.certificate);
    cfg.tls.key = cfg.resolve(cfg.tls.key);
    for (auto& host : cfg.hosts) {
      host.certificate = cfg.resolve(host.certificate);
      host.key = cfg.resolve(host.key);
    }
    // SQLite's in-memory database is a name, not a file.
    if (cfg.storage.path != ":memory:") cfg.storage.path = cfg.resolve(cfg.storage.path);
    cfg.log.file = cfg.resolve(cfg.log.file);
    cfg.s2s.ca_file = cfg.resolve(cfg.s2s.ca_file);
  }

 private:
  void read_log(const toml::table& t, log_settings& out) {
    table_reader r(errors_, t, "log", table_reader::table_kind::table);
    if (auto i = r.read_choice("level", log_levels)) out.level = log_levels[*i];
    r.read_path("file", out.file);
    r.finish();
  }

  // Reads a certificate/key pair where both or neither must be given (an empty string counts
  // as not given). Returns true when a complete pair was given.
  bool read_pair(table_reader& r, const toml::table& t, fs::path& certificate, fs::path& key,
                 std::string_view fallback) {
    fs::path cert_in, key_in;
    r.read_path("certificate", cert_in);
    r.read_path("key", key_in);
    if (cert_in.empty() != key_in.empty()) {
      // Silently pairing a given certificate with some default key would fail later with an
      // obscure "key values mismatch" from OpenSSL; say it here instead.
      bool has_cert = !cert_in.empty();
      const toml::node* given = t.get(has_cert ? "certificate" : "key");
      errors_.add(given->source().begin,
                  fmt::format("{} is set but {} is not; expected both a certificate and its key, "
                              "or neither ({})",
                              r.name(has_cert ? "certificate" : "key"),
                              r.name(has_cert ? "key" : "certificate"), fallback));
      return false;
    }
    certificate = cert_in;
    key = key_in;
    return t.contains("certificate") || t.contains("key");
  }

  bool read_tls(const toml::table& t, tls_settings& out) {
    table_reader r(errors_, t, "tls", table_reader::table_kind::table);
    bool given = read_pair(r, t, out.certificate, out.key, "to use certs/<first host>.crt and .key");
    if (auto i = r.read_choice("min_version", tls_versions)) out.min_version = tls_versions[*i];
    r.read_string("ciphers", out.ciphers, "an OpenSSL cipher list (string)");
    r.read_bool("require_c2s_encryption", out.require_c2s_encryption);
    r.finish();
    return given;
  }

  void read_auth(const toml::table& t, auth_settings& out) {
    table_reader r(errors_, t, "auth", table_reader::table_kind::table);
    if (auto* a = r.read_array("mechanisms", "an array of mechanism names")) read_mechanisms(r, *a, out);
    r.read_bool("allow_plain", out.allow_plain);
    r.read_bool("legacy_auth", out.legacy_auth);
    // RFC 7677 §4: at least 4096; the upper bound keeps one login under roughly a second.
    r.read_int("scram_iterations", 4096, 10'000'000, out.scram_iterations);
    r.read_int("max_failures_per_ip", 0, 1'000'000, out.max_failures_per_ip);
    r.read_int("max_failures_per_account", 0, 1'000'000, out.max_failures_per_account);
    r.read_seconds("failure_window", 1, one_day, out.failure_window);
    if (auto i = r.read_choice("resource_conflict", conflict_policies)) out.conflict = conflict_values[*i];
    r.finish();
  }

  void read_mechanisms(table_reader& r, const toml::array& a, auth_settings& out) {
    std::string list;
    for (auto m : supported_sasl_mechanisms) list += fmt::format("{}{}", list.empty() ? "" : ", ", m);
    std::vector<std::string> result;
    bool ok = true;
    for (const toml::node& element : a) {
      auto* s = element.as_string();
      if (!s) {
        errors_.add(element.source().begin,
                    fmt::format("an element of {} is {}; expected a mechanism name, one of: {}",
                                r.name("mechanisms"), with_article(toml_type_name(element.type())), list));
        ok = false;
        continue;
      }
      const std::string& m = s->get();
      if (std::find(supported_sasl_mechanisms.begin(), supported_sasl_mechanisms.end(), m) ==
          supported_sasl_mechanisms.end()) {
        std::string message = fmt::format("{} contains {}, which is not supported; expected one of: {}",
                                          r.name("mechanisms"), table_reader::quote(m), list);
        if (auto hint = closest_match(m, supported_sasl_mechanisms))
          message += fmt::format("; did you mean {}?", table_reader::quote(*hint));
        errors_.add(element.source().begin, std::move(message));
        ok = false;
      } else if (std::find(result.begin(), result.end(), m) != result.end()) {
        errors_.add(element.source().begin,
                    fmt::format("{} lists {} twice; expected each mechanism once",
                                r.name("mechanisms"), table_reader::quote(m)));
        ok = false;
      } else {
        result.push_back(m);
      }
    }
    if (ok && result.empty()) {
      errors_.add(a.source().begin,
                  fmt::format("{} is empty, so nobody could log in; expected at least one of: {}",
                              r.name("mechanisms"), list));
      ok = false;
    }
    if (ok) out.mechanisms = std::move(result);
  }

  void read_registration(const toml::table& t, registration_settings& out) {
    table_reader r(errors_, t, "registration", table_reader::table_kind::table);
    r.read_seconds("min_interval_per_ip", 0, one_week, out.min_interval_per_ip);
    r.read_int("min_password_length", 1, 1024, out.min_password_length);
    r.finish();
  }

  void read_limits(const toml::table& t, limits& out) {
    table_reader r(errors_, t, "limits", table_reader::table_kind::table);
    // RFC 6120 §13.12 item 4: the limit must not be below 10000 bytes. The upper bound keeps
    // one client from making the server buffer an arbitrary amount of memory.
    r.read_int("max_stanza_size", 10000, 16 * 1024 * 1024, out.max_stanza_size, "a number of bytes");
    r.read_int("max_depth", 4, 256, out.max_depth);
    r.read_seconds("handshake_timeout", 1, 3600, out.handshake_timeout);
    r.read_seconds("close_timeout", 1, 300, out.close_timeout);
    r.read_seconds("idle_timeout", 0, one_week, out.idle_timeout);
    r.read_int("max_connections_per_ip", 0, 1'000'000, out.max_connections_per_ip);
    r.read_int("max_bytes_per_second", 0, 1024 * 1024 * 1024, out.max_bytes_per_second, "a number of bytes");
    r.read_int("max_roster_items", 1, 100'000, out.max_roster_items);
    r.read_int("max_offline_messages", 1, 1'000'000, out.max_offline_messages);
    r.read_int("max_privacy_lists", 1, 1000, out.max_privacy_lists);
    r.read_int("max_privacy_list_items", 1, 10'000, out.max_privacy_list_items);
    r.read_int("max_blocked_jids", 1, 100'000, out.max_blocked_jids);
    r.read_int("max_vcard_size", 1024, 16 * 1024 * 1024, out.max_vcard_size, "a number of bytes");
    r.read_int("max_subscriptions_per_minute", 1, 1'000'000, out.max_subscriptions_per_minute);
    r.read_seconds("idle_release_delay", 0, 3600, out.idle_release_delay);
    r.read_seconds("shutdown_timeout", 0, 3600, out.shutdown_timeout);
    r.finish();
  }

  void read_s2s(const toml::table& t, s2s_settings& out) {
    table_reader r(errors_, t, "s2s", table_reader::table_kind::table);
    r.read_bool("enabled", out.enabled);
    r.read_bool("require_encryption", out.require_encryption);
    r.read_bool("require_valid_certificates", out.require_valid_certificates);
    r.read_bool("dialback", out.dialback);
    r.read_path("ca_file", out.ca_file);
    r.read_string("dns_servers", out.dns_servers, "DNS servers as \"ip\" or \"ip:port\", comma-separated");
    r.read_string("dialback_secret", out.dialback_secret, "a secret string");
    r.read_seconds("connect_timeout", 1, 600, out.connect_timeout);
    r.read_seconds("handshake_timeout", 1, 3600, out.handshake_timeout);
    r.read_seconds("idle_timeout", 0, one_week, out.idle_timeout);
    r.read_int("max_queued_stanzas", 1, 1'000'000, out.max_queued_stanzas);
    r.read_int("max_streams", 1, 1'000'000, out.max_streams);
    if (auto* routes = r.read_table("routes")) read_s2s_routes(*routes, out);
    r.finish();
    if (!out.dialback && !out.require_encryption)
      errors_.add(r.position(),
                  "[s2s] dialback = false needs require_encryption = true: without dialback, peers "
                  "can only authenticate with certificates, which needs TLS");
  }

  // [s2s.routes]: "domain" = "host:port" or "tls://host:port" (IPv6 as "[::1]:5269").
  void read_s2s_routes(const toml::table& t, s2s_settings& out) {
    for (const auto& [key, node] : t) {
      std::string domain_in(key.str());
      auto at = node.source().begin;
      const auto* v = node.as_string();
      if (!v) {
        errors_.add(at, fmt::format("[s2s.routes] {} is {}; expected a string \"host:port\" or "
                                    "\"tls://host:port\"",
                                    table_reader::quote(domain_in), with_article(toml_type_name(node.type()))));
        continue;
      }
      auto domain = prepare_domain(domain_in);
      if (!domain) {
        errors_.add(at, fmt::format("[s2s.routes] {} is not a valid domain name; expected a domain such "
                                    "as \"example.org\"",
                                    table_reader::quote(domain_in)));
        continue;
      }
      s2s_route route;
      route.domain = *domain;
      std::string_view text = v->get();
      if (text.starts_with("tls://")) {
        route.direct_tls = true;
        text.remove_prefix(6);
      } else if (text.starts_with("tcp://")) {
        text.remove_prefix(6);
      }
      std::string_view host, port;
      if (text.starts_with("[")) {
        auto close = text.find(']');
        if (close != std::string_view::npos) {
          host = text.substr(1, close - 1);
          if (close + 1 < text.size() && text[close + 1] == ':') port = text.substr(close + 2);
        }
      } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
      }
      unsigned long p = 0;
      bool port_ok = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos;
      if (port_ok) p = std::stoul(std::string(port));
      if (host.empty() || !port_ok || p == 0 || p > 65535) {
        errors_.add(at, fmt::format("[s2s.routes] {} = {} is not an address; expected \"host:port\" or "
                                    "\"tls://host:port\" with a port from 1 to 65535, e.g. \"192.0.2.1:5269\"",
                                    table_reader::quote(domain_in), table_reader::quote(v->get())));
        continue;
      }
      route.host = std::string(host);
      route.port = static_cast<uint16_t>(p);
      if (out.find_route(route.domain)) {
        errors_.add(at, fmt::format("[s2s.routes] {} is given twice; expected each domain once",
                                    table_reader::quote(domain_in)));
        continue;
      }
      out.routes.push_back(std::move(route));
    }
  }

  void read_storage(const toml::table& t, storage_settings& out) {
    table_reader r(errors_, t, "storage", table_reader::table_kind::table);
    if (auto i = r.read_choice("backend", storage_backends)) {
      if (storage_backends[*i] == "postgresql")
        errors_.add(t.get("backend")->source().begin,
                    "[storage] backend = \"postgresql\" is not available in this build; expected "
                    "\"sqlite\"");
      else
        out.backend = storage_backends[*i];
    }
    if (r.read_path("path", out.path) && out.path.empty())
      errors_.add(t.get("path")->source().begin,
                  "[storage] path is empty; expected a database file path such as \"starling.db\"");
    r.finish();
  }

  void read_pep(const toml::table& t, pep_settings& out) {
    table_reader r(errors_, t, "pep", table_reader::table_kind::table);
    r.read_int("max_items", 1, 100'000, out.max_items);
    r.read_int("max_payload_bytes", 1024, 16 * 1024 * 1024, out.max_payload_bytes, "a number of bytes");
    r.read_int("max_nodes", 1, 100'000, out.max_nodes);
    r.finish();
  }

  void read_modules(const toml::table& t, module_settings& out) {
    table_reader r(errors_, t, "modules", table_reader::table_kind::table);
    r.read_bool("version_show_os", out.version_show_os);
    r.finish();
  }

  void read_stream_management(const toml::table& t, stream_management_settings& out) {
    table_reader r(errors_, t, "stream_management", table_reader::table_kind::table);
    r.read_bool("enabled", out.enabled);
    r.read_seconds("resume_timeout", 0, one_day, out.resume_timeout);
    r.read_seconds("max_resume_timeout", 0, one_week, out.max_resume_timeout);
    r.read_int("max_unacked", 10, 1'000'000, out.max_unacked, "a number of stanzas");
    r.read_int("csi_max_queue", 1, 100'000, out.csi_max_queue, "a number of stanzas");
    r.finish();
    if (out.max_resume_timeout < out.resume_timeout)
      errors_.add(r.position(), fmt::format("[stream_management] max_resume_timeout = {} is below resume_timeout = {}; "
                                            "expected at least resume_timeout",
                                            out.max_resume_timeout.count(), out.resume_timeout.count()));
  }

  void read_push(const toml::table& t, push_settings& out) {
    table_reader r(errors_, t, "push", table_reader::table_kind::table);
    r.read_bool("include_body", out.include_body);
    r.read_int("max_per_account", 1, 1000, out.max_per_account);
    r.read_seconds("request_timeout", 1, 3600, out.request_timeout);
    r.finish();
  }

  void read_fast(const toml::table& t, fast_settings& out) {
    table_reader r(errors_, t, "fast", table_reader::table_kind::table);
    r.read_bool("enabled", out.enabled);
    // At least an hour (a shorter token saves nothing over a password login), at most a year
    // (a lost device should not keep access longer).
    r.read_seconds("token_lifetime", 3600, 365 * one_day, out.token_lifetime);
    r.read_seconds("rotate_after", 60, 365 * one_day, out.rotate_after);
    r.finish();
    if (out.rotate_after >= out.token_lifetime) {
      const toml::node* at = t.get("rotate_after") ? t.get("rotate_after") : t.get("token_lifetime");
      std::string message = fmt::format(
          "[fast] rotate_after ({} s) is not shorter than [fast] token_lifetime ({} s); expected a "
          "rotation interval below the lifetime, so that clients get a new token before the old one expires",
          out.rotate_after.count(), out.token_lifetime.count());
      if (at) errors_.add(at->source().begin, std::move(message));
      else errors_.add(r.position(), std::move(message));
    }
  }

  void read_external_services(const toml::array& a, server_config& cfg) {
    static constexpr std::string_view transports[] = {"udp", "tcp"};
    for (const toml::node& element : a) {
      const toml::table& t = *element.as_table();
      table_reader r(errors_, t, "external_service", table_reader::table_kind::array_element);
      external_service svc;
      bool ok = true;
      r.read_string("type", svc.type, "a service type such as \"stun\" or \"turn\" (string)");
      r.read_string("host", svc.host, "a host name or IP address (string)");
      if (!r.read_int("port", 1, 65535, svc.port, "a port number") && t.contains("port")) ok = false;
      if (auto i = r.read_choice("transport", transports)) svc.transport = transports[*i];
      else if (t.contains("transport")) ok = false;
      r.read_string("name", svc.name);
      r.read_string("username", svc.username);
      r.read_string("password", svc.password);
      r.read_string("secret", svc.secret);
      r.read_seconds("credential_lifetime", 60, 30 * one_day, svc.credential_lifetime);
      r.finish();
      // XEP-0215 §2: host and type are REQUIRED; a type is a registered token (lower case).
      if (svc.type.empty() || svc.type.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
        errors_.add(t.contains("type") ? t.get("type")->source().begin : r.position(),
                    "[[external_service]] needs a type; expected a lower-case service type such as "
                    "\"stun\" or \"turn\" (XEP-0215 registry)");
        ok = false;
      }
      if (svc.host.empty() || svc.host.find_first_of(" \t<>'\"&/") != std::string::npos) {
        errors_.add(t.contains("host") ? t.get("host")->source().begin : r.position(),
                    "[[external_service]] needs a host; expected a host name or IP address such as "
                    "\"turn.example.org\"");
        ok = false;
      }
      if (svc.username.empty() != svc.password.empty()) {
        errors_.add(r.position(), "[[external_service]] has only one of username and password; expected "
                                  "both (fixed credentials) or neither");
        ok = false;
      }
      if (!svc.secret.empty() && !svc.username.empty()) {
        errors_.add(t.get("secret")->source().begin,
                    "[[external_service]] has both secret and username/password; expected either a "
                    "TURN REST secret (temporary credentials) or fixed credentials, not both");
        ok = false;
      }
      if (t.contains("credential_lifetime") && svc.secret.empty()) {
        errors_.add(t.get("credential_lifetime")->source().begin,
                    "[[external_service]] credential_lifetime is set without secret; expected it only "
                    "together with a TURN REST secret");
        ok = false;
      }
      if (ok) cfg.external_services.push_back(std::move(svc));
    }
  }

  void read_mam(const toml::table& t, mam_settings& out) {
    table_reader r(errors_, t, "mam", table_reader::table_kind::table);
    if (auto i = r.read_choice("default", mam_default_modes)) out.default_mode = mam_default_modes[*i];
    r.read_seconds("max_age", 0, int64_t{100} * 365 * one_day, out.max_age);
    r.read_seconds("expiry_interval", 1, one_week, out.expiry_interval);
    r.read_int("max_messages_per_user", 0, 1'000'000'000, out.max_messages_per_user, "a number of messages");
    r.read_int("max_page_size", 1, 10000, out.max_page_size, "a number of messages");
    r.read_int("default_page_size", 1, 10000, out.default_page_size, "a number of messages");
    r.read_int("write_batch", 1, 100000, out.write_batch, "a number of messages");
    r.read_int("write_delay_ms", 0, 10000, out.write_delay_ms, "milliseconds");
    r.finish();
    if (out.default_page_size > out.max_page_size)
      errors_.add(r.position(), "[mam] default_page_size is larger than max_page_size; expected at most " +
                                    std::to_string(out.max_page_size));
  }

  void read_hosts(const toml::array& a, server_config& cfg) {
    for (const toml::node& element : a) {
      const toml::table& t = *element.as_table();
      table_reader r(errors_, t, "host", table_reader::table_kind::array_element);
      virtual_host host;
      std::string name;
      bool named = r.read_string("name", name, "a domain name (string)");
      read_pair(r, t, host.certificate, host.key, "to use the [tls] default");
      r.read_bool("registration", host.registration);
      r.finish();
      if (!t.contains("name")) {
        errors_.add(r.position(), "[[host]] has no name; expected a domain, e.g. name = \"example.org\"");
        continue;
      }
      if (!named) continue;
      toml::source_position at = t.get("name")->source().begin;
      auto prepared = prepare_domain(name);
      if (!prepared) {
        errors_.add(at, fmt::format("[[host]] name = {} is not a valid domain name; expected {}",
                                    table_reader::quote(name),
                                    "a domain such as \"example.org\" or an IP literal (RFC 7622 §3.2)"));
        continue;
      }
      host.name = *prepared;
      if (auto it = host_positions_.find(host.name); it != host_positions_.end()) {
        errors_.add(at, fmt::format("[[host]] name = {} is already defined at line {}; expected "
                                    "each host once",
                                    table_reader::quote(name), it->second.line));
        continue;
      }
      host_positions_[host.name] = at;
      cfg.hosts.push_back(std::move(host));
    }
  }

  void read_listeners(const toml::array& a, server_config& cfg) {
    // Keyed by the binary address, so "::1" and "0:0::1" are recognised as the same socket.
    std::map<std::pair<std::string, uint16_t>, uint32_t> seen;
    for (const toml::node& element : a) {
      const toml::table& t = *element.as_table();
      table_reader r(errors_, t, "listener", table_reader::table_kind::array_element);
      listener l;
      bool ok = true;
      if (auto i = r.read_choice("type", listener_types)) l.kind = listener_values[*i];
      else if (t.contains("type")) ok = false;
      if (!r.read_string("address", l.address, "an IP address (string)") && t.contains("address"))
        ok = false;
      if (!r.read_int("port", 0, 65535, l.port, "a port number") && t.contains("port")) ok = false;
      r.finish();
      if (!ok) continue;
      std::string address_bytes;
      if (!parse_listen_address(l.address, address_bytes)) {
        errors_.add(t.contains("address") ? t.get("address")->source().begin : r.position(),
                    fmt::format("[[listener]] address = {} is not an IP address; expected an "
                                "IPv4 or IPv6 literal such as \"127.0.0.1\", \"::1\", "
                                "\"0.0.0.0\" or \"::\" (host names are not resolved)",
                                table_reader::quote(l.address)));
        continue;
      }
      // Port 0 asks the OS for a free port, so several such listeners never collide.
      if (l.port != 0) {
        auto [it, inserted] = seen.emplace(std::pair(address_bytes, l.port), r.position().line);
        if (!inserted) {
          errors_.add(r.position(),
                      fmt::format("[[listener]] {}:{} is already used by the listener at line {}; "
                                  "expected each address and port once",
                                  l.address, l.port, it->second));
          continue;
        }
      }
      cfg.listeners.push_back(std::move(l));
    }
  }

  error_sink& errors_;
  fs::path base_dir_;
  std::map<std::string, toml::source_position> host_positions_;
};

load_result load_text(std::string_view text, const std::string& display_name,
                      const fs::path& source) {
  error_sink errors(display_name);
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(display_name));
  } catch (const toml::parse_error& e) {
    // toml++ stops at the first syntax error, so there is only ever one to report.
    errors.add(e.source().begin, fmt::format("TOML syntax error: {}", e.description()));
    return {std::nullopt, errors.take()};
  }
  server_config cfg;
  cfg.source = source;
  loader(errors, source.parent_path()).load(root, cfg);
  if (!errors.empty()) return {std::nullopt, errors.take()};
  return {std::move(cfg), {}};
}

}  // namespace

load_result load(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec(errno, std::generic_category());
    return {std::nullopt,
            {{file.string(), 0, 0,
              fmt::format("cannot open the configuration file: {}", ec.message())}}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return {std::nullopt, {{file.string(), 0, 0, "cannot read the configuration file"}}};
  }
  return load_text(text.str(), file.string(), fs::absolute(file).lexically_normal());
}

load_result load_string(std::string_view toml_text, const std::string& source_name) {
  // The name doubles as the file's location: relative paths in the text resolve against its
  // directory, exactly as if the text had been read from there.
  return load_text(toml_text, source_name, fs::absolute(fs::path(source_name)).lexically_normal());
}

}  // namespace starling::config
