// starling-bench: XMPP load generator for any server reachable by host, port and domain.
// Scenarios: login (closed-loop full logins, then open loop), idle (hold N sessions), messages
// (paired chat at offered rates), presence (logins with 100-contact rosters), mam (archive
// queries with paging). See bench/README.md.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <map>

#include "bench/bench.hpp"

using namespace starling::bench;

namespace {

// The process may use up to the hard limit of descriptors (20,000 on the shared machine).
rlim_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"starling-bench: XMPP load generator (login, idle, messages, presence, mam)"};
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", o.port, "c2s port (direct TLS port with --tls direct)")
      ->capture_default_str();
  app.add_option("--domain", o.domain, "XMPP domain of the accounts")->capture_default_str();
  std::map<std::string, tls_mode> tls_map{
      {"starttls", tls_mode::starttls}, {"direct", tls_mode::direct}, {"none", tls_mode::none}};
  app.add_option("--tls", o.tls, "starttls, direct (XEP-0368) or none")
      ->transform(CLI::CheckedTransformer(tls_map, CLI::ignore_case))
      ->default_str("starttls");
  app.add_option("--mech", o.mechanism, "SASL mechanism")
      ->check(CLI::IsMember({"SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512"}))
      ->capture_default_str();
  app.add_option("--users,-n", o.users, "number of accounts (<prefix>N)")
      ->check(CLI::Range(size_t{1}, size_t{1000000}))
      ->capture_default_str();
  app.add_option("--user-prefix", o.user_prefix, "account localpart prefix")->capture_default_str();
  app.add_option("--user-offset", o.user_offset, "number of the first account")
      ->capture_default_str();
  app.add_option("--password", o.password, "password of every account")->capture_default_str();
  app.add_flag("--register", o.do_register,
               "create the accounts by in-band registration (XEP-0077) first");
  app.add_flag("--register-only", o.register_only,
               "only register the accounts the given scenarios use (then exit)");
  app.add_option("--scenario,-s", o.scenarios,
                 "login, idle, messages, presence, mam (several run in order)")
      ->delimiter(',')
      ->check(CLI::IsMember({"login", "idle", "messages", "presence", "mam"}))
      ->capture_default_str();
  app.add_option("--duration,-d", o.duration, "seconds per phase")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--rate,--rates", o.rates, "offered message rates per second, e.g. 1000,2000")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--stop-when-overloaded", o.stop_when_overloaded,
               "messages: skip the higher rates once one delivers fewer than 99 % (one process "
               "only)");
  app.add_option("--connections-per-second", o.connections_per_second,
                 "cap on new connections per second (0: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency,
                 "login: parallel login loops (default: one per user); setup: logins in flight "
                 "(default 64)")
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "server process to sample (CPU time, RSS)");
  app.add_option("--json", o.json_path, "write all results to this file");
  app.add_option("--threads,-t", o.threads, "generator threads (one io_context each)")
      ->check(CLI::Range(size_t{1}, size_t{256}))
      ->capture_default_str();
  app.add_option("--body-bytes", o.body_bytes, "message body size")->capture_default_str();
  app.add_option("--drain", o.drain_timeout, "seconds to wait for messages in flight")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout, "seconds before a login counts as failed")
      ->capture_default_str();
  app.add_option("--open-loop", o.open_loop_fraction,
                 "login: open-loop phase at this fraction of the closed-loop rate (0: none)")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  app.add_option("--roster-size", o.roster_size, "presence: contacts per roster")
      ->check(CLI::Range(size_t{1}, size_t{10000}))
      ->capture_default_str();
  app.add_option("--presence-users", o.presence_users,
                 "presence: accounts <prefix>pN (default: roster size + 1)")
      ->capture_default_str();
  app.add_option("--roster-plan", o.roster_plan,
                 "presence: write the rosters as '<account> <contact>' lines to FILE and exit");
  app.add_option("--mam-users", o.mam_users, "mam: accounts <prefix>mN")->capture_default_str();
  app.add_option("--mam-messages", o.mam_messages, "mam: messages each account sends in the setup")
      ->capture_default_str();
  app.add_option("--mam-page", o.mam_page, "mam: RSM page size")
      ->check(CLI::Range(size_t{1}, size_t{1000}))
      ->capture_default_str();
  app.add_option("--mam-pages", o.mam_pages, "mam: pages per query")
      ->check(CLI::Range(size_t{1}, size_t{1000}))
      ->capture_default_str();
  app.add_option("--plot", o.plot_path,
                 "write a PNG of latency and server CPU against offered message rate (gnuplot)");
  app.add_option("--label", o.label, "free text stored in the JSON (e.g. the server's name)");
  app.add_option("--processes,-P", o.processes,
                 "generator processes (each takes a slice of the accounts and of the rates)")
      ->check(CLI::Range(size_t{1}, size_t{64}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.stop_when_overloaded && o.processes > 1) {
    fmt::print(stderr, "starling-bench: --stop-when-overloaded needs a single process\n");
    return 2;
  }

  rlim_t fds = raise_fd_limit();
  size_t needed = o.users / o.processes + (o.concurrency ? o.concurrency : 64) + 32;
  if (fds && needed > fds)
    fmt::print(stderr,
               "starling-bench: warning: {} users may need more than the {} file descriptors "
               "allowed per process (use --processes)\n",
               o.users, static_cast<unsigned long long>(fds));
  if (o.server_pid && !sample_process(o.server_pid).valid) {
    fmt::print(stderr, "starling-bench: cannot read /proc/{}/stat\n", o.server_pid);
    return 2;
  }

  std::vector<phase_result> results;
  try {
    results = o.processes > 1 ? run_processes(o) : run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "starling-bench: {}\n", e.what());
    return 2;
  }
  if (!o.roster_plan.empty()) return 0;  // written by run(); nothing was measured
  print_table(results, o.server_pid != 0);
  if (!o.json_path.empty()) {
    std::string err;
    if (!write_json(o.json_path, o, results, err)) {
      fmt::print(stderr, "starling-bench: {}\n", err);
      return 2;
    }
  }
  if (!o.plot_path.empty()) {
    std::string err;
    if (!write_plot(o.plot_path, results, err))
      fmt::print(stderr, "starling-bench: plot: {}\n", err);  // the results stand without it
  }
  uint64_t errors = 0;
  for (const auto& r : results) errors += r.errors;
  return errors ? 1 : 0;
}
