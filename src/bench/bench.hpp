#pragma once
// starling-bench: options, measurements and the phase runner shared by the scenarios.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/client.hpp"

namespace starling::bench {

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 5222;
  std::string domain = "localhost";
  tls_mode tls = tls_mode::starttls;
  std::string mechanism = "SCRAM-SHA-1";
  size_t users = 100;
  size_t user_offset = 0;  // first account number
  std::string user_prefix = "bench";
  std::string password = "bench-pw";
  bool do_register = false;
  bool register_only = false;  // register the accounts of the given scenarios, run none
  std::vector<std::string> scenarios{"login"};
  double duration = 10;  // seconds per phase
  std::vector<double> rates{1000};  // offered messages/s, one phase each
  // messages: once a rate delivers fewer than 99 % of its messages, skip the higher ones (the
  // server's capacity is already exceeded; they would only pile up a backlog for it to drain).
  // Single-process runs only: the processes of a multi-process run keep their phases in step.
  bool stop_when_overloaded = false;
  double connections_per_second = 0;  // 0: unlimited
  size_t concurrency = 0;  // login: parallel login loops (0: one per user); setup: in flight
  int server_pid = 0;
  std::string json_path;
  size_t threads = 1;
  size_t body_bytes = 100;
  double drain_timeout = 5;  // seconds to wait for messages in flight after sending stops
  double timeout = 10;       // seconds per login before it counts as failed
  // login: after the closed-loop saturation phase, an open-loop phase at this fraction of the
  // rate it reached (0: none); latency counts from each login's scheduled start.
  double open_loop_fraction = 0.5;
  // presence: accounts <prefix>p<N> with mutual rosters of roster_size contacts each.
  size_t roster_size = 100;
  size_t presence_users = 0;  // 0: roster_size + 1
  // presence: write the mutual rosters as lines "<account> <contact>" (bare JIDs) to this file
  // and exit, so that a runner can put them into a server's storage directly (see bench/run).
  std::string roster_plan;
  // mam: accounts <prefix>m<N>; each sends mam_messages to its partner in the setup, then
  // queries its archive in pages of mam_page, up to mam_pages pages per query.
  size_t mam_users = 20;
  size_t mam_messages = 50;
  size_t mam_page = 20;
  size_t mam_pages = 5;
  std::string plot_path;  // PNG (gnuplot) of latency and server CPU against offered rate
  std::string label;      // free text copied into the JSON (e.g. the server's name)
  // Several processes (--processes): each child runs a slice of the accounts; the parent
  // synchronises the phases and merges the results. Internal: the child's control pipe.
  size_t processes = 1;
  size_t process_index = 0;
  int control_in = -1, control_out = -1;
};

// Server process counters from /proc (Linux).
struct thread_cpu {
  int tid = 0;
  std::string name;  // /proc/PID/task/TID/comm
  double cpu_s = 0;  // utime + stime of this thread
};
struct proc_sample {
  bool valid = false;
  double cpu_s = 0;      // utime + stime
  uint64_t rss_kb = 0;   // VmRSS
  // Per thread, when asked for: how evenly the server spreads its work over its threads
  // bounds what a second core can add (the busiest thread saturates first).
  std::vector<thread_cpu> threads;
};
proc_sample sample_process(int pid, bool with_threads = false);

// Generator's own CPU (getrusage RUSAGE_SELF), seconds: user + system, and user only.
double self_cpu_seconds();
double self_user_seconds();

// Latency percentiles in milliseconds from microsecond samples (sorts them).
struct latency_summary {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};
latency_summary summarize(std::vector<uint32_t>& samples_us);

struct phase_result {
  std::string name;      // "register", "login", "idle", "messages@1000"
  std::string scenario;
  double wall_s = 0;
  uint64_t ops = 0;      // logins, registrations, sessions, delivered messages
  uint64_t errors = 0;
  std::string first_error;
  double ops_per_s = 0;
  latency_summary latency;
  // messages
  double offered_rate = 0;
  uint64_t sent = 0;
  uint64_t delivered = 0;
  double send_rate = 0;
  double delivered_rate = 0;
  double delivery_ratio = 0;
  // idle
  uint64_t sessions = 0;
  // presence: presence stanzas received by the online contacts (fan-out); mam: archived
  // messages received in results
  uint64_t items = 0;
  std::string note;  // e.g. why a phase was skipped
  // server and generator cost
  proc_sample server_before, server_after;
  double server_cpu_s = 0;
  double client_cpu_s = 0;
  double client_user_s = 0;  // of which in user space (the rest is the kernel's TCP work)
};

// Runs the scenarios in order; returns every phase.
std::vector<phase_result> run(const options& opts);

void print_table(const std::vector<phase_result>& results, bool server_measured);
bool write_plot(const std::string& png, const std::vector<phase_result>& results,
                std::string& error);

// Multi-process mode (multi.cpp): the parent forks the children, runs no load itself.
std::vector<phase_result> run_processes(const options& opts);
// In a child: phase boundaries reported to the parent (no-ops in a single process).
void child_phase_begin(const options& opts, const std::string& name);
void child_phase_end(const options& opts, const phase_result& res,
                     const std::vector<uint32_t>& latencies_us);
bool write_json(const std::string& path, const options& opts,
                const std::vector<phase_result>& results, std::string& error);

}  // namespace starling::bench
