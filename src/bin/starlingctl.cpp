// starlingctl: administration of a Starling server from the command line.
//
//   starlingctl [-c FILE] check                          validate the configuration
//   starlingctl [-c FILE] adduser USER@HOST [--password P]
//   starlingctl [-c FILE] passwd USER@HOST [--password P]
//   starlingctl [-c FILE] deluser USER@HOST
//   starlingctl [-c FILE] users HOST                     one localpart per line
//
// It works on the server's database directly, so it can run while starlingd does: SQLite in WAL
// mode lets both processes use the file, and the server reads accounts from the database at
// each login, so changes take effect at once. Exit status: 0 on success, 1 on any error.
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/accounts.hpp"
#include "jid/jid.hpp"
#include "precis/precis.hpp"
#include "sasl/scram.hpp"
#include "storage/storage.hpp"

namespace {

using namespace starling;

constexpr int exit_ok = 0;
constexpr int exit_error = 1;

void print_error(std::string_view message) { std::cerr << "starlingctl: " << message << "\n"; }

// Loads and validates the configuration; prints every error as file:line:col: message.
std::optional<config::server_config> load_config(const std::string& file) {
  config::load_result r = config::load(file);
  for (const auto& e : r.errors) std::cerr << e.str() << "\n";
  if (!r.errors.empty() || !r.config) {
    if (r.errors.empty()) print_error("cannot load " + file);
    return std::nullopt;
  }
  return std::move(r.config);
}

// Runs one storage operation to completion. The storage API is asynchronous for the server's
// sake; a command-line tool simply drives an io_context until the answer is there.
template <class T>
T wait_for(storage::awaitable<T> op) {
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.run();
  return result.get();
}

struct database_handle {
  std::unique_ptr<storage::database> db;
  ~database_handle() {
    if (db) db->close();
  }
};

bool open_database(const config::server_config& cfg, database_handle& out) {
  if (cfg.storage.backend != "sqlite") {
    print_error("storage backend '" + cfg.storage.backend + "' is not supported");
    return false;
  }
  // load() has resolved the path against data_dir already; resolving again is a no-op for an
  // absolute path and keeps this correct should that change.
  auto path = cfg.storage.path == ":memory:" ? cfg.storage.path : cfg.resolve(cfg.storage.path);
  std::string error;
  out.db = storage::open_sqlite(path, error);
  if (!out.db || !out.db->migrate({}, error)) {
    print_error("database " + path.string() + ": " + error);
    out.db.reset();
    return false;
  }
  return true;
}

struct account_address {
  std::string user;  // enforced localpart
  std::string host;  // prepared domain, a configured host
  std::string str() const { return user + "@" + host; }
};

// USER@HOST -> enforced parts, with a message saying which part is wrong.
std::optional<account_address> parse_address(const config::server_config& cfg, std::string_view text) {
  auto at = text.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == text.size()) {
    print_error("expected USER@HOST, got '" + std::string(text) + "'");
    return std::nullopt;
  }
  if (text.find('/') != std::string_view::npos) {
    print_error("'" + std::string(text) + "' has a resource part: give a bare USER@HOST");
    return std::nullopt;
  }
  std::string_view raw_user = text.substr(0, at);
  std::string_view raw_host = text.substr(at + 1);
  // RFC 7622 §3.3: localparts are enforced with the UsernameCaseMapped profile (RFC 8265 §3.3),
  // the same rule the server applies at login, so "Alice" and "alice" are one account.
  auto user = precis::username_case_mapped(raw_user);
  if (!user) {
    print_error("invalid username '" + std::string(raw_user) +
                "' (not allowed by PRECIS UsernameCaseMapped, RFC 8265 §3.3)");
    return std::nullopt;
  }
  auto host = precis::domain(raw_host);
  if (!host) {
    print_error("invalid host name '" + std::string(raw_host) + "'");
    return std::nullopt;
  }
  // RFC 7622 §3.3.1 also excludes a few ASCII characters and bounds each part's length: the
  // JID type applies all of it, and an account must be addressable as a JID.
  if (!jid::from_parts(*user, *host)) {
    print_error("'" + *user + "@" + *host + "' is not a valid XMPP address (RFC 7622)");
    return std::nullopt;
  }
  if (!cfg.find_host(*host)) {
    std::string hosts;
    for (const auto& h : cfg.hosts) hosts += (hosts.empty() ? "" : ", ") + h.name;
    print_error("host '" + *host + "' is not configured (hosts: " + hosts + ")");
    return std::nullopt;
  }
  return account_address{std::move(*user), std::move(*host)};
}

// Reads one line from stdin; on a terminal the typed characters are not echoed.
std::optional<std::string> read_line(const char* prompt, bool is_tty) {
  termios saved{};
  if (is_tty) {
    std::cerr << prompt << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (is_tty) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (!ok) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The password from --password, or else from stdin (asked twice on a terminal), prepared with
// PRECIS OpaqueString (RFC 8265 §4.2) as SCRAM requires.
std::optional<std::string> obtain_password(const std::optional<std::string>& given) {
  std::string password;
  if (given) {
    password = *given;
  } else {
    bool is_tty = isatty(STDIN_FILENO) != 0;
    auto first = read_line("Password: ", is_tty);
    if (!first) {
      print_error("no password given (use --password or write it to stdin)");
      return std::nullopt;
    }
    if (is_tty) {
      auto again = read_line("Repeat password: ", is_tty);
      if (!again || *again != *first) {
        print_error("the passwords do not match");
        return std::nullopt;
      }
    }
    password = std::move(*first);
  }
  if (password.empty()) {
    print_error("the password is empty");
    return std::nullopt;
  }
  auto prepared = sasl::prepare_password(password);
  if (!prepared) {
    print_error("the password contains characters that are not allowed (PRECIS OpaqueString, RFC 8265 §4.2)");
    return std::nullopt;
  }
  return prepared;
}

int cmd_check(const std::string& config_file) {
  if (!load_config(config_file)) return exit_error;
  std::cout << "configuration OK\n";
  return exit_ok;
}

int cmd_adduser(const std::string& config_file, const std::string& address,
                const std::optional<std::string>& password_arg) {
  auto cfg = load_config(config_file);
  if (!cfg) return exit_error;
  auto addr = parse_address(*cfg, address);
  if (!addr) return exit_error;
  database_handle h;
  if (!open_database(*cfg, h)) return exit_error;
  // Fail before asking for a password that would be thrown away. create() below is still what
  // decides, atomically, should the account appear meanwhile.
  if (wait_for(h.db->accounts().get(addr->host, addr->user))) {
    print_error(addr->str() + " already exists");
    return exit_error;
  }
  auto password = obtain_password(password_arg);
  if (!password) return exit_error;

  storage::account acc;
  acc.host = addr->host;
  acc.user = addr->user;
  acc.credentials = make_credentials(*password, cfg->auth.scram_iterations);
  switch (wait_for(h.db->accounts().create(std::move(acc)))) {
    case storage::write_result::ok:
      std::cout << "created " << addr->str() << "\n";
      return exit_ok;
    case storage::write_result::exists:
      print_error(addr->str() + " already exists");
      return exit_error;
    default:
      print_error("could not create " + addr->str() + ": database error");
      return exit_error;
  }
}

int cmd_passwd(const std::string& config_file, const std::string& address,
               const std::optional<std::string>& password_arg) {
  auto cfg = load_config(config_file);
  if (!cfg) return exit_error;
  auto addr = parse_address(*cfg, address);
  if (!addr) return exit_error;
  database_handle h;
  if (!open_database(*cfg, h)) return exit_error;
  if (!wait_for(h.db->accounts().get(addr->host, addr->user))) {
    print_error("no such user: " + addr->str());
    return exit_error;
  }
  auto password = obtain_password(password_arg);
  if (!password) return exit_error;
  auto creds = make_credentials(*password, cfg->auth.scram_iterations);
  switch (wait_for(h.db->accounts().set_credentials(addr->host, addr->user, std::move(creds)))) {
    case storage::write_result::ok:
      std::cout << "password changed for " << addr->str() << "\n";
      return exit_ok;
    case storage::write_result::not_found:
      print_error("no such user: " + addr->str());
      return exit_error;
    default:
      print_error("could not change the password of " + addr->str() + ": database error");
      return exit_error;
  }
}

int cmd_deluser(const std::string& config_file, const std::string& address) {
  auto cfg = load_config(config_file);
  if (!cfg) return exit_error;
  auto addr = parse_address(*cfg, address);
  if (!addr) return exit_error;
  database_handle h;
  if (!open_database(*cfg, h)) return exit_error;
  switch (wait_for(h.db->accounts().remove(addr->host, addr->user))) {
    case storage::write_result::ok:
      std::cout << "deleted " << addr->str() << "\n";
      return exit_ok;
    case storage::write_result::not_found:
      print_error("no such user: " + addr->str());
      return exit_error;
    default:
      print_error("could not delete " + addr->str() + ": database error");
      return exit_error;
  }
}

int cmd_users(const std::string& config_file, const std::string& host_arg) {
  auto cfg = load_config(config_file);
  if (!cfg) return exit_error;
  auto host = precis::domain(host_arg);
  if (!host) {
    print_error("invalid host name '" + host_arg + "'");
    return exit_error;
  }
  // Listing a host that is no longer configured is allowed: its accounts are still in the
  // database, and this is how an administrator finds them.
  if (!cfg->find_host(*host)) print_error("note: host '" + *host + "' is not configured");
  database_handle h;
  if (!open_database(*cfg, h)) return exit_error;
  for (const auto& user : wait_for(h.db->accounts().list(*host))) std::cout << user << "\n";
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Starling XMPP server administration"};
  app.require_subcommand(1);
  std::string config_file = "./data/starling.toml";
  const char* config_help = "configuration file";
  // Accepted before and after the command: `starlingctl -c F check` and `starlingctl check -c F`.
  app.add_option("-c,--config", config_file, config_help)->capture_default_str();

  std::string address;
  std::string host;
  std::optional<std::string> password;
  const char* password_help =
      "the password (visible to other local users in the process list; default: read from stdin)";

  auto* check = app.add_subcommand("check", "validate the configuration file");
  check->add_option("-c,--config", config_file, config_help);

  auto* adduser = app.add_subcommand("adduser", "create an account");
  adduser->add_option("-c,--config", config_file, config_help);
  adduser->add_option("address", address, "USER@HOST")->required();
  adduser->add_option("-p,--password", password, password_help);

  auto* passwd = app.add_subcommand("passwd", "change an account's password");
  passwd->add_option("-c,--config", config_file, config_help);
  passwd->add_option("address", address, "USER@HOST")->required();
  passwd->add_option("-p,--password", password, password_help);

  auto* deluser = app.add_subcommand("deluser", "delete an account and its data");
  deluser->add_option("-c,--config", config_file, config_help);
  deluser->add_option("address", address, "USER@HOST")->required();

  auto* users = app.add_subcommand("users", "list the accounts of a host, one per line");
  users->add_option("-c,--config", config_file, config_help);
  users->add_option("host", host, "HOST")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and version are successes; any usage error is "bad input": exit status 1.
    int rc = app.exit(e);
    return rc == 0 ? exit_ok : exit_error;
  }

  try {
    if (*check) return cmd_check(config_file);
    if (*adduser) return cmd_adduser(config_file, address, password);
    if (*passwd) return cmd_passwd(config_file, address, password);
    if (*deluser) return cmd_deluser(config_file, address);
    if (*users) return cmd_users(config_file, host);
  } catch (const std::exception& e) {
    print_error(e.what());
    return exit_error;
  }
  return exit_error;
}
