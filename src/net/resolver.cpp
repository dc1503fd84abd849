#include "net/resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <random>

namespace starling::net {
namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;

random_pick default_random() {
  return [](uint32_t max) -> uint32_t {
    thread_local std::mt19937 gen{std::random_device{}()};
    return std::uniform_int_distribution<uint32_t>(0, max)(gen);
  };
}

std::vector<srv_record> order_srv(std::vector<srv_record> records, const random_pick& pick) {
  std::stable_sort(records.begin(), records.end(),
                   [](const srv_record& a, const srv_record& b) { return a.priority < b.priority; });
  std::vector<srv_record> out;
  out.reserve(records.size());
  size_t i = 0;
  while (i < records.size()) {
    size_t j = i;
    while (j < records.size() && records[j].priority == records[i].priority) ++j;
    // RFC 2782: "arrange all SRV RRs (that have not been ordered yet) in any order, except
    // that all those with weight 0 are placed at the beginning of the list", then pick the
    // first record whose running weight sum is >= a random number in [0, sum].
    std::vector<srv_record> group(records.begin() + i, records.begin() + j);
    std::stable_partition(group.begin(), group.end(), [](const srv_record& r) { return r.weight == 0; });
    while (!group.empty()) {
      uint32_t sum = 0;
      for (auto& r : group) sum += r.weight;
      uint32_t x = pick(sum);
      uint32_t running = 0;
      size_t chosen = group.size() - 1;
      for (size_t k = 0; k < group.size(); ++k) {
        running += group[k].weight;
        if (running >= x) {
          chosen = k;
          break;
        }
      }
      out.push_back(std::move(group[chosen]));
      group.erase(group.begin() + static_cast<std::ptrdiff_t>(chosen));
    }
    i = j;
  }
  return out;
}

namespace {
bool is_root(const srv_record& r) { return r.target.empty() || r.target == "."; }
}  // namespace

srv_plan plan_srv(const std::optional<std::vector<srv_record>>& xmpps,
                  const std::optional<std::vector<srv_record>>& xmpp, const random_pick& pick) {
  srv_plan plan;
  std::vector<srv_record> usable;
  bool xmpp_says_none = false;
  auto take = [&](const std::optional<std::vector<srv_record>>& set, bool direct_tls) {
    if (!set || set->empty()) return false;
    // RFC 2782 / RFC 6120 §3.2.1: a single record with target "." means "decidedly not
    // available". A "." mixed with real records is meaningless; the real ones are used.
    bool all_root = std::all_of(set->begin(), set->end(), is_root);
    for (auto r : *set) {
      if (is_root(r)) continue;
      r.direct_tls = direct_tls;
      usable.push_back(std::move(r));
    }
    return all_root;
  };
  take(xmpps, true);  // "." for _xmpps-server only rules out direct TLS (XEP-0368)
  xmpp_says_none = take(xmpp, false);
  if (!usable.empty()) {
    // XEP-0368 §3: both sets are combined and sorted by priority and weight.
    plan.outcome = srv_outcome::use_records;
    plan.records = order_srv(std::move(usable), pick);
  } else if (xmpp_says_none) {
    plan.outcome = srv_outcome::no_service;
  } else {
    plan.outcome = srv_outcome::fallback;
  }
  return plan;
}

std::string ares_status_text(int status) {
  switch (status) {
    case ARES_SUCCESS: return "SUCCESS";
    case ARES_ENODATA: return "ENODATA";
    case ARES_EFORMERR: return "EFORMERR";
    case ARES_ESERVFAIL: return "ESERVFAIL";
    case ARES_ENOTFOUND: return "ENOTFOUND";
    case ARES_EREFUSED: return "EREFUSED";
    case ARES_EBADRESP: return "EBADRESP";
    case ARES_ECONNREFUSED: return "ECONNREFUSED";
    case ARES_ETIMEOUT: return "ETIMEOUT";
    case ARES_ECANCELLED: return "ECANCELLED";
    case ARES_EDESTRUCTION: return "EDESTRUCTION";
    default: return std::string("ARES(") + std::to_string(status) + ")";
  }
}

namespace {

void library_init() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

// One c-ares channel bound to one executor. c-ares tells us through the socket-state callback
// which descriptors to watch; each gets a non-owning stream_descriptor whose readiness waits
// feed ares_process_fd. A timer drives c-ares' retransmissions and timeouts. Completed
// queries wake the waiting coroutine through a second timer (cancelled as a signal).
class channel : public std::enable_shared_from_this<channel> {
 public:
  explicit channel(asio::any_io_executor ex) : ex_(ex), ares_timer_(ex), wake_(ex) {}

  ~channel() {
    if (ch_) {
      destroying_ = true;
      ares_destroy(ch_);  // runs pending callbacks (ignored) and closes sockets (unwatched)
    }
    for (auto& [fd, w] : watches_) unwatch(*w);
  }

  int init(const resolver_options& o) {
    library_init();
    ares_options opts{};
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS |
               ARES_OPT_FLAGS;
    opts.sock_state_cb = &channel::on_sock_state;
    opts.sock_state_cb_data = this;
    opts.timeout = static_cast<int>(o.query_timeout.count());
    opts.tries = std::max(1, o.tries);
    lookups_ = o.use_hosts_file ? "fb" : "b";
    opts.lookups = lookups_.data();
    // Server domains are fully qualified: never append resolv.conf search domains.
    opts.flags = ARES_FLAG_NOSEARCH;
    int st = ares_init_options(&ch_, &opts, mask);
    if (st != ARES_SUCCESS) {
      ch_ = nullptr;
      return st;
    }
    if (!o.servers.empty()) {
      st = ares_set_servers_ports_csv(ch_, o.servers.c_str());
      if (st != ARES_SUCCESS) return st;
    }
    return ARES_SUCCESS;
  }

  ares_channel get() const { return ch_; }

  // Called after starting queries and after every processing step.
  void rearm_timer() {
    timeval tv{};
    timeval* t = ares_timeout(ch_, nullptr, &tv);
    if (!t) {
      ares_timer_.cancel();
      return;
    }
    auto d = std::chrono::seconds(t->tv_sec) + std::chrono::microseconds(t->tv_usec);
    ares_timer_.expires_after(d);
    std::weak_ptr<channel> weak = weak_from_this();
    ares_timer_.async_wait([weak](error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      ares_process_fd(self->ch_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->rearm_timer();
    });
  }

  // Suspends until `done()` holds or the deadline passes; on the deadline cancels all
  // queries (their callbacks see ARES_ECANCELLED).
  template <class Done>
  asio::awaitable<bool> wait(clock::time_point deadline, Done done) {
    rearm_timer();
    while (!done()) {
      if (clock::now() >= deadline) {
        ares_cancel(ch_);
        co_return false;
      }
      wake_.expires_at(deadline);
      error_code ec;
      co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return true;
  }

  void notify() { wake_.cancel(); }
  bool destroying() const { return destroying_; }

 private:
  struct watch {
    explicit watch(asio::any_io_executor ex, int fd) : sd(ex, fd), fd(fd) {}
    asio::posix::stream_descriptor sd;
    int fd;
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
    bool alive = true;
  };

  static void on_sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<channel*>(data)->sock_state(fd, readable != 0, writable != 0);
  }

  void sock_state(int fd, bool r, bool w) {
    auto it = watches_.find(fd);
    if (!r && !w) {
      // c-ares is about to close fd: stop watching without closing it ourselves.
      if (it != watches_.end()) {
        unwatch(*it->second);
        watches_.erase(it);
      }
      return;
    }
    if (it == watches_.end()) it = watches_.emplace(fd, std::make_shared<watch>(ex_, fd)).first;
    it->second->want_read = r;
    it->second->want_write = w;
    arm(it->second);
  }

  static void unwatch(watch& w) {
    w.alive = false;
    error_code ec;
    w.sd.cancel(ec);
    w.sd.release();
  }

  void arm(const std::shared_ptr<watch>& w) {
    std::weak_ptr<channel> weak = weak_from_this();
    if (w->want_read && !w->reading) {
      w->reading = true;
      w->sd.async_wait(asio::posix::stream_descriptor::wait_read, [weak, w](error_code ec) {
        w->reading = false;
        if (!w->alive || ec) return;
        auto self = weak.lock();
        if (!self) return;
        ares_process_fd(self->ch_, w->fd, ARES_SOCKET_BAD);
        if (w->alive) self->arm(w);
        self->rearm_timer();
      });
    }
    if (w->want_write && !w->writing) {
      w->writing = true;
      w->sd.async_wait(asio::posix::stream_descriptor::wait_write, [weak, w](error_code ec) {
        w->writing = false;
        if (!w->alive || ec) return;
        auto self = weak.lock();
        if (!self) return;
        ares_process_fd(self->ch_, ARES_SOCKET_BAD, w->fd);
        if (w->alive) self->arm(w);
        self->rearm_timer();
      });
    }
  }

  asio::any_io_executor ex_;
  ares_channel ch_ = nullptr;
  std::string lookups_;
  asio::steady_timer ares_timer_;
  asio::steady_timer wake_;
  std::map<int, std::shared_ptr<watch>> watches_;
  bool destroying_ = false;
};

struct srv_query {
  channel* ch = nullptr;
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::vector<srv_record> records;
};

void on_srv(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<srv_query*>(arg);
  if (q->ch->destroying()) return;
  q->done = true;
  q->status = status;
  if (status == ARES_SUCCESS) {
    ares_srv_reply* reply = nullptr;
    q->status = ares_parse_srv_reply(abuf, alen, &reply);
    for (auto* r = reply; r; r = r->next) {
      srv_record rec;
      rec.target = r->host ? r->host : "";
      if (rec.target.empty()) rec.target = ".";  // c-ares gives "" for the root name
      else if (rec.target.size() > 1 && rec.target.back() == '.') rec.target.pop_back();
      rec.port = r->port;
      rec.priority = r->priority;
      rec.weight = r->weight;
      q->records.push_back(std::move(rec));
    }
    if (reply) ares_free_data(reply);
  }
  q->ch->notify();
}

struct host_query {
  channel* ch = nullptr;
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::vector<asio::ip::address> addresses;
};

void on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* res) {
  auto* q = static_cast<host_query*>(arg);
  if (q->ch->destroying()) {
    if (res) ares_freeaddrinfo(res);
    return;
  }
  q->done = true;
  q->status = status;
  if (status == ARES_SUCCESS && res) {
    for (auto* n = res->nodes; n; n = n->ai_next) {
      asio::ip::address a;
      if (n->ai_family == AF_INET) {
        auto* sin = reinterpret_cast<const sockaddr_in*>(n->ai_addr);
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), &sin->sin_addr, 4);
        a = asio::ip::address_v4(b);
      } else if (n->ai_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<const sockaddr_in6*>(n->ai_addr);
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), &sin6->sin6_addr, 16);
        a = asio::ip::address_v6(b, sin6->sin6_scope_id);
      } else {
        continue;
      }
      if (std::find(q->addresses.begin(), q->addresses.end(), a) == q->addresses.end())
        q->addresses.push_back(a);
    }
    if (q->addresses.empty()) q->status = ARES_ENODATA;
  }
  if (res) ares_freeaddrinfo(res);
  q->ch->notify();
}

void start_host(channel& ch, host_query& q, const std::string& host, const resolver_options& o) {
  q.ch = &ch;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = o.hosts_from_env ? ARES_AI_ENVHOSTS : 0;
  ares_getaddrinfo(ch.get(), host.c_str(), nullptr, &hints, &on_addrinfo, &q);
}

void start_srv(channel& ch, srv_query& q, const std::string& name) {
  q.ch = &ch;
  ares_query(ch.get(), name.c_str(), ns_c_in, ns_t_srv, &on_srv, &q);
}

asio::awaitable<std::shared_ptr<channel>> open_channel(const resolver_options& o, int& status) {
  auto ex = co_await asio::this_coro::executor;
  auto ch = std::make_shared<channel>(ex);
  status = ch->init(o);
  co_return ch;
}

// Strips one trailing dot; an empty or over-long name cannot be looked up.
bool normalize_domain(std::string& d) {
  if (!d.empty() && d.back() == '.') d.pop_back();
  return !d.empty() && d.size() <= 253;
}

}  // namespace

resolver::resolver(resolver_options opts, random_pick pick) : opts_(std::move(opts)), pick_(std::move(pick)) {}

asio::awaitable<std::vector<srv_record>> resolver::lookup_srv(std::string name, int& status) const {
  auto deadline = clock::now() + opts_.total_timeout;
  // Query state is declared before the channel so that it outlives it: if this frame is
  // destroyed while suspended, the channel's destructor (ares_destroy) still finds it.
  srv_query q;
  auto ch = co_await open_channel(opts_, status);
  if (status != ARES_SUCCESS) co_return std::vector<srv_record>{};
  start_srv(*ch, q, name);
  auto done = [&q] { return q.done; };
  bool ok = co_await ch->wait(deadline, done);
  status = ok ? q.status : ARES_ETIMEOUT;
  co_return std::move(q.records);
}

asio::awaitable<std::vector<asio::ip::address>> resolver::lookup_host(std::string host,
                                                                      int& status) const {
  auto deadline = clock::now() + opts_.total_timeout;
  host_query q;  // before the channel, see lookup_srv
  auto ch = co_await open_channel(opts_, status);
  if (status != ARES_SUCCESS) co_return std::vector<asio::ip::address>{};
  start_host(*ch, q, host, opts_);
  auto done = [&q] { return q.done; };
  bool ok = co_await ch->wait(deadline, done);
  status = ok ? q.status : ARES_ETIMEOUT;
  co_return std::move(q.addresses);
}

asio::awaitable<resolve_result> resolver::resolve_server(std::string domain) const {
  resolve_result result;
  auto deadline = clock::now() + opts_.total_timeout;
  if (!normalize_domain(domain)) {
    result.error = "not-found";
    co_return result;
  }
  int status = 0;
  // Query state before the channel, see lookup_srv.
  srv_query xmpps, xmpp;
  std::map<std::string, std::unique_ptr<host_query>> hosts;
  auto ch = co_await open_channel(opts_, status);
  if (status != ARES_SUCCESS) {
    result.error = "not-found";
    co_return result;
  }
  // Step 1: both SRV queries at once (RFC 6120 §3.2.1, XEP-0368 §3).
  start_srv(*ch, xmpps, "_xmpps-server._tcp." + domain);
  start_srv(*ch, xmpp, "_xmpp-server._tcp." + domain);
  auto srv_done = [&xmpps, &xmpp] { return xmpps.done && xmpp.done; };
  bool in_time = co_await ch->wait(deadline, srv_done);
  if (!in_time) {
    result.error = "timeout";
    co_return result;
  }
  auto answer = [](const srv_query& q) -> std::optional<std::vector<srv_record>> {
    if (q.status != ARES_SUCCESS) return std::nullopt;
    return q.records;
  };
  srv_plan plan = plan_srv(answer(xmpps), answer(xmpp), pick_);
  result.outcome = plan.outcome;
  if (plan.outcome == srv_outcome::no_service) {
    result.error = "no-service";
    co_return result;
  }
  if (plan.outcome == srv_outcome::fallback) {
    // RFC 6120 §3.2.2: the domain itself on the default port.
    plan.records.push_back(srv_record{domain, opts_.fallback_port, 0, 0, false});
  }
  // Step 2: addresses of every distinct target, all at once.
  for (auto& r : plan.records) {
    auto& slot = hosts[r.target];
    if (!slot) {
      slot = std::make_unique<host_query>();
      start_host(*ch, *slot, r.target, opts_);
    }
  }
  auto hosts_done = [&hosts] {
    return std::all_of(hosts.begin(), hosts.end(), [](auto& h) { return h.second->done; });
  };
  in_time = co_await ch->wait(deadline, hosts_done);
  for (auto& r : plan.records) {
    auto& h = *hosts[r.target];
    if (!h.done || h.status != ARES_SUCCESS || h.addresses.empty()) continue;
    result.candidates.push_back(server_candidate{r.target, r.port, r.direct_tls, h.addresses});
  }
  if (result.candidates.empty()) result.error = in_time ? "not-found" : "timeout";
  co_return result;
}

}  // namespace starling::net
