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

void append_number(std::string& out, uint64_t v) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

uint32_t micros_since(clock::time_point t0) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - t0).count();
  if (us < 0) return 0;
  return us > 0xffffffffLL ? 0xffffffffu : static_cast<uint32_t>(us);
}

clock::duration seconds(double s) {
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s));
}

struct runner;

// One IQ in flight on a session whose stanzas go to the worker's sink (read_loop): the sink
// fills this in and wakes the waiting coroutine. c.user_data points here while it waits.
struct query_state {
  explicit query_state(asio::io_context& io) : wake(io) {}
  std::string id;
  bool done = false, ok = false, complete = false;
  std::string last;   // RSM <last/> of a MAM <fin/>
  std::string reply;  // raw IQ answer (disco)
  uint64_t results = 0;
  asio::steady_timer wake;
};

// Sessions of one kind held online by a worker.
struct session_set {
  std::vector<size_t> users;  // account indexes owned by this worker
  std::vector<std::shared_ptr<xmpp_client>> sessions;
  std::vector<size_t> session_user;
  size_t next_setup = 0;
};

struct worker : stanza_sink {
  size_t index = 0;
  runner* r = nullptr;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;

  // Read by the main thread for progress; written by this thread.
  std::atomic<uint64_t> ops{0}, errors{0}, sent{0}, delivered{0}, late{0}, msg_errors{0};
  std::atomic<uint64_t> items{0}, subscribed{0}, setup_received{0};
  std::atomic<uint64_t> online{0};

  // Owned by this thread; handed to the main thread by collect().
  std::vector<uint32_t> latencies;
  std::string first_error;

  session_set main, pres, mam;
  std::vector<size_t> register_list;  // every account of this worker (register phase)
  std::vector<size_t> login_list;     // accounts of the presence login loops
  clock::time_point next_slot{};

  void on_stanza(xmpp_client& c, std::string_view el) override;
  void error(const std::string& e) {
    errors.fetch_add(1, std::memory_order_relaxed);
    if (first_error.empty()) first_error = e;
  }
};

struct runner {
  options opts;
  target tgt;
  SSL_CTX* ctx = nullptr;
  std::vector<account> accounts;  // main, then presence, then mam accounts
  std::vector<std::string> jids;  // full JID per account once online
  std::vector<size_t> roster_items;  // per account, from its last login
  size_t main_n = 0, pres_first = 0, pres_n = 0, mam_first = 0, mam_n = 0;
  size_t roster_k = 0;  // contacts per presence account
  std::vector<std::unique_ptr<worker>> workers;
  std::atomic<uint32_t> phase_id{0};
  std::atomic<int64_t> remaining{0};
  std::atomic<int> mam_supported{-1};
  clock::time_point phase_end{};
  std::string body;

  size_t partner(size_t u) const {
    size_t n = main_n;
    size_t p = u ^ 1;
    return p < n ? p : 0;
  }
  size_t mam_partner(size_t u) const {
    size_t j = (u - mam_first) ^ 1;
    return mam_first + (j < mam_n ? j : 0);
  }
  std::string bare(size_t u) const { return accounts[u].user + "@" + opts.domain; }
  // Presence account j's contacts: the roster_k nearest on a ring, so rosters are mutual.
  std::vector<size_t> contacts(size_t u) const {
    std::vector<size_t> out;
    size_t j = u - pres_first;
    size_t half = roster_k / 2;
    for (size_t d = 1; d <= half; ++d) {
      out.push_back(pres_first + (j + d) % pres_n);
      out.push_back(pres_first + (j + pres_n - d) % pres_n);
    }
    if (roster_k % 2) out.push_back(pres_first + (j + pres_n / 2) % pres_n);
    return out;
  }
};

// ---- stanzas received by online sessions

void worker::on_stanza(xmpp_client& c, std::string_view el) {
  std::string_view name = raw::name(el);
  if (name == "message") {
    if (raw::attr_raw(el, "type") == "error") {
      msg_errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::string_view id = raw::attr_raw(el, "id");
    if (id.size() < 3 || id[0] != 'b') {
      if (auto* st = static_cast<query_state*>(c.user_data);
          st && raw::has_child(el, "result")) {
        ++st->results;  // XEP-0313 §4.2: one <message/> per archived message
      } else if (id.starts_with("m")) {
        setup_received.fetch_add(1, std::memory_order_relaxed);
      }
      return;
    }
    // id = b<phase>.<steady ns at send>
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
  } else if (name == "presence") {
    std::string_view type = raw::attr_raw(el, "type");
    if (type.empty() || type == "unavailable") {
      items.fetch_add(1, std::memory_order_relaxed);  // fan-out in the presence scenario
    } else if (type == "subscribe") {
      // Mutual rosters: every request is approved (RFC 6121 §3.1.4).
      std::string_view from = raw::attr_raw(el, "from");
      std::string out = "<presence type='subscribed' to='";
      out += from.substr(0, from.find('/'));
      out += "'/>";
      c.send(out);
    } else if (type == "subscribed") {
      subscribed.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (name == "iq") {
    std::string_view type = raw::attr_raw(el, "type");
    std::string_view id = raw::attr_raw(el, "id");
    if (type == "result" || type == "error") {
      if (auto* st = static_cast<query_state*>(c.user_data); st && id == st->id) {
        st->done = true;
        st->ok = type == "result";
        // XEP-0313 §4.3: <fin complete='true'/> on the last page.
        st->complete = el.find("complete='true'") != std::string_view::npos ||
                       el.find("complete=\"true\"") != std::string_view::npos;
        st->last = raw::text_of(el, "last");
        st->reply.assign(el);
        st->wake.cancel();
      }
      return;
    }
    std::string_view from = raw::attr_raw(el, "from");
    std::string out;
    // RFC 6121 §2.1.6: roster pushes are acknowledged; XEP-0199 pings are answered; anything
    // else gets service-unavailable (RFC 6120 §8.4).
    if (el.find("jabber:iq:roster") != std::string_view::npos ||
        el.find("urn:xmpp:ping") != std::string_view::npos) {
      out = "<iq type='result' id='";
      out += id;
      out += "'";
      if (!from.empty()) {
        out += " to='";
        out += from;
        out += "'";
      }
      out += "/>";
    } else {
      out = fmt::format(
          "<iq type='error' id='{}' to='{}'><error type='cancel'>"
          "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
          id, from);
    }
    c.send(out);
  }
}

// ---- coroutines run on the workers

asio::awaitable<void> acquire_slot(runner& r, worker& w) {
  if (r.opts.connections_per_second <= 0) co_return;
  auto interval = seconds(static_cast<double>(r.workers.size()) / r.opts.connections_per_second);
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

// Sends an IQ on a session in read_loop() mode and waits for the answer the sink hands over.
asio::awaitable<bool> roundtrip(runner& r, worker& w, xmpp_client& c, query_state& st,
                                std::string_view stanza, std::string id) {
  st.id = std::move(id);
  st.done = st.ok = st.complete = false;
  st.last.clear();
  c.user_data = &st;
  c.send(stanza);
  st.wake.expires_after(r.tgt.timeout);
  co_await st.wake.async_wait(as_tuple_awaitable);
  c.user_data = nullptr;
  co_return st.done;
}

// Register the accounts `list[k]`, `list[k+step]`, ...
asio::awaitable<void> register_loop(runner& r, worker& w, const std::vector<size_t>* list,
                                    size_t k, size_t step) {
  for (; k < list->size(); k += step) {
    co_await acquire_slot(r, w);
    auto c = std::make_shared<xmpp_client>(w.io, r.tgt, r.ctx);
    auto t0 = clock::now();
    bool ok = co_await c->register_account(r.accounts[(*list)[k]]);
    if (ok) {
      w.latencies.push_back(micros_since(t0));
      w.ops.fetch_add(1, std::memory_order_relaxed);
    } else {
      w.error(c->error());
    }
    co_await c->close_stream();
  }
}

// One login per account (first login: includes the client's PBKDF2), or, with `until_end`,
// closed-loop logins over the accounts until the phase ends.
asio::awaitable<void> login_loop(runner& r, worker& w, const std::vector<size_t>* list, size_t k,
                                 size_t step, bool until_end, size_t min_roster) {
  if (k >= list->size()) co_return;
  size_t i = k;
  for (;;) {
    if (until_end && clock::now() >= r.phase_end) break;
    co_await acquire_slot(r, w);
    auto c = std::make_shared<xmpp_client>(w.io, r.tgt, r.ctx);
    auto t0 = clock::now();
    size_t u = (*list)[i];
    bool ok = co_await c->login(r.accounts[u], "bench");
    if (ok && c->roster_items() < min_roster) {
      ok = false;
      w.error(fmt::format("roster of {} has {} items, expected {}", r.accounts[u].user,
                          c->roster_items(), min_roster));
    } else if (ok) {
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
    if (i >= list->size()) {
      if (!until_end) break;
      i = k;
    }
  }
}

// Open loop: one login started every 1/rate seconds whether or not earlier ones finished, so
// a slow server cannot slow the arrivals down (no coordinated omission); latency counts from
// the scheduled start. Each login has its own resource (several may run for one account).
asio::awaitable<void> open_login(runner& r, worker& w, size_t u, uint64_t n,
                                 clock::time_point scheduled) {
  auto c = std::make_shared<xmpp_client>(w.io, r.tgt, r.ctx);
  bool ok = co_await c->login(r.accounts[u], fmt::format("o{}", n));
  if (ok) {
    w.latencies.push_back(micros_since(scheduled));
    w.ops.fetch_add(1, std::memory_order_relaxed);
  } else {
    w.error(c->error());
  }
  co_await c->close_stream();
}

asio::awaitable<void> open_loop_pacer(runner& r, worker& w, double rate) {
  if (w.main.users.empty() || rate <= 0) co_return;
  asio::steady_timer tick(w.io);
  auto start = clock::now();
  uint64_t started = 0;
  for (;;) {
    auto now = clock::now();
    if (now >= r.phase_end) break;
    double due = rate * std::chrono::duration<double>(now - start).count();
    while (static_cast<double>(started) < due) {
      auto scheduled = start + seconds(static_cast<double>(started) / rate);
      size_t u = w.main.users[started % w.main.users.size()];
      ++started;
      r.remaining.fetch_add(1);
      asio::co_spawn(w.io, open_login(r, w, u, started, scheduled),
                     [&r](std::exception_ptr) { r.remaining.fetch_sub(1); });
    }
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(as_tuple_awaitable);
  }
}

asio::awaitable<void> session_reader(std::shared_ptr<xmpp_client> c, worker* w) {
  co_await c->read_loop(w);
  w->online.fetch_sub(1, std::memory_order_relaxed);
}

// Brings the accounts of a set online and keeps them (idle, messages, presence, mam).
asio::awaitable<void> setup_loop(runner& r, worker& w, session_set* set) {
  while (set->next_setup < set->users.size()) {
    size_t u = set->users[set->next_setup++];
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
    r.roster_items[u] = c->roster_items();
    set->sessions.push_back(c);
    set->session_user.push_back(u);
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
  auto& ss = w.main.sessions;
  while (!ss.empty()) {
    auto now = clock::now();
    if (now >= r.phase_end) break;
    double due = rate * std::chrono::duration<double>(now - start).count();
    while (static_cast<double>(sent) < due) {
      size_t s = rr++ % ss.size();
      xmpp_client& c = *ss[s];
      ++sent;
      if (!c.is_open()) continue;
      const std::string& to = r.jids[r.partner(w.main.session_user[s])];
      // <message to='TO' type='chat' id='b<phase>.<steady ns>'><body>BODY</body></message>,
      // appended by hand: fmt's format-string parsing was ~4 % of the generator's CPU at
      // 10,000 msg/s. The bytes are the same.
      msg.clear();
      msg += "<message to='";
      msg += to;
      msg += "' type='chat' id='b";
      append_number(msg, phase);
      msg += '.';
      append_number(msg, now_ns());
      msg += "'><body>";
      msg += r.body;
      msg += "</body></message>";
      c.send(msg);
      w.sent.fetch_add(1, std::memory_order_relaxed);
    }
    tick.expires_after(std::chrono::milliseconds(1));
    co_await tick.async_wait(as_tuple_awaitable);
  }
}

// Presence setup: every presence account asks each of its contacts for a subscription; the
// contacts' sinks approve, so both directions end as 'both' (RFC 6121 §3).
asio::awaitable<void> subscribe_all(runner& r, worker& w) {
  for (size_t s = 0; s < w.pres.sessions.size(); ++s) {
    size_t u = w.pres.session_user[s];
    std::string out;
    for (size_t v : r.contacts(u)) {
      out += "<presence type='subscribe' to='";
      out += r.bare(v);
      out += "'/>";
    }
    w.pres.sessions[s]->send(out);
    co_await pause(w, std::chrono::milliseconds(1));
  }
}

// MAM setup on one worker: the first session checks support (XEP-0313 §7: the account's
// disco#info, else the server's), then every session sends its partner mam_messages.
asio::awaitable<void> mam_prepare(runner& r, worker& w) {
  if (w.mam.sessions.empty()) co_return;
  if (r.mam_supported.load() < 0) {
    query_state st(w.io);
    xmpp_client& c = *w.mam.sessions.front();
    bool found = false;
    for (std::string to : {r.bare(w.mam.session_user.front()), r.opts.domain}) {
      std::string q = fmt::format(
          "<iq type='get' id='disco' to='{}'><query xmlns='http://jabber.org/protocol/disco#info'/>"
          "</iq>",
          to);
      bool got = co_await roundtrip(r, w, c, st, q, "disco");
      if (got && st.ok && st.reply.find("urn:xmpp:mam:2") != std::string::npos) found = true;
      if (found) break;
    }
    int expected = -1;
    r.mam_supported.compare_exchange_strong(expected, found ? 1 : 0);
  }
  if (r.mam_supported.load() != 1) co_return;
  std::string msg;
  for (size_t s = 0; s < w.mam.sessions.size(); ++s) {
    size_t u = w.mam.session_user[s];
    const std::string& to = r.jids[r.mam_partner(u)];
    for (size_t k = 0; k < r.opts.mam_messages; ++k) {
      msg.clear();
      fmt::format_to(std::back_inserter(msg),
                     "<message to='{}' type='chat' id='m{}'><body>{} {}</body></message>", to, k,
                     r.body, k);
      w.mam.sessions[s]->send(msg);
      w.sent.fetch_add(1, std::memory_order_relaxed);
    }
    co_await pause(w, std::chrono::milliseconds(1));
  }
}

// MAM: one session queries its archive page by page (XEP-0313 §4 with RSM, XEP-0059) until the
// phase ends; each page is one operation.
asio::awaitable<void> mam_loop(runner& r, worker& w, size_t s) {
  std::shared_ptr<xmpp_client> c = w.mam.sessions[s];
  query_state st(w.io);
  uint64_t n = 0;
  while (clock::now() < r.phase_end && c->is_open()) {
    std::string after;
    for (size_t page = 0; page < r.opts.mam_pages && clock::now() < r.phase_end; ++page) {
      std::string id = fmt::format("q{}", ++n);
      std::string q = fmt::format(
          "<iq type='set' id='{0}'><query xmlns='urn:xmpp:mam:2' queryid='{0}'>"
          "<set xmlns='http://jabber.org/protocol/rsm'><max>{1}</max>{2}</set></query></iq>",
          id, r.opts.mam_page,
          after.empty() ? std::string() : fmt::format("<after>{}</after>", after));
      st.results = 0;
      auto t0 = clock::now();
      bool got = co_await roundtrip(r, w, *c, st, q, id);
      if (!got || !st.ok) {
        w.error(got ? "MAM query failed: " + st.reply.substr(0, 300) : "MAM query timed out");
        co_await pause(w, std::chrono::milliseconds(100));
        break;
      }
      w.latencies.push_back(micros_since(t0));
      w.ops.fetch_add(1, std::memory_order_relaxed);
      w.items.fetch_add(st.results, std::memory_order_relaxed);
      if (st.complete || st.last.empty()) break;
      after = st.last;
    }
  }
}

asio::awaitable<void> close_session(std::shared_ptr<xmpp_client> c) { co_await c->close_stream(); }

// ---- main-thread side

struct collected {
  std::vector<uint32_t> latencies;
  std::string first_error;
};

// Runs f(worker&) on every worker's own thread and waits for it.
template <class F>
void on_workers(runner& r, F f) {
  for (auto& wp : r.workers) {
    worker& w = *wp;
    std::promise<void> done;
    asio::post(w.io, [&w, &f, &done] {
      f(w);
      done.set_value();
    });
    done.get_future().wait();
  }
}

// Moves each worker's samples out on its own thread.
collected collect(runner& r) {
  collected out;
  on_workers(r, [&out](worker& w) {
    out.latencies.insert(out.latencies.end(), w.latencies.begin(), w.latencies.end());
    w.latencies.clear();
    if (out.first_error.empty()) out.first_error = w.first_error;
    w.first_error.clear();
  });
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
    w->items = 0;
  }
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

template <class Task>
void spawn_task(runner& r, worker& w, Task&& t) {
  r.remaining.fetch_add(1);
  asio::co_spawn(w.io, std::forward<Task>(t), done_handler(r));
}

// Waits until the tasks counted in r.remaining are done (or the deadline passes).
void wait_tasks(runner& r, clock::time_point deadline = clock::time_point::max()) {
  while (r.remaining.load(std::memory_order_acquire) > 0 && clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

enum class phase_kind { ops, messages };

// Starts `spawn(worker&, phase)`-produced tasks on every worker and waits for all of them
// with a progress line on stderr once a second.
template <class Spawn>
phase_result run_phase(runner& r, std::string name, std::string scenario, Spawn spawn,
                       phase_kind kind = phase_kind::ops, double offered = 0) {
  const bool messages = kind == phase_kind::messages;
  phase_result res;
  res.name = std::move(name);
  res.scenario = std::move(scenario);
  res.offered_rate = offered;
  child_phase_begin(r.opts, res.name + " " + res.scenario);
  reset_counters(r);
  uint32_t phase = r.phase_id.fetch_add(1) + 1;
  res.server_before = sample_process(r.opts.server_pid, true);
  double cpu0 = self_cpu_seconds();
  double user0 = self_user_seconds();
  auto t0 = clock::now();
  r.phase_end = t0 + seconds(r.opts.duration);
  r.remaining = 0;
  on_workers(r, [&spawn, phase](worker& w) { spawn(w, phase); });
  auto last_print = t0;
  uint64_t last_ops = 0;
  proc_sample last_srv = res.server_before;
  double last_cli = cpu0;
  const bool quiet = r.opts.process_index != 0;
  auto progress = [&](bool force) {
    auto now = clock::now();
    if (quiet || (!force && now - last_print < std::chrono::seconds(1))) return;
    double dt = std::chrono::duration<double>(now - last_print).count();
    if (dt <= 0) return;
    uint64_t ops = messages ? sum(r, &worker::delivered) : sum(r, &worker::ops);
    std::string srv;
    if (r.opts.server_pid) {
      proc_sample s = sample_process(r.opts.server_pid);
      if (s.valid && last_srv.valid)
        srv = fmt::format(" server cpu {:.0f}% rss {:.1f} MB", 100 * (s.cpu_s - last_srv.cpu_s) / dt,
                          s.rss_kb / 1024.0);
      last_srv = s;
    }
    double cli = self_cpu_seconds();
    std::string extra;
    if (messages) extra = fmt::format(" sent {}", sum(r, &worker::sent));
    fmt::print(stderr, "[{}] {:5.1f}s {} {} ({:.0f}/s){} errors {} online {}{} client cpu {:.0f}%{}\n",
               res.name, std::chrono::duration<double>(now - t0).count(),
               messages ? "delivered" : "done", ops, (ops - last_ops) / dt, extra,
               sum(r, &worker::errors), sum(r, &worker::online), srv, 100 * (cli - last_cli) / dt,
               r.opts.processes > 1 ? fmt::format(" (process 0 of {})", r.opts.processes) : "");
    last_print = now;
    last_ops = ops;
    last_cli = cli;
  };
  while (r.remaining.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    progress(false);
  }
  if (messages) {
    // Messages still in flight when sending stopped count if they arrive within the drain.
    auto drain_end = clock::now() + seconds(r.opts.drain_timeout);
    while (sum(r, &worker::delivered) < sum(r, &worker::sent) && clock::now() < drain_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      progress(false);
    }
  }
  auto t1 = clock::now();
  res.server_after = sample_process(r.opts.server_pid, true);
  res.client_cpu_s = self_cpu_seconds() - cpu0;
  res.client_user_s = self_user_seconds() - user0;
  res.wall_s = std::chrono::duration<double>(t1 - t0).count();
  progress(true);
  if (res.server_before.valid && res.server_after.valid)
    res.server_cpu_s = res.server_after.cpu_s - res.server_before.cpu_s;
  collected c = collect(r);
  res.first_error = c.first_error;
  res.errors = sum(r, &worker::errors) + sum(r, &worker::msg_errors);
  res.items = sum(r, &worker::items);
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
  child_phase_end(r.opts, res, c.latencies);
  res.latency = summarize(c.latencies);
  return res;
}

size_t setup_concurrency(const options& o, size_t threads) {
  size_t c = o.concurrency ? o.concurrency : 64;
  return std::max<size_t>(1, (c + threads - 1) / threads);
}

phase_result setup_sessions(runner& r, const std::string& name, session_set worker::*set) {
  size_t per = setup_concurrency(r.opts, r.workers.size());
  return run_phase(r, name, "setup", [&r, per, set](worker& w, uint32_t) {
    session_set& ss = w.*set;
    ss.next_setup = 0;
    for (size_t k = 0; k < per && k < ss.users.size(); ++k)
      spawn_task(r, w, setup_loop(r, w, &ss));
  });
}

// Closes the sessions of a set for which keep(user) is false.
template <class Keep>
void close_sessions(runner& r, session_set worker::*set, Keep keep) {
  r.remaining = 0;
  on_workers(r, [&r, set, &keep](worker& w) {
    session_set& ss = w.*set;
    std::vector<std::shared_ptr<xmpp_client>> kept;
    std::vector<size_t> kept_user;
    for (size_t i = 0; i < ss.sessions.size(); ++i) {
      if (keep(ss.session_user[i])) {
        kept.push_back(ss.sessions[i]);
        kept_user.push_back(ss.session_user[i]);
      } else {
        spawn_task(r, w, close_session(ss.sessions[i]));
      }
    }
    ss.sessions = std::move(kept);
    ss.session_user = std::move(kept_user);
  });
  wait_tasks(r, clock::now() + std::chrono::seconds(5));
}

void close_all(runner& r, session_set worker::*set) {
  close_sessions(r, set, [](size_t) { return false; });
}

bool sessions_online(runner& r) {
  bool any = false;
  on_workers(r, [&any](worker& w) { any = any || !w.main.sessions.empty(); });
  return any;
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

  auto wants = [&](std::string_view sc) {
    return std::find(opts.scenarios.begin(), opts.scenarios.end(), sc) != opts.scenarios.end();
  };
  // Presence and MAM use accounts of their own (so that the 100-contact rosters do not slow
  // down the other scenarios' logins), and run in process 0 only.
  const bool lead = opts.process_index == 0;
  r.main_n = opts.users;
  r.pres_first = r.main_n;
  r.pres_n = wants("presence") && lead
                 ? (opts.presence_users ? opts.presence_users : opts.roster_size + 1)
                 : 0;
  r.roster_k = r.pres_n ? std::min(opts.roster_size, r.pres_n - 1) : 0;
  r.mam_first = r.pres_first + r.pres_n;
  r.mam_n = wants("mam") && lead ? std::max<size_t>(2, opts.mam_users) : 0;
  auto prepared = sasl::prepare_password(opts.password);
  if (!prepared) throw std::runtime_error("password not allowed by PRECIS OpaqueString");
  auto add_account = [&](std::string user) {
    account a;
    a.user = std::move(user);
    a.password = *prepared;
    r.accounts.push_back(std::move(a));
  };
  for (size_t i = 0; i < r.main_n; ++i)
    add_account(fmt::format("{}{}", opts.user_prefix, opts.user_offset + i));
  for (size_t i = 0; i < r.pres_n; ++i) add_account(fmt::format("{}p{}", opts.user_prefix, i));
  for (size_t i = 0; i < r.mam_n; ++i) add_account(fmt::format("{}m{}", opts.user_prefix, i));
  r.jids.resize(r.accounts.size());
  r.roster_items.resize(r.accounts.size());
  if (!opts.roster_plan.empty()) {
    // The same rings subscribe_all() builds in-band, for servers whose subscription handling
    // is too slow to build 10,000 of them before every run (Prosody's file storage rewrites a
    // whole roster on each change): bench/run writes them into the server's storage instead.
    std::FILE* f = std::fopen(opts.roster_plan.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + opts.roster_plan);
    for (size_t i = 0; i < r.pres_n; ++i)
      for (size_t v : r.contacts(r.pres_first + i))
        fmt::print(f, "{} {}\n", r.bare(r.pres_first + i), r.bare(v));
    SSL_CTX_free(r.ctx);  // nothing connects in this mode (LeakSanitizer in CI)
    r.ctx = nullptr;
    if (std::fclose(f) != 0) throw std::runtime_error("cannot write " + opts.roster_plan);
    return {};
  }
  size_t threads = std::max<size_t>(1, opts.threads);
  for (size_t t = 0; t < threads; ++t) {
    auto w = std::make_unique<worker>();
    w->index = t;
    w->r = &r;
    w->guard.emplace(w->io.get_executor());
    r.workers.push_back(std::move(w));
  }
  for (size_t i = 0; i < r.main_n; ++i) r.workers[i % threads]->main.users.push_back(i);
  for (size_t i = 0; i < r.pres_n; ++i)
    r.workers[i % threads]->pres.users.push_back(r.pres_first + i);
  for (size_t i = 0; i < r.mam_n; ++i) r.workers[i % threads]->mam.users.push_back(r.mam_first + i);
  for (auto& w : r.workers) {
    worker* wp = w.get();
    wp->thread = std::thread([wp] { wp->io.run(); });
  }

  std::vector<phase_result> results;
  auto report = [&](phase_result res) {
    if (!res.first_error.empty() && opts.process_index == 0)
      fmt::print(stderr, "[{}] first error: {}\n", res.name, res.first_error);
    if (!res.note.empty() && opts.process_index == 0)
      fmt::print(stderr, "[{}] {}\n", res.name, res.note);
    results.push_back(std::move(res));
  };

  if (opts.do_register || opts.register_only) {
    size_t per = setup_concurrency(opts, threads);
    report(run_phase(r, "register", "register", [&r, per](worker& w, uint32_t) {
      // Each worker registers its own accounts of every kind.
      std::vector<size_t>& all = w.register_list;
      all = w.main.users;
      all.insert(all.end(), w.pres.users.begin(), w.pres.users.end());
      all.insert(all.end(), w.mam.users.begin(), w.mam.users.end());
      for (size_t k = 0; k < per && k < all.size(); ++k)
        spawn_task(r, w, register_loop(r, w, &all, k, per));
    }));
  }

  for (const std::string& sc : opts.scenarios) {
    if (opts.register_only) break;
    if (sc == "login") {
      // Concurrent closed loops: --concurrency in all, one per account by default.
      size_t total = opts.concurrency ? opts.concurrency : opts.users;
      size_t per = std::max<size_t>(1, (total + threads - 1) / threads);
      auto loops = [&r, per](bool until_end) {
        return [&r, per, until_end](worker& w, uint32_t) {
          for (size_t k = 0; k < per && k < w.main.users.size(); ++k)
            spawn_task(r, w, login_loop(r, w, &w.main.users, k, per, until_end, 0));
        };
      };
      report(run_phase(r, "login-first", "login", loops(false)));
      phase_result closed = run_phase(r, "login", "login", loops(true));
      double open_rate = closed.ops_per_s * opts.open_loop_fraction;
      report(std::move(closed));
      if (opts.open_loop_fraction > 0) {
        // The closed loop found the saturation rate; the open loop offers a fraction of it
        // and measures latency as a client population arriving independently would see it.
        report(run_phase(
            r, "login-open", "login",
            [&r, open_rate, threads](worker& w, uint32_t) {
              spawn_task(r, w, open_loop_pacer(r, w, open_rate / threads));
            },
            phase_kind::ops, open_rate));
      }
    } else if (sc == "idle") {
      bool had_sessions = sessions_online(r);
      proc_sample before = sample_process(opts.server_pid);
      if (!had_sessions) report(setup_sessions(r, "idle-setup", &worker::main));
      phase_result hold = run_phase(r, "idle", "idle", [&r](worker& w, uint32_t) {
        spawn_task(r, w,
                   pause(w, std::chrono::milliseconds(static_cast<int64_t>(r.opts.duration * 1000))));
      });
      hold.server_before.rss_kb = before.rss_kb;  // RSS growth counts from before the setup
      hold.ops = hold.sessions;
      hold.ops_per_s = 0;
      report(std::move(hold));
    } else if (sc == "messages") {
      if (!sessions_online(r)) report(setup_sessions(r, "messages-setup", &worker::main));
      double overloaded_at = 0;  // the first rate that delivered < 99 % (with the option)
      for (double rate : opts.rates) {
        const double offered = rate * static_cast<double>(opts.processes);
        const std::string name = fmt::format("messages@{:g}", offered);
        if (overloaded_at > 0) {
          phase_result skipped;
          skipped.name = name;
          skipped.scenario = "messages";
          skipped.offered_rate = offered;
          skipped.note = fmt::format("skipped: fewer than 99 % delivered at {:g} msg/s", overloaded_at);
          if (lead) fmt::print(stderr, "[{}] {}\n", name, skipped.note);
          report(std::move(skipped));
          continue;
        }
        double per_worker = rate / threads;
        phase_result ph = run_phase(
            r, name, "messages",
            [&r, per_worker](worker& w, uint32_t phase) {
              spawn_task(r, w, pacer(r, w, per_worker, phase));
            },
            phase_kind::messages, offered);
        if (opts.stop_when_overloaded && ph.delivery_ratio < 0.99) overloaded_at = offered;
        report(std::move(ph));
      }
    } else if (sc == "presence") {
      // Setup: everyone online; rosters filled by mutual subscriptions unless an earlier run
      // left them complete (the roster result of each login says).
      report(setup_sessions(r, "presence-setup", &worker::pres));
      size_t missing = 0;
      for (size_t i = 0; i < r.pres_n; ++i)
        if (r.roster_items[r.pres_first + i] < r.roster_k) ++missing;
      if (missing) {
        on_workers(r, [](worker& w) { w.subscribed = 0; });
        r.remaining = 0;
        on_workers(r, [&r](worker& w) { spawn_task(r, w, subscribe_all(r, w)); });
        wait_tasks(r);
        uint64_t expected = r.pres_n * r.roster_k;
        auto end = clock::now() + std::chrono::seconds(60) + seconds(expected / 500.0);
        while (sum(r, &worker::subscribed) < expected && clock::now() < end)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (lead)
          fmt::print(stderr, "[presence-setup] {} subscription approvals of {} received\n",
                     sum(r, &worker::subscribed), expected);
      }
      // Even accounts stay online and receive the fan-out; odd ones log in and out.
      size_t first = r.pres_first;
      close_sessions(r, &worker::pres, [first](size_t u) { return (u - first) % 2 == 0; });
      size_t k = r.roster_k;
      phase_result ph = run_phase(r, "presence", "presence", [&r, k](worker& w, uint32_t) {
        std::vector<size_t>& odd = w.login_list;
        odd.clear();
        for (size_t u : w.pres.users)
          if ((u - r.pres_first) % 2 == 1) odd.push_back(u);
        for (size_t i = 0; i < odd.size(); ++i)
          spawn_task(r, w, login_loop(r, w, &odd, i, odd.size(), true, k));
      });
      ph.note = fmt::format("rosters of {} mutual contacts; {} accounts, half of them online", k,
                            r.pres_n);
      report(std::move(ph));
      close_all(r, &worker::pres);
    } else if (sc == "mam") {
      report(setup_sessions(r, "mam-setup", &worker::mam));
      r.remaining = 0;
      on_workers(r, [](worker& w) {
        w.sent = 0;
        w.setup_received = 0;
      });
      on_workers(r, [&r](worker& w) { spawn_task(r, w, mam_prepare(r, w)); });
      wait_tasks(r);
      uint64_t expected = sum(r, &worker::sent);
      auto end = clock::now() + std::chrono::seconds(30);
      while (sum(r, &worker::setup_received) < expected && clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      const bool supported = r.mam_supported.load() == 1;
      phase_result ph = run_phase(r, "mam", "mam", [&r, supported](worker& w, uint32_t) {
        if (!supported) return;
        for (size_t s = 0; s < w.mam.sessions.size(); ++s) spawn_task(r, w, mam_loop(r, w, s));
      });
      if (lead && r.mam_n)
        ph.note = supported
                      ? fmt::format("pages of {} (up to {} per query); {} messages archived per "
                                    "account in this run's setup",
                                    opts.mam_page, opts.mam_pages, 2 * opts.mam_messages)
                      : "skipped: the server does not advertise urn:xmpp:mam:2";
      report(std::move(ph));
      close_all(r, &worker::mam);
    } else {
      fmt::print(stderr, "starling-bench: unknown scenario '{}' skipped\n", sc);
    }
  }

  close_all(r, &worker::main);
  for (auto& w : r.workers) w->guard.reset();
  for (auto& w : r.workers) {
    w->io.stop();
    w->thread.join();
  }
  SSL_CTX_free(r.ctx);
  return results;
}

}  // namespace starling::bench
