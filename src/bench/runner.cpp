// Scenario runner: one io_context per thread, every account owned by one thread (its cached
// SaltedPassword and its session are only touched there); the main thread starts each phase,
// prints progress once a second and samples the server around the phase.
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <future>
#include <optional>
#include <thread>

#include "bench/bench.hpp"

namespace starling::bench {

namespace {

using clock = std::chrono::steady_clock;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

uint64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch())
      .count();
}

uint32_t micros_since(clock::time_point t0) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
  return us > 0xffffffffLL ? 0xffffffffu : static_cast<uint32_t>(us);
}

struct runner;

struct worker : stanza_sink {
  size_t index = 0;
  runner* r = nullptr;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;

  // Read by the main thread for progress; written by this thread.
  std::atomic<uint64_t> ops{0}, errors{0}, sent{0}, delivered{0}, late{0}, msg_errors{0};
  std::atomic<uint64_t> online{0};

  // Owned by this thread; handed to the main thread by collect().
  std::vector<uint32_t> latencies;
  std::string first_error;

  std::vector<size_t> users;  // account indexes owned by this worker
  std::vector<std::shared_ptr<xmpp_client>> sessions;
  std::vector<size_t> session_user;
  size_t next_setup = 0;
  clock::time_point next_slot{};

  void on_stanza(xmpp_client& c, xml::element& el) override;
  void error(const std::string& e) {
    errors.fetch_add(1, std::memory_order_relaxed);
    if (first_error.empty()) first_error = e;
  }
};

struct runner {
  options opts;
  target tgt;
  SSL_CTX* ctx = nullptr;
  std::vector<account> accounts;
  std::vector<std::string> jids;  // full JID per account once online
  std::vector<std::unique_ptr<worker>> workers;
  std::atomic<uint32_t> phase_id{0};
  std::atomic<int64_t> remaining{0};
  clock::time_point phase_end{};
  std::string body;

  size_t partner(size_t u) const {
    size_t n = accounts.size();
    size_t p = u ^ 1;
    return p < n ? p : 0;
  }
};

// ---- stanzas received by online sessions

void worker::on_stanza(xmpp_client& c, xml::element& el) {
  const std::string& name = el.name();
  if (name == "message") {
    std::string_view id = el.attr_or("id");
    if (el.attr_or("type") == "error") {
      msg_errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    // id = b<phase>.<steady ns at send>
    if (id.size() < 3 || id[0] != 'b') return;
    size_t dot = id.find('.');
    if (dot == std::string_view::npos) return;
    uint32_t phase = 0;
    uint64_t sent_ns = 0;
    std::from_chars(id.data() + 1, id.data() + dot, phase);
    std::from_chars(id.data() + dot + 1, id.data() + id.size(), sent_ns);
    if (phase != r->phase_id.load(std::memory_order_relaxed)) {
      late.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    uint64_t now = now_ns();
    uint64_t us = now > sent_ns ? (now - sent_ns) / 1000 : 0;
    latencies.push_back(us > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(us));
    delivered.fetch_add(1, std::memory_order_relaxed);
  } else if (name == "iq") {
    std::string_view type = el.attr_or("type");
    if (type != "get" && type != "set") return;
    std::string_view id = el.attr_or("id");
    std::string_view from = el.attr_or("from");
    // XEP-0199 pings are answered; anything else gets service-unavailable (RFC 6120 §8.4).
    if (el.child("ping", "urn:xmpp:ping"))
      c.send(fmt::format("<iq type='result' id='{}' to='{}'/>", id, from));
    else
      c.send(fmt::format("<iq type='error' id='{}' to='{}'><error type='cancel'>"
                         "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                         "</error></iq>",
                         id, from));
  }
}

// ---- coroutines run on the workers

asio::awaitable<void> acquire_slot(runner& r, worker& w) {
  if (r.opts.connections_per_second <= 0) co_return;
  auto interval = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(
      static_cast<double>(r.workers.size()) / r.opts.connections_per_second));
  auto now = clock::now();
  auto slot = std::max(now, w.next_slot);
  w.next_slot = slot + interval;
  if (slot > now) {
    asio::steady_timer t(w.io, slot);
    co_await t.async_wait(as_tuple_awaitable);
  }
}

asio::awaitable<void> pause(worker& w, std::chrono::milliseconds d) {
  asio::steady_timer t(w.io, d);
  co_await t.async_wait(as_tuple_awaitable);
}

// Register the accounts with indexes w.users[k], w.users[k+step], ...
asio::awaitable<void> register_loop(runner& r, worker& w, size_t k, size_t step) {
  for (; k < w.users.size(); k += step) {
    co_await acquire_slot(r, w);
    auto c = std::make_shared<xmpp_client>(w.io, r.tgt, r.ctx);
    auto t0 = clock::now();
    bool ok = co_await c->register_account(r.accounts[w.users[k]]);
    if (ok) {
      w.latencies.push_back(micros_since(t0));
      w.ops.fetch_add(1, std::memory_order_relaxed);
    } else {
      w.error(c->error());
    }
    co_await c->close_stream();
  }
}

// One login per account (first login: includes the client's PBKDF2), or, with `until`,
// closed-loop logins over the accounts until the phase ends.
asio::awaitable<void> login_loop(runner& r, worker& w, size_t k, size_t step, bool until_end) {
  if (k >= w.users.size()) co_return;
  size_t i = k;
  for (;;) {
    if (until_end && clock::now() >= r.phase_end) break;
    co_await acquire_slot(r, w);
    auto c = std::make_shared<xmpp_client>(w.io, r.tgt, r.ctx);
    auto t0 = clock::now();
    bool ok = co_await c->login(r.accounts[w.users[i]], "bench");
    if (ok) {
      w.latencies.push_back(micros_since(t0));
      w.ops.fetch_add(1, std::memory_order_relaxed);
    } else {
      w.error(c->error());
    }
    co_await c->close_stream();
    if (!ok) {
      co_await pause(w, std::chrono::milliseconds(100));  // no hot loop on failures
    }
    i += step;
    if (i >= w.users.size()) {
      if (!until_end) break;
      i = k;
    }
  }
}

asio::awaitable<void> session_reader(std::shared_ptr<xmpp_client> c, worker* w) {
  co_await c->read_loop(w);
  w->online.fetch_sub(1, std::memory_order_relaxed);
}

// Brings accounts online and keeps them (idle and messages scenarios).
asio::awaitable<void> setup_loop(runner& r, worker& w) {
  while (w.next_setup < w.users.size()) {
    size_t u = w.users[w.next_setup++];
    co_await acquire_slot(r, w);
    auto c = std::make_shared<xmpp_client>(w.io, r.tgt, r.ctx);
    auto t0 = clock::now();
    bool ok = co_await c->login(r.accounts[u], "bench");
    if (!ok) {
      w.error(c->error());
      co_await c->close_stream();
      continue;
    }
    w.latencies.push_back(micros_since(t0));
    w.ops.fetch_add(1, std::memory_order_relaxed);
    w.online.fetch_add(1, std::memory_order_relaxed);
    r.jids[u] = c->jid();
    w.sessions.push_back(c);
    w.session_user.push_back(u);
    asio::co_spawn(w.io, session_reader(c, &w), asio::detached);
  }
}

// Offered load: this worker's share of `rate`, spread over its sessions round-robin, paced
// by a 1 ms tick (cheaper than a timer per session).
asio::awaitable<void> pacer(runner& r, worker& w, double rate, uint32_t phase) {
  asio::steady_timer tick(w.io);
  auto start = clock::now();
  uint64_t sent = 0;
  size_t rr = 0;
  std::string msg;
  while (!w.sessions.empty()) {
    auto now = clock::now();
    if (now >= r.phase_end) break;
    double due = rate * std::chrono::duration<double>(now - start).count();
    while (static_cast<double>(sent) < due) {
      size_t s = rr++ % w.sessions.size();
      xmpp_client& c = *w.sessions[s];
      ++sent;
      if (!c.is_open()) continue;
      const std::string& to = r.jids[r.partner(w.session_user[s])];
      msg.clear();
      fmt::format_to(std::back_inserter(msg),
                     "<message to='{}' type='chat' id='b{}.{}'><body>{}</body></message>", to,
                     phase, now_ns(), r.body);
      c.send(msg);
      w.sent.fetch_add(1, std::memory_order_relaxed);
    }
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(as_tuple_awaitable);
  }
}

asio::awaitable<void> close_session(std::shared_ptr<xmpp_client> c) { co_await c->close_stream(); }

// ---- main-thread side

struct collected {
  std::vector<uint32_t> latencies;
  std::string first_error;
};

// Moves each worker's samples out on its own thread.
collected collect(runner& r) {
  collected out;
  for (auto& wp : r.workers) {
    worker& w = *wp;
    std::promise<void> done;
    asio::post(w.io, [&w, &out, &done] {
      out.latencies.insert(out.latencies.end(), w.latencies.begin(), w.latencies.end());
      w.latencies.clear();
      if (out.first_error.empty()) out.first_error = w.first_error;
      w.first_error.clear();
      done.set_value();
    });
    done.get_future().wait();
  }
  return out;
}

uint64_t sum(runner& r, std::atomic<uint64_t> worker::*field) {
  uint64_t s = 0;
  for (auto& w : r.workers) s += ((*w).*field).load(std::memory_order_relaxed);
  return s;
}

void reset_counters(runner& r) {
  for (auto& w : r.workers) {
    w->ops = 0;
    w->errors = 0;
    w->sent = 0;
    w->delivered = 0;
    w->late = 0;
    w->msg_errors = 0;
  }
}

// Starts `make(worker&)`-produced tasks on every worker and waits for all of them with a
// progress line on stderr once a second.
template <class Spawn>
phase_result run_phase(runner& r, std::string name, std::string scenario, Spawn spawn,
                       bool messages = false, double offered = 0) {
  phase_result res;
  res.name = std::move(name);
  res.scenario = std::move(scenario);
  res.offered_rate = offered;
  reset_counters(r);
  uint32_t phase = r.phase_id.fetch_add(1) + 1;
  res.server_before = sample_process(r.opts.server_pid);
  double cpu0 = self_cpu_seconds();
  auto t0 = clock::now();
  r.phase_end = t0 + std::chrono::duration_cast<clock::duration>(
                         std::chrono::duration<double>(r.opts.duration));
  r.remaining = 0;
  for (auto& wp : r.workers) {
    worker& w = *wp;
    std::promise<void> spawned;
    asio::post(w.io, [&r, &w, &spawn, &spawned, phase] {
      spawn(w, phase);
      spawned.set_value();
    });
    spawned.get_future().wait();
  }
  auto last_print = t0;
  uint64_t last_ops = 0;
  proc_sample last_srv = res.server_before;
  auto progress = [&](bool force) {
    auto now = clock::now();
    if (!force && now - last_print < std::chrono::seconds(1)) return;
    double dt = std::chrono::duration<double>(now - last_print).count();
    uint64_t ops = messages ? sum(r, &worker::delivered) : sum(r, &worker::ops);
    std::string srv;
    if (r.opts.server_pid) {
      proc_sample s = sample_process(r.opts.server_pid);
      if (s.valid && last_srv.valid)
        srv = fmt::format(" server cpu {:.0f}% rss {:.1f} MB", 100 * (s.cpu_s - last_srv.cpu_s) / dt,
                          s.rss_kb / 1024.0);
      last_srv = s;
    }
    std::string extra;
    if (messages)
      extra = fmt::format(" sent {}", sum(r, &worker::sent));
    fmt::print(stderr, "[{}] {:5.1f}s {} {} ({:.0f}/s){} errors {} online {}{}\n", res.name,
               std::chrono::duration<double>(now - t0).count(), messages ? "delivered" : "done",
               ops, (ops - last_ops) / dt, extra, sum(r, &worker::errors),
               sum(r, &worker::online), srv);
    last_print = now;
    last_ops = ops;
  };
  while (r.remaining.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    progress(false);
  }
  if (messages) {
    // Messages still in flight when sending stopped count if they arrive within the drain.
    auto drain_end = clock::now() + std::chrono::duration_cast<clock::duration>(
                                        std::chrono::duration<double>(r.opts.drain_timeout));
    while (sum(r, &worker::delivered) < sum(r, &worker::sent) && clock::now() < drain_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      progress(false);
    }
  }
  auto t1 = clock::now();
  res.server_after = sample_process(r.opts.server_pid);
  res.client_cpu_s = self_cpu_seconds() - cpu0;
  res.wall_s = std::chrono::duration<double>(t1 - t0).count();
  progress(true);
  if (res.server_before.valid && res.server_after.valid)
    res.server_cpu_s = res.server_after.cpu_s - res.server_before.cpu_s;
  collected c = collect(r);
  res.latency = summarize(c.latencies);
  res.first_error = c.first_error;
  res.errors = sum(r, &worker::errors) + sum(r, &worker::msg_errors);
  if (messages) {
    res.sent = sum(r, &worker::sent);
    res.delivered = sum(r, &worker::delivered);
    res.ops = res.delivered;
    // Rates over the sending period: the drain only collects what was sent in it.
    res.send_rate = res.sent / r.opts.duration;
    res.delivered_rate = res.delivered / r.opts.duration;
    res.delivery_ratio = res.sent ? static_cast<double>(res.delivered) / res.sent : 0;
    res.ops_per_s = res.delivered_rate;
  } else {
    res.ops = sum(r, &worker::ops);
    res.ops_per_s = res.wall_s > 0 ? res.ops / res.wall_s : 0;
  }
  res.sessions = sum(r, &worker::online);
  return res;
}

auto done_handler(runner& r) {
  return [&r](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        fmt::print(stderr, "starling-bench: task failed: {}\n", ex.what());
      }
    }
    r.remaining.fetch_sub(1, std::memory_order_acq_rel);
  };
}

size_t setup_concurrency(const options& o, size_t threads) {
  size_t c = o.concurrency ? o.concurrency : 64;
  return std::max<size_t>(1, (c + threads - 1) / threads);
}

bool sessions_online(runner& r) { return sum(r, &worker::online) > 0; }

phase_result setup_sessions(runner& r, const std::string& name) {
  size_t per = setup_concurrency(r.opts, r.workers.size());
  return run_phase(r, name, "setup", [&r, per](worker& w, uint32_t) {
    w.next_setup = 0;
    for (size_t k = 0; k < per && k < w.users.size(); ++k) {
      r.remaining.fetch_add(1);
      asio::co_spawn(w.io, setup_loop(r, w), done_handler(r));
    }
  });
}

void close_sessions(runner& r) {
  r.remaining = 0;
  for (auto& wp : r.workers) {
    worker& w = *wp;
    std::promise<void> spawned;
    asio::post(w.io, [&r, &w, &spawned] {
      for (auto& c : w.sessions) {
        r.remaining.fetch_add(1);
        asio::co_spawn(w.io, close_session(c), done_handler(r));
      }
      w.sessions.clear();
      w.session_user.clear();
      spawned.set_value();
    });
    spawned.get_future().wait();
  }
  auto end = clock::now() + std::chrono::seconds(5);
  while (r.remaining.load() > 0 && clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace

std::vector<phase_result> run(const options& opts) {
  runner r;
  r.opts = opts;
  r.tgt.domain = opts.domain;
  r.tgt.tls = opts.tls;
  r.tgt.mechanism = opts.mechanism;
  r.tgt.alg = opts.mechanism == "SCRAM-SHA-512"   ? sasl::hash_alg::sha512
              : opts.mechanism == "SCRAM-SHA-256" ? sasl::hash_alg::sha256
                                                  : sasl::hash_alg::sha1;
  r.tgt.timeout = std::chrono::milliseconds(static_cast<int64_t>(opts.timeout * 1000));
  {
    asio::io_context io;
    tcp::resolver resolver(io);
    auto eps = resolver.resolve(opts.host, std::to_string(opts.port));
    r.tgt.endpoint = eps.begin()->endpoint();
  }
  r.ctx = make_client_tls_context();
  if (!r.ctx) throw std::runtime_error("cannot create TLS context");
  r.body.assign(opts.body_bytes, 'x');
  for (size_t i = 0; i < opts.body_bytes; ++i) r.body[i] = "abcdefghijklmnopqrstuvwxyz "[i % 27];

  for (size_t i = 0; i < opts.users; ++i) {
    account a;
    a.user = fmt::format("{}{}", opts.user_prefix, opts.user_offset + i);
    auto prepared = sasl::prepare_password(opts.password);
    if (!prepared) throw std::runtime_error("password not allowed by PRECIS OpaqueString");
    a.password = *prepared;
    r.accounts.push_back(std::move(a));
  }
  r.jids.resize(opts.users);
  size_t threads = std::max<size_t>(1, opts.threads);
  for (size_t t = 0; t < threads; ++t) {
    auto w = std::make_unique<worker>();
    w->index = t;
    w->r = &r;
    w->guard.emplace(w->io.get_executor());
    r.workers.push_back(std::move(w));
  }
  for (size_t i = 0; i < opts.users; ++i) r.workers[i % threads]->users.push_back(i);
  for (auto& w : r.workers) {
    worker* wp = w.get();
    wp->thread = std::thread([wp] { wp->io.run(); });
  }

  std::vector<phase_result> results;
  auto report = [&](phase_result res) {
    if (!res.first_error.empty())
      fmt::print(stderr, "[{}] first error: {}\n", res.name, res.first_error);
    results.push_back(std::move(res));
  };

  if (opts.do_register) {
    size_t per = setup_concurrency(opts, threads);
    report(run_phase(r, "register", "register", [&r, per](worker& w, uint32_t) {
      for (size_t k = 0; k < per && k < w.users.size(); ++k) {
        r.remaining.fetch_add(1);
        asio::co_spawn(w.io, register_loop(r, w, k, per), done_handler(r));
      }
    }));
  }

  for (const std::string& sc : opts.scenarios) {
    if (sc == "login") {
      // Concurrent closed loops: --concurrency in all, one per account by default.
      size_t total = opts.concurrency ? opts.concurrency : opts.users;
      size_t per = std::max<size_t>(1, (total + threads - 1) / threads);
      report(run_phase(r, "login-first", "login", [&r, per](worker& w, uint32_t) {
        for (size_t k = 0; k < per && k < w.users.size(); ++k) {
          r.remaining.fetch_add(1);
          asio::co_spawn(w.io, login_loop(r, w, k, per, false), done_handler(r));
        }
      }));
      report(run_phase(r, "login", "login", [&r, per](worker& w, uint32_t) {
        for (size_t k = 0; k < per && k < w.users.size(); ++k) {
          r.remaining.fetch_add(1);
          asio::co_spawn(w.io, login_loop(r, w, k, per, true), done_handler(r));
        }
      }));
    } else if (sc == "idle") {
      bool had_sessions = sessions_online(r);
      proc_sample before = sample_process(opts.server_pid);
      if (!had_sessions) report(setup_sessions(r, "idle-setup"));
      phase_result hold = run_phase(r, "idle", "idle", [&r](worker& w, uint32_t) {
        r.remaining.fetch_add(1);
        asio::co_spawn(w.io, pause(w, std::chrono::milliseconds(static_cast<int64_t>(
                                          r.opts.duration * 1000))),
                       done_handler(r));
      });
      hold.server_before.rss_kb = before.rss_kb;  // RSS growth counts from before the setup
      hold.ops = hold.sessions;
      hold.ops_per_s = 0;
      report(std::move(hold));
    } else if (sc == "messages") {
      if (!sessions_online(r)) report(setup_sessions(r, "messages-setup"));
      for (double rate : opts.rates) {
        double per_worker = rate / threads;
        report(run_phase(
            r, fmt::format("messages@{:g}", rate), "messages",
            [&r, per_worker](worker& w, uint32_t phase) {
              r.remaining.fetch_add(1);
              asio::co_spawn(w.io, pacer(r, w, per_worker, phase), done_handler(r));
            },
            true, rate));
      }
    } else {
      fmt::print(stderr, "starling-bench: unknown scenario '{}' skipped\n", sc);
    }
  }

  close_sessions(r);
  for (auto& w : r.workers) w->guard.reset();
  for (auto& w : r.workers) {
    w->io.stop();
    w->thread.join();
  }
  SSL_CTX_free(r.ctx);
  return results;
}

}  // namespace starling::bench
