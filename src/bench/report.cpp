// Measurements of the server process (/proc) and of the generator (getrusage), latency
// percentiles, and the result table / JSON file.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <numeric>
#include <sstream>

#include "bench/bench.hpp"

namespace starling::bench {

namespace {

// utime + stime in seconds from a /proc stat file; negative if unreadable.
double stat_cpu_seconds(const std::string& path) {
  std::ifstream stat(path);
  std::string line;
  if (!std::getline(stat, line)) return -1;
  // proc(5): the command name may contain spaces; fields resume after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const long ticks = sysconf(_SC_CLK_TCK);
  return static_cast<double>(utime + stime) / static_cast<double>(ticks);
}

}  // namespace

proc_sample sample_process(int pid, bool with_threads) {
  proc_sample s;
  if (pid <= 0) return s;
  double cpu = stat_cpu_seconds(fmt::format("/proc/{}/stat", pid));
  if (cpu < 0) return s;
  s.cpu_s = cpu;
  std::string line;
  if (with_threads) {
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
      thread_cpu t;
      t.tid = std::atoi(e.path().filename().c_str());
      t.cpu_s = stat_cpu_seconds(e.path() / "stat");
      if (t.tid <= 0 || t.cpu_s < 0) continue;  // the thread ended meanwhile
      std::ifstream comm(e.path() / "comm");
      std::getline(comm, t.name);
      s.threads.push_back(std::move(t));
    }
  }
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kb = std::stoull(line.substr(6));
      break;
    }
  }
  s.valid = true;
  return s;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double self_user_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
}

latency_summary summarize(std::vector<uint32_t>& v) {
  latency_summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)] / 1000.0;
  };
  s.p50 = pct(0.50);
  s.p90 = pct(0.90);
  s.p99 = pct(0.99);
  s.p999 = pct(0.999);
  s.max = v.back() / 1000.0;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()) / 1000.0;
  return s;
}

namespace {

double per_op_us(double cpu_s, uint64_t ops) { return ops ? cpu_s * 1e6 / ops : 0; }

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double d) {
  if (!std::isfinite(d)) return "null";
  return fmt::format("{:.6g}", d);
}

std::string_view tls_name(tls_mode m) {
  return m == tls_mode::starttls ? "starttls" : m == tls_mode::direct ? "direct" : "none";
}

}  // namespace

void print_table(const std::vector<phase_result>& results, bool server_measured) {
  fmt::print("{:<16} {:>7} {:>9} {:>10} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>10} {:>10} {:>6}\n",
             "phase", "wall s", "ops", "ops/s", "errors", "p50 ms", "p90 ms", "p99 ms",
             "p99.9 ms", "deliv", "srv us/op", "cli us/op", "cli %");
  for (const auto& r : results) {
    std::string ratio = r.scenario == "messages" ? fmt::format("{:.4f}", r.delivery_ratio) : "-";
    std::string srv = server_measured && r.server_before.valid
                          ? fmt::format("{:.1f}", per_op_us(r.server_cpu_s, r.ops))
                          : "-";
    fmt::print(
        "{:<16} {:>7.2f} {:>9} {:>10.1f} {:>6} {:>8.2f} {:>8.2f} {:>8.2f} {:>8.2f} {:>7} {:>10} "
        "{:>10.1f} {:>6.0f}\n",
        r.name, r.wall_s, r.ops, r.ops_per_s, r.errors, r.latency.p50, r.latency.p90,
        r.latency.p99, r.latency.p999, ratio, srv, per_op_us(r.client_cpu_s, r.ops),
        r.wall_s > 0.05 ? 100 * r.client_cpu_s / r.wall_s : 0);
  }
  for (const auto& r : results) {
    if (r.scenario == "messages")
      fmt::print("{}: offered {:g}/s, sent {:.1f}/s, delivered {:.1f}/s ({} of {})\n", r.name,
                 r.offered_rate, r.send_rate, r.delivered_rate, r.delivered, r.sent);
    if (r.name == "login-open")
      fmt::print("{}: offered {:.1f} logins/s (open loop), completed {:.1f}/s\n", r.name,
                 r.offered_rate, r.ops_per_s);
    if (r.scenario == "presence")
      fmt::print("{}: {} presence stanzas delivered to online contacts ({:.1f} per login)\n",
                 r.name, r.items, r.ops ? static_cast<double>(r.items) / r.ops : 0);
    if (r.scenario == "mam")
      fmt::print("{}: {} archived messages in {} pages\n", r.name, r.items, r.ops);
    if (!r.note.empty()) fmt::print("{}: {}\n", r.name, r.note);
    if (server_measured && r.server_before.valid)
      fmt::print("{}: server cpu {:.3f} s ({:.0f}% of one core), rss {:.1f} -> {:.1f} MB{}\n",
                 r.name, r.server_cpu_s, r.wall_s > 0 ? 100 * r.server_cpu_s / r.wall_s : 0,
                 r.server_before.rss_kb / 1024.0, r.server_after.rss_kb / 1024.0,
                 r.scenario == "idle" && r.sessions
                     ? fmt::format(", {:.1f} KB per session",
                                   (static_cast<double>(r.server_after.rss_kb) -
                                    static_cast<double>(r.server_before.rss_kb)) /
                                       r.sessions)
                     : std::string());
    fmt::print(
        "{}: generator cpu {:.3f} s ({:.0f}% of one core, {:.1f} us per operation, of which "
        "{:.1f} us in user space)\n",
        r.name, r.client_cpu_s, r.wall_s > 0 ? 100 * r.client_cpu_s / r.wall_s : 0,
        per_op_us(r.client_cpu_s, r.ops), per_op_us(r.client_user_s, r.ops));
  }
}

bool write_plot(const std::string& png, const std::vector<phase_result>& results,
                std::string& error) {
  std::string data;
  for (const auto& r : results) {
    if (r.scenario != "messages" || r.wall_s <= 0) continue;
    data += fmt::format("{:g} {:.3f} {:.3f} {:.3f} {:.1f} {:.2f}\n", r.offered_rate,
                        r.latency.p50, r.latency.p99, r.latency.p999,
                        100 * r.server_cpu_s / r.wall_s, per_op_us(r.server_cpu_s, r.ops));
  }
  if (data.empty()) {
    error = "no messages phases to plot";
    return false;
  }
  std::string dat = png + ".dat";
  {
    std::ofstream f(dat, std::ios::trunc);
    f << "# offered_rate p50_ms p99_ms p99.9_ms server_cpu_percent server_us_per_msg\n" << data;
    if (!f.flush()) {
      error = "cannot write " + dat;
      return false;
    }
  }
  std::string script = fmt::format(
      "set terminal png size 900,500\n"
      "set output '{0}'\n"
      "set title 'starling-bench: messages'\n"
      "set xlabel 'offered messages/s'\n"
      "set ylabel 'latency (ms)'\n"
      "set logscale y\n"
      "set y2label 'server CPU (% of one core)'\n"
      "set y2tics\n"
      "set ytics nomirror\n"
      "set key top left\n"
      "set grid\n"
      "plot '{1}' using 1:2 with linespoints title 'p50', "
      "'{1}' using 1:3 with linespoints title 'p99', "
      "'{1}' using 1:4 with linespoints title 'p99.9', "
      "'{1}' using 1:5 axes x1y2 with linespoints title 'server CPU %'\n",
      png, dat);
  FILE* gp = popen("gnuplot 2>&1", "w");
  if (!gp) {
    error = "cannot run gnuplot (Debian: gnuplot-nox)";
    return false;
  }
  fputs(script.c_str(), gp);
  int status = pclose(gp);
  if (status != 0) {
    error = "gnuplot failed (is it installed? Debian: gnuplot-nox)";
    return false;
  }
  return true;
}

namespace {

// Per-thread CPU of the server during the phase, and the busiest thread's share of it.
std::string thread_json(const proc_sample& before, const proc_sample& after) {
  if (after.threads.empty()) return "";
  std::string list;
  double total = 0, busiest = 0;
  for (const auto& t : after.threads) {
    double start = 0;  // a thread born during the phase started at 0
    for (const auto& b : before.threads)
      if (b.tid == t.tid) start = b.cpu_s;
    double d = std::max(0.0, t.cpu_s - start);
    total += d;
    busiest = std::max(busiest, d);
    if (!list.empty()) list += ", ";
    list += fmt::format("{{\"tid\": {}, \"name\": {}, \"cpu_s\": {}}}", t.tid,
                        json_string(t.name), json_number(d));
  }
  return fmt::format(", \"threads\": [{}], \"busiest_thread_share\": {}", list,
                     json_number(total > 0 ? busiest / total : 0));
}

}  // namespace

bool write_json(const std::string& path, const options& o, const std::vector<phase_result>& results,
                std::string& error) {
  std::string j = "{\n  \"tool\": \"starling-bench\",\n  \"config\": {";
  j += fmt::format(
      "\"host\": {}, \"port\": {}, \"domain\": {}, \"tls\": {}, \"mechanism\": {}, "
      "\"users\": {}, \"threads\": {}, \"duration_s\": {}, \"connections_per_second\": {}, "
      "\"server_pid\": {}, \"body_bytes\": {}, \"processes\": {}, \"label\": {}, "
      "\"roster_size\": {}, \"mam_page\": {}",
      json_string(o.host), o.port, json_string(o.domain), json_string(tls_name(o.tls)),
      json_string(o.mechanism), o.users, o.threads, json_number(o.duration),
      json_number(o.connections_per_second), o.server_pid, o.body_bytes, o.processes,
      json_string(o.label), o.roster_size, o.mam_page);
  j += "},\n  \"phases\": [";
  bool first = true;
  for (const auto& r : results) {
    j += first ? "\n    {" : ",\n    {";
    first = false;
    j += fmt::format(
        "\"name\": {}, \"scenario\": {}, \"wall_s\": {}, \"ops\": {}, \"ops_per_s\": {}, "
        "\"errors\": {}, \"first_error\": {}",
        json_string(r.name), json_string(r.scenario), json_number(r.wall_s), r.ops,
        json_number(r.ops_per_s), r.errors, json_string(r.first_error));
    const auto& l = r.latency;
    j += fmt::format(
        ", \"latency_ms\": {{\"count\": {}, \"p50\": {}, \"p90\": {}, \"p99\": {}, \"p99_9\": {}, "
        "\"max\": {}, \"mean\": {}}}",
        l.count, json_number(l.p50), json_number(l.p90), json_number(l.p99), json_number(l.p999),
        json_number(l.max), json_number(l.mean));
    if (r.scenario == "messages")
      j += fmt::format(
          ", \"offered_rate\": {}, \"sent\": {}, \"delivered\": {}, \"send_rate\": {}, "
          "\"delivered_rate\": {}, \"delivery_ratio\": {}",
          json_number(r.offered_rate), r.sent, r.delivered, json_number(r.send_rate),
          json_number(r.delivered_rate), json_number(r.delivery_ratio));
    j += fmt::format(", \"sessions\": {}, \"items\": {}, \"note\": {}", r.sessions, r.items,
                     json_string(r.note));
    if (r.scenario != "messages" && r.offered_rate > 0)
      j += fmt::format(", \"offered_rate\": {}", json_number(r.offered_rate));
    if (r.server_before.valid && r.server_after.valid) {
      double rss_per_session =
          r.sessions ? (static_cast<double>(r.server_after.rss_kb) -
                        static_cast<double>(r.server_before.rss_kb)) /
                           r.sessions
                     : 0;
      j += fmt::format(
          ", \"server\": {{\"cpu_s\": {}, \"cpu_per_op_us\": {}, \"cpu_share\": {}, "
          "\"rss_before_kb\": {}, \"rss_after_kb\": {}, \"rss_per_session_kb\": {}}}",
          json_number(r.server_cpu_s), json_number(per_op_us(r.server_cpu_s, r.ops)),
          json_number(r.wall_s > 0 ? r.server_cpu_s / r.wall_s : 0), r.server_before.rss_kb,
          r.server_after.rss_kb, json_number(rss_per_session));
      j.pop_back();  // the closing brace: per-thread CPU follows
      j += thread_json(r.server_before, r.server_after) + "}";
    } else {
      j += ", \"server\": null";
    }
    j += fmt::format(", \"client\": {{\"cpu_s\": {}, \"cpu_per_op_us\": {}, \"user_per_op_us\": {}, \"cpu_share\": {}}}",
                     json_number(r.client_cpu_s), json_number(per_op_us(r.client_cpu_s, r.ops)),
                     json_number(per_op_us(r.client_user_s, r.ops)),
                     json_number(r.wall_s > 0 ? r.client_cpu_s / r.wall_s : 0));
    j += "}";
  }
  j += "\n  ]\n}\n";
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) {
    error = "cannot open " + path;
    return false;
  }
  f << j;
  if (!f.flush()) {
    error = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace starling::bench
