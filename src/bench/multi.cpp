// Several generator processes (--processes): one process may hold only as many sessions as it
// has descriptors (20,000 on the development machine) and one core's worth of CPU, so large
// runs fork children that each take a slice of the accounts and of the offered rates. The
// parent runs no load: before each phase it waits until every child is ready, samples the
// server, lets them all go, and after the last child finished samples the server again and
// merges the children's results (latency samples exactly, through files).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

#include "bench/bench.hpp"

namespace starling::bench {

namespace {

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n <= 0) return false;
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool read_line(int fd, std::string& line) {
  line.clear();
  char c;
  for (;;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return false;
    if (c == '\n') return true;
    line += c;
  }
}

int phase_counter = 0;

}  // namespace

void child_phase_begin(const options& o, const std::string& name) {
  if (o.control_out < 0) return;
  std::string go;
  if (!write_all(o.control_out, "B " + name + "\n") || !read_line(o.control_in, go))
    _exit(3);  // the parent is gone
}

void child_phase_end(const options& o, const phase_result& r,
                     const std::vector<uint32_t>& latencies_us) {
  if (o.control_out < 0) return;
  std::string path = fmt::format("/tmp/starling-bench-{}-{}.lat", getpid(), ++phase_counter);
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(latencies_us.data()),
            static_cast<std::streamsize>(latencies_us.size() * sizeof(uint32_t)));
  }
  std::string err = r.first_error;
  for (char& c : err)
    if (c == '\n' || c == '\r') c = ' ';
  std::string line = fmt::format("E {} {} {} {} {} {} {:.6f} {:.6f} {:.6f} {:.6f} {} {}\n",
                                 r.ops, r.errors, r.sent, r.delivered, r.sessions, r.items,
                                 r.wall_s, r.client_cpu_s, r.client_user_s, r.offered_rate, path,
                                 err);
  if (!write_all(o.control_out, line)) _exit(3);
}

std::vector<phase_result> run_processes(const options& opts) {
  const size_t P = opts.processes;
  struct child {
    pid_t pid = -1;
    int in = -1;   // parent reads
    int out = -1;  // parent writes
  };
  std::vector<child> kids;
  // Even slices, so that message pairs (2k, 2k+1) stay inside one process.
  size_t per = (opts.users / P) & ~size_t{1};
  size_t begin = 0;
  for (size_t k = 0; k < P; ++k) {
    size_t n = k + 1 == P ? opts.users - begin : per;
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) throw std::runtime_error("pipe failed");
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      close(down[1]);
      close(up[0]);
      for (auto& c : kids) {
        close(c.in);
        close(c.out);
      }
      options o = opts;
      o.process_index = k;
      o.user_offset = opts.user_offset + begin;
      o.users = n;
      for (double& rate : o.rates) rate /= static_cast<double>(P);
      o.connections_per_second /= static_cast<double>(P);
      if (o.concurrency) o.concurrency = std::max<size_t>(1, o.concurrency / P);
      o.json_path.clear();
      o.plot_path.clear();
      o.control_in = down[0];
      o.control_out = up[1];
      int status = 0;
      try {
        run(o);
        write_all(o.control_out, "X\n");
      } catch (const std::exception& e) {
        fmt::print(stderr, "starling-bench (process {}): {}\n", k, e.what());
        status = 2;
      }
      fflush(nullptr);
      _exit(status);
    }
    close(down[0]);
    close(up[1]);
    kids.push_back({pid, up[0], down[1]});
    begin += n;
  }

  std::vector<phase_result> results;
  std::string line;
  for (;;) {
    std::vector<std::string> heads;
    bool lost = false;
    for (auto& c : kids) {
      if (!read_line(c.in, line)) lost = true;
      heads.push_back(line);
    }
    if (lost) throw std::runtime_error("a generator process ended early");
    if (heads[0] == "X") break;
    for (auto& h : heads)
      if (h != heads[0]) throw std::runtime_error("generator processes out of step: " + h);
    phase_result res;
    std::istringstream hs(heads[0].substr(2));
    hs >> res.name >> res.scenario;
    res.server_before = sample_process(opts.server_pid, true);
    auto t0 = std::chrono::steady_clock::now();
    for (auto& c : kids) write_all(c.out, "G\n");
    std::vector<uint32_t> lat;
    double offered_sum = 0, offered_first = -1;
    for (auto& c : kids) {
      if (!read_line(c.in, line) || line.rfind("E ", 0) != 0)
        throw std::runtime_error("a generator process ended during " + res.name);
      std::istringstream ls(line.substr(2));
      uint64_t ops, errors, sent, delivered, sessions, items;
      double wall, cpu, user, offered;
      std::string path, err;
      ls >> ops >> errors >> sent >> delivered >> sessions >> items >> wall >> cpu >> user >> offered >>
          path;
      std::getline(ls, err);
      if (!err.empty() && err[0] == ' ') err.erase(0, 1);
      res.ops += ops;
      res.errors += errors;
      res.sent += sent;
      res.delivered += delivered;
      res.sessions += sessions;
      res.items += items;
      res.client_cpu_s += cpu;
      res.client_user_s += user;
      offered_sum += offered;
      if (offered_first < 0) offered_first = offered;
      if (res.first_error.empty()) res.first_error = err;
      std::ifstream f(path, std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      size_t count = bytes.size() / sizeof(uint32_t);
      size_t old = lat.size();
      lat.resize(old + count);
      if (count) std::memcpy(lat.data() + old, bytes.data(), count * sizeof(uint32_t));
      unlink(path.c_str());
    }
    res.server_after = sample_process(opts.server_pid, true);
    res.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (res.server_before.valid && res.server_after.valid)
      res.server_cpu_s = res.server_after.cpu_s - res.server_before.cpu_s;
    res.latency = summarize(lat);
    if (res.scenario == "messages") {
      res.offered_rate = offered_first;  // each child names the total rate
      res.send_rate = res.sent / opts.duration;
      res.delivered_rate = res.delivered / opts.duration;
      res.delivery_ratio = res.sent ? static_cast<double>(res.delivered) / res.sent : 0;
      res.ops_per_s = res.delivered_rate;
    } else {
      res.offered_rate = offered_sum;
      res.ops_per_s = res.wall_s > 0 ? res.ops / res.wall_s : 0;
    }
    if (res.scenario == "idle") {
      // RSS growth counts from before the setup, as in one process.
      if (!results.empty() && results.back().name == "idle-setup")
        res.server_before.rss_kb = results.back().server_before.rss_kb;
      res.ops = res.sessions;
      res.ops_per_s = 0;
    }
    fmt::print(stderr, "[{}] {} processes: {} ops, {} errors, server cpu {:.3f} s\n", res.name,
               P, res.ops, res.errors, res.server_cpu_s);
    if (!res.first_error.empty())
      fmt::print(stderr, "[{}] first error: {}\n", res.name, res.first_error);
    results.push_back(std::move(res));
  }
  for (auto& c : kids) {
    int st = 0;
    waitpid(c.pid, &st, 0);
    close(c.in);
    close(c.out);
  }
  return results;
}

}  // namespace starling::bench
