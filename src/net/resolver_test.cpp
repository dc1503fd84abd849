// Tests for net/resolver: the RFC 2782 / XEP-0368 ordering rules as pure functions, and the
// c-ares path against a small fake DNS server on 127.0.0.1 (UDP, random port).
#include "net/resolver.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

using namespace starling::net;
namespace asio = boost::asio;

namespace {

srv_record rec(std::string t, uint16_t port, uint16_t prio, uint16_t weight, bool tls = false) {
  return srv_record{std::move(t), port, prio, weight, tls};
}

// Deterministic pick: returns values from a script, clamped to max.
random_pick scripted(std::vector<uint32_t> values) {
  auto v = std::make_shared<std::vector<uint32_t>>(std::move(values));
  auto i = std::make_shared<size_t>(0);
  return [v, i](uint32_t max) -> uint32_t {
    uint32_t x = *i < v->size() ? (*v)[(*i)++] : 0;
    return std::min(x, max);
  };
}

std::vector<std::string> targets(const std::vector<srv_record>& rs) {
  std::vector<std::string> out;
  for (auto& r : rs) out.push_back(r.target);
  return out;
}

}  // namespace

TEST(SrvOrder, SortsByPriorityFirst) {
  auto out = order_srv({rec("c", 1, 30, 5), rec("a", 1, 10, 5), rec("b", 1, 20, 5)}, default_random());
  EXPECT_EQ(targets(out), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SrvOrder, WeightedChoiceFollowsRunningSum) {
  // Same priority, weights 10 (a), 30 (b), 60 (c): sum 100. Pick 50 -> running sums 10, 40,
  // 100: c. Then a, b remain (sum 40): pick 5 -> a (10 >= 5). Then b.
  auto out = order_srv({rec("a", 1, 0, 10), rec("b", 1, 0, 30), rec("c", 1, 0, 60)}, scripted({50, 5, 0}));
  EXPECT_EQ(targets(out), (std::vector<std::string>{"c", "a", "b"}));
}

TEST(SrvOrder, ZeroWeightPlacedFirstInRunningSum) {
  // RFC 2782: weight-0 records go first in the list, so a pick of 0 selects them.
  auto out = order_srv({rec("heavy", 1, 0, 10), rec("zero", 1, 0, 0)}, scripted({0, 0}));
  EXPECT_EQ(targets(out), (std::vector<std::string>{"zero", "heavy"}));
  out = order_srv({rec("heavy", 1, 0, 10), rec("zero", 1, 0, 0)}, scripted({7, 0}));
  EXPECT_EQ(targets(out), (std::vector<std::string>{"heavy", "zero"}));
}

TEST(SrvOrder, WeightsDistributeStatistically) {
  // Weights 1 (light, first in the running sum) and 3 (heavy). RFC 2782 picks a number in
  // [0, sum] inclusive: 0 and 1 select light, 2..4 heavy, so heavy leads 3/5 of the time.
  int heavy_first = 0;
  auto pick = default_random();
  for (int i = 0; i < 4000; ++i) {
    auto out = order_srv({rec("light", 1, 0, 1), rec("heavy", 1, 0, 3)}, pick);
    if (out[0].target == "heavy") ++heavy_first;
  }
  EXPECT_GT(heavy_first, 2200);
  EXPECT_LT(heavy_first, 2600);
}

TEST(SrvOrder, PrioritiesNeverInterleave) {
  auto pick = default_random();
  for (int i = 0; i < 200; ++i) {
    auto out = order_srv({rec("b1", 1, 2, 50), rec("a1", 1, 1, 1), rec("b2", 1, 2, 1), rec("a2", 1, 1, 99)}, pick);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].priority, 1);
    EXPECT_EQ(out[1].priority, 1);
    EXPECT_EQ(out[2].priority, 2);
    EXPECT_EQ(out[3].priority, 2);
  }
}

TEST(SrvPlan, NoAnswersFallsBack) {
  auto p = plan_srv(std::nullopt, std::nullopt, default_random());
  EXPECT_EQ(p.outcome, srv_outcome::fallback);
  p = plan_srv(std::vector<srv_record>{}, std::vector<srv_record>{}, default_random());
  EXPECT_EQ(p.outcome, srv_outcome::fallback);
}

TEST(SrvPlan, DotForXmppServerMeansNoService) {
  auto p = plan_srv(std::nullopt, std::vector<srv_record>{rec(".", 0, 0, 0)}, default_random());
  EXPECT_EQ(p.outcome, srv_outcome::no_service);
  p = plan_srv(std::vector<srv_record>{rec(".", 0, 0, 0)}, std::vector<srv_record>{rec(".", 0, 0, 0)},
               default_random());
  EXPECT_EQ(p.outcome, srv_outcome::no_service);
}

TEST(SrvPlan, DotForXmppsOnlyRulesOutDirectTls) {
  auto p = plan_srv(std::vector<srv_record>{rec(".", 0, 0, 0)}, std::nullopt, default_random());
  EXPECT_EQ(p.outcome, srv_outcome::fallback);
  p = plan_srv(std::vector<srv_record>{rec(".", 0, 0, 0)}, std::vector<srv_record>{rec("x.example", 5270, 0, 0)},
               default_random());
  ASSERT_EQ(p.outcome, srv_outcome::use_records);
  ASSERT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.records[0].target, "x.example");
  EXPECT_FALSE(p.records[0].direct_tls);
}

TEST(SrvPlan, DirectTlsRecordsUsableEvenWhenXmppSaysNoService) {
  auto p = plan_srv(std::vector<srv_record>{rec("tls.example", 5223, 0, 0)},
                    std::vector<srv_record>{rec(".", 0, 0, 0)}, default_random());
  ASSERT_EQ(p.outcome, srv_outcome::use_records);
  EXPECT_TRUE(p.records[0].direct_tls);
}

TEST(SrvPlan, CombinesBothSetsByPriority) {
  // XEP-0368 §3: the combined list is sorted by priority and weight.
  auto p = plan_srv(std::vector<srv_record>{rec("tls", 5270, 5, 0), rec("tls-backup", 5270, 20, 0)},
                    std::vector<srv_record>{rec("plain", 5269, 10, 0)}, default_random());
  ASSERT_EQ(p.outcome, srv_outcome::use_records);
  EXPECT_EQ(targets(p.records), (std::vector<std::string>{"tls", "plain", "tls-backup"}));
  EXPECT_TRUE(p.records[0].direct_tls);
  EXPECT_FALSE(p.records[1].direct_tls);
  EXPECT_TRUE(p.records[2].direct_tls);
}

TEST(SrvPlan, RootTargetMixedWithRealRecordsIsIgnored) {
  auto p = plan_srv(std::nullopt, std::vector<srv_record>{rec(".", 0, 0, 0), rec("real", 5269, 1, 0)},
                    default_random());
  ASSERT_EQ(p.outcome, srv_outcome::use_records);
  EXPECT_EQ(targets(p.records), (std::vector<std::string>{"real"}));
}

// ---------------------------------------------------------------------------------------
// Fake DNS server: answers SRV, A and AAAA from a table; unknown names get NXDOMAIN, names
// marked silent get no answer at all. Loopback only, one thread, stops on destruction.

namespace {

constexpr uint16_t T_A = 1, T_AAAA = 28, T_SRV = 33;

class fake_dns {
 public:
  fake_dns() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~fake_dns() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string servers() const { return "127.0.0.1:" + std::to_string(port_); }

  void srv(const std::string& name, uint16_t prio, uint16_t weight, uint16_t port, const std::string& target) {
    std::string rd;
    put16(rd, prio);
    put16(rd, weight);
    put16(rd, port);
    rd += encode_name(target);
    add(name, T_SRV, rd);
  }
  void a(const std::string& name, const std::string& ip) {
    in_addr x{};
    inet_pton(AF_INET, ip.c_str(), &x);
    add(name, T_A, std::string(reinterpret_cast<char*>(&x), 4));
  }
  void aaaa(const std::string& name, const std::string& ip) {
    in6_addr x{};
    inet_pton(AF_INET6, ip.c_str(), &x);
    add(name, T_AAAA, std::string(reinterpret_cast<char*>(&x), 16));
  }
  void silent(const std::string& name) {
    std::lock_guard l(m_);
    silent_.insert(lower(name));
  }
  int queries(const std::string& name) {
    std::lock_guard l(m_);
    return count_[lower(name)];
  }

 private:
  static void put16(std::string& s, uint16_t v) {
    s.push_back(static_cast<char>(v >> 8));
    s.push_back(static_cast<char>(v & 0xff));
  }
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static std::string encode_name(const std::string& n) {
    std::string out;
    if (n != ".") {
      size_t start = 0;
      while (start < n.size()) {
        size_t dot = n.find('.', start);
        if (dot == std::string::npos) dot = n.size();
        out.push_back(static_cast<char>(dot - start));
        out += n.substr(start, dot - start);
        start = dot + 1;
      }
    }
    out.push_back('\0');
    return out;
  }
  void add(const std::string& name, uint16_t type, std::string rdata) {
    std::lock_guard l(m_);
    records_[lower(name)].emplace_back(type, std::move(rdata));
  }
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      unsigned char buf[512];
      sockaddr_in from{};
      socklen_t flen = sizeof from;
      ssize_t n = ::recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
      if (n < 17) continue;
      // Question: labels from offset 12, then qtype, qclass.
      size_t off = 12;
      std::string name;
      while (off < static_cast<size_t>(n) && buf[off] != 0) {
        size_t len = buf[off];
        if (off + 1 + len > static_cast<size_t>(n)) break;
        if (!name.empty()) name += '.';
        name.append(reinterpret_cast<char*>(buf + off + 1), len);
        off += 1 + len;
      }
      off += 1;
      if (off + 4 > static_cast<size_t>(n)) continue;
      uint16_t qtype = static_cast<uint16_t>(buf[off] << 8 | buf[off + 1]);
      size_t qend = off + 4;
      name = lower(name);
      std::vector<std::string> answers;
      bool known;
      {
        std::lock_guard l(m_);
        ++count_[name];
        if (silent_.count(name)) continue;
        auto it = records_.find(name);
        known = it != records_.end();
        if (known)
          for (auto& [t, rd] : it->second)
            if (t == qtype) answers.push_back(rd);
      }
      std::string out(reinterpret_cast<char*>(buf), qend);
      out[2] = static_cast<char>(0x84 | (buf[2] & 0x01));  // QR, AA, RD copied
      out[3] = static_cast<char>(0x80 | (known ? 0 : 3));   // RA; NOERROR or NXDOMAIN
      out[4] = 0, out[5] = 1;                               // QDCOUNT
      out[6] = 0, out[7] = static_cast<char>(answers.size());
      for (int i = 8; i < 12; ++i) out[i] = 0;
      for (auto& rd : answers) {
        put16(out, 0xC00C);  // name: pointer to the question
        put16(out, qtype);
        put16(out, 1);  // IN
        put16(out, 0), put16(out, 60);  // TTL
        put16(out, static_cast<uint16_t>(rd.size()));
        out += rd;
      }
      ::sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), flen);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex m_;
  std::map<std::string, std::vector<std::pair<uint16_t, std::string>>> records_;
  std::set<std::string> silent_;
  std::map<std::string, int> count_;
};

template <class T>
T run_on_io(std::function<asio::awaitable<T>()> f) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, f(), [&](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    out = std::move(v);
  });
  io.run_for(std::chrono::seconds(20));
  if (!out) throw std::runtime_error("resolver did not finish");
  return std::move(*out);
}

resolver_options opts_for(const fake_dns& dns) {
  resolver_options o;
  o.servers = dns.servers();
  o.query_timeout = std::chrono::milliseconds(300);
  o.tries = 1;
  o.total_timeout = std::chrono::milliseconds(3000);
  return o;
}

std::vector<std::string> hosts_of(const resolve_result& r) {
  std::vector<std::string> out;
  for (auto& c : r.candidates) out.push_back(c.host + ":" + std::to_string(c.port) + (c.direct_tls ? "/tls" : ""));
  return out;
}

}  // namespace

TEST(Resolver, SrvRecordsOrderedAndResolved) {
  fake_dns dns;
  dns.srv("_xmpp-server._tcp.example.test", 10, 0, 5269, "xmpp1.example.test");
  dns.srv("_xmpp-server._tcp.example.test", 20, 0, 5270, "xmpp2.example.test");
  dns.srv("_xmpps-server._tcp.example.test", 5, 0, 5271, "tls.example.test");
  dns.a("xmpp1.example.test", "192.0.2.1");
  dns.aaaa("xmpp1.example.test", "2001:db8::1");
  dns.a("xmpp2.example.test", "192.0.2.2");
  dns.a("tls.example.test", "192.0.2.3");
  resolver r(opts_for(dns));
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("example.test"); });
  EXPECT_EQ(res.error, "");
  EXPECT_EQ(res.outcome, srv_outcome::use_records);
  EXPECT_EQ(hosts_of(res), (std::vector<std::string>{"tls.example.test:5271/tls", "xmpp1.example.test:5269",
                                                     "xmpp2.example.test:5270"}));
  ASSERT_EQ(res.candidates.size(), 3u);
  ASSERT_EQ(res.candidates[1].addresses.size(), 2u);
  std::set<std::string> a1;
  for (auto& a : res.candidates[1].addresses) a1.insert(a.to_string());
  EXPECT_EQ(a1, (std::set<std::string>{"192.0.2.1", "2001:db8::1"}));
  EXPECT_EQ(res.candidates[0].addresses.at(0).to_string(), "192.0.2.3");
}

TEST(Resolver, TargetWithoutAddressIsSkipped) {
  fake_dns dns;
  dns.srv("_xmpp-server._tcp.skip.test", 1, 0, 5269, "missing.skip.test");
  dns.srv("_xmpp-server._tcp.skip.test", 2, 0, 5269, "present.skip.test");
  dns.a("present.skip.test", "192.0.2.9");
  resolver r(opts_for(dns));
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("skip.test"); });
  EXPECT_EQ(hosts_of(res), (std::vector<std::string>{"present.skip.test:5269"}));
}

TEST(Resolver, NoSrvFallsBackToDomainOn5269) {
  fake_dns dns;
  dns.a("plain.test", "192.0.2.7");
  dns.aaaa("plain.test", "2001:db8::7");
  resolver r(opts_for(dns));
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("plain.test."); });
  EXPECT_EQ(res.outcome, srv_outcome::fallback);
  EXPECT_EQ(hosts_of(res), (std::vector<std::string>{"plain.test:5269"}));
  ASSERT_EQ(res.candidates.size(), 1u);
  EXPECT_EQ(res.candidates[0].addresses.size(), 2u);
  EXPECT_EQ(dns.queries("_xmpp-server._tcp.plain.test"), 1);
  EXPECT_EQ(dns.queries("_xmpps-server._tcp.plain.test"), 1);
}

TEST(Resolver, RootTargetMeansNoServiceAndNoFallback) {
  fake_dns dns;
  dns.srv("_xmpp-server._tcp.none.test", 0, 0, 0, ".");
  dns.a("none.test", "192.0.2.8");
  resolver r(opts_for(dns));
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("none.test"); });
  EXPECT_EQ(res.outcome, srv_outcome::no_service);
  EXPECT_EQ(res.error, "no-service");
  EXPECT_TRUE(res.candidates.empty());
  EXPECT_EQ(dns.queries("none.test"), 0);  // no A/AAAA fallback was tried
}

TEST(Resolver, UnknownDomainIsNotFound) {
  fake_dns dns;
  resolver r(opts_for(dns));
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("nowhere.test"); });
  EXPECT_TRUE(res.candidates.empty());
  EXPECT_EQ(res.error, "not-found");
}

TEST(Resolver, SilentServerTimesOutWithinDeadline) {
  fake_dns dns;
  dns.silent("_xmpp-server._tcp.slow.test");
  dns.silent("_xmpps-server._tcp.slow.test");
  dns.silent("slow.test");
  auto o = opts_for(dns);
  o.query_timeout = std::chrono::milliseconds(200);
  o.tries = 3;
  o.total_timeout = std::chrono::milliseconds(400);
  resolver r(o);
  auto t0 = std::chrono::steady_clock::now();
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("slow.test"); });
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(res.candidates.empty());
  EXPECT_EQ(res.error, "timeout");
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST(Resolver, SrvTimeoutStillFallsBackToAddress) {
  // RFC 6120 §3.2.1: no SRV response -> fallback. Per-query timeouts are short, the total
  // deadline long enough for the A/AAAA step.
  fake_dns dns;
  dns.silent("_xmpp-server._tcp.half.test");
  dns.silent("_xmpps-server._tcp.half.test");
  dns.a("half.test", "192.0.2.5");
  auto o = opts_for(dns);
  o.query_timeout = std::chrono::milliseconds(150);
  o.tries = 1;
  resolver r(o);
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("half.test"); });
  EXPECT_EQ(hosts_of(res), (std::vector<std::string>{"half.test:5269"}));
}

TEST(Resolver, HostsFileBeforeDns) {
  // The DNS server says 192.0.2.1; the hosts file (CARES_HOSTS, same code path as
  // /etc/hosts) says 127.0.0.42 and wins.
  fake_dns dns;
  dns.a("hosted.test", "192.0.2.1");
  char path[] = "/tmp/starling-hosts-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string content = "127.0.0.42 hosted.test\n";
  ASSERT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  ::close(fd);
  ::setenv("CARES_HOSTS", path, 1);
  auto o = opts_for(dns);
  o.hosts_from_env = true;
  resolver r(o);
  auto res = run_on_io<resolve_result>([&] { return r.resolve_server("hosted.test"); });
  ::unsetenv("CARES_HOSTS");
  ::unlink(path);
  ASSERT_EQ(res.candidates.size(), 1u);
  EXPECT_EQ(res.candidates[0].addresses.at(0).to_string(), "127.0.0.42");
  EXPECT_EQ(dns.queries("hosted.test"), 0);
}

TEST(Resolver, EtcHostsHonored) {
  // "localhost" is in /etc/hosts on every Debian system; the fake DNS does not know it.
  fake_dns dns;
  resolver r(opts_for(dns));
  int status = -1;
  auto addrs = run_on_io<std::vector<asio::ip::address>>([&] { return r.lookup_host("localhost", status); });
  EXPECT_EQ(status, 0) << ares_status_text(status);
  ASSERT_FALSE(addrs.empty());
  bool loopback = false;
  for (auto& a : addrs) loopback |= a.is_loopback();
  EXPECT_TRUE(loopback);
  EXPECT_EQ(dns.queries("localhost"), 0);
}

TEST(Resolver, ConcurrentResolvesOnTwoIoContexts) {
  fake_dns dns;
  dns.a("one.test", "192.0.2.11");
  dns.a("two.test", "192.0.2.12");
  resolver r(opts_for(dns));
  std::string got1, got2;
  std::thread t1([&] {
    auto res = run_on_io<resolve_result>([&] { return r.resolve_server("one.test"); });
    if (!res.candidates.empty()) got1 = res.candidates[0].addresses.at(0).to_string();
  });
  std::thread t2([&] {
    auto res = run_on_io<resolve_result>([&] { return r.resolve_server("two.test"); });
    if (!res.candidates.empty()) got2 = res.candidates[0].addresses.at(0).to_string();
  });
  t1.join();
  t2.join();
  EXPECT_EQ(got1, "192.0.2.11");
  EXPECT_EQ(got2, "192.0.2.12");
}

TEST(Resolver, AbandonedLookupIsTornDownSafely) {
  // The io_context is destroyed while the coroutine waits on a silent server: the channel
  // must be destroyed with the frame without touching freed state (ASan build checks).
  fake_dns dns;
  dns.silent("_xmpp-server._tcp.gone.test");
  dns.silent("_xmpps-server._tcp.gone.test");
  resolver r(opts_for(dns));
  bool finished = false;
  {
    asio::io_context io;
    asio::co_spawn(io, r.resolve_server("gone.test"), [&](std::exception_ptr, resolve_result) { finished = true; });
    io.run_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(finished);
}
