#pragma once
// Asynchronous discovery of an XMPP server's address (RFC 6120 §3.2, XEP-0368) on c-ares,
// driven by Boost.Asio: no call blocks, every lookup has a deadline.
//
// API
//   resolver r(options);                       // cheap, immutable, shareable across threads
//   resolve_result res = co_await r.resolve_server("example.org");
//     - queries _xmpps-server._tcp.<domain> (direct TLS, XEP-0368) and
//       _xmpp-server._tcp.<domain> (STARTTLS, RFC 6120 §3.2.1) in parallel;
//     - merges both record sets and orders them by priority, then by weighted random choice
//       within a priority (RFC 2782 "Usage rules"; XEP-0368 §3 sorts the combined list);
//     - a target of "." removes its record set: for _xmpp-server it means the domain offers
//       no s2s service at all (RFC 6120 §3.2.1, RFC 2782), and no A/AAAA fallback is tried;
//       for _xmpps-server it only means "no direct TLS";
//     - without any usable SRV answer (NXDOMAIN, no records, DNS error, timeout) falls back to
//       the domain's own A/AAAA records on port 5269 (RFC 6120 §3.2.2);
//     - looks up A/AAAA for every target in parallel; host names are looked up in the hosts
//       file first (c-ares "files" lookup, i.e. /etc/hosts), then in DNS;
//     - returns the candidates in the order to try, each with its addresses; targets whose
//       addresses could not be found are left out.
//   co_await r.lookup_srv(name, status) / r.lookup_host(host, status): the single steps.
//
// Each call creates its own c-ares channel on the calling coroutine's executor, so the
// awaitables work from coroutines on any io_context (and concurrently from several threads).
// If the coroutine is destroyed while suspended, the channel is torn down with it.
//
// The ordering and merging rules are pure functions (order_srv, plan_srv) so they can be
// tested without DNS.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace starling::net {

struct srv_record {
  std::string target;  // host name without the trailing dot; "." for "no service"
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
  bool direct_tls = false;  // from _xmpps-server._tcp (XEP-0368)
  bool operator==(const srv_record&) const = default;
};

// Returns a uniformly distributed integer in [0, max].
using random_pick = std::function<uint32_t(uint32_t max)>;
// A random_pick backed by a thread-local std::mt19937 seeded from std::random_device.
random_pick default_random();

// RFC 2782 ordering: ascending priority; inside one priority, repeatedly pick a record with
// probability proportional to its weight (weight-0 records first in the running sum, so they
// have a small chance unless all weights are 0); the random number is drawn from [0, sum]
// inclusive as RFC 2782 says, which slightly favours the first record of the running sum.
// Records with target "." are kept as given;
// callers filter them first (see plan_srv).
std::vector<srv_record> order_srv(std::vector<srv_record> records, const random_pick& pick);

enum class srv_outcome {
  use_records,  // connect to `records` in order
  no_service,   // _xmpp-server said "." : the domain has no s2s service, do not fall back
  fallback,     // no usable SRV records: connect to the domain's A/AAAA on the default port
};

struct srv_plan {
  srv_outcome outcome = srv_outcome::fallback;
  std::vector<srv_record> records;  // ordered (use_records only)
};

// Combines the answers of the two SRV queries (nullopt: no answer, NXDOMAIN or error).
srv_plan plan_srv(const std::optional<std::vector<srv_record>>& xmpps,
                  const std::optional<std::vector<srv_record>>& xmpp, const random_pick& pick);

struct server_candidate {
  std::string host;
  uint16_t port = 0;
  bool direct_tls = false;
  std::vector<boost::asio::ip::address> addresses;  // in c-ares' preference order (RFC 6724)
};

struct resolve_result {
  std::vector<server_candidate> candidates;  // in the order to try
  srv_outcome outcome = srv_outcome::fallback;
  // When candidates is empty: "no-service" (SRV target "."), "not-found" (no address for
  // any target), "timeout" (deadline passed).
  std::string error;
};

struct resolver_options {
  // DNS servers as "ip", "ip:port" or "[ipv6]:port" (c-ares CSV syntax, comma-separated);
  // empty: the system's /etc/resolv.conf.
  std::string servers;
  // Per-try timeout and tries for each DNS query (c-ares retransmits UDP).
  std::chrono::milliseconds query_timeout{2000};
  int tries = 2;
  // Deadline for a whole resolve_server() / lookup call, including all its queries.
  std::chrono::milliseconds total_timeout{10000};
  // Port of the A/AAAA fallback (RFC 6120 §3.2.2: the IANA-registered 5269).
  uint16_t fallback_port = 5269;
  // Look names up in the hosts file before DNS ("files" then "bind").
  bool use_hosts_file = true;
  // For tests only: the hosts file is the one named by the environment variable CARES_HOSTS
  // instead of /etc/hosts (c-ares ARES_AI_ENVHOSTS).
  bool hosts_from_env = false;
};

class resolver {
 public:
  explicit resolver(resolver_options opts = {}, random_pick pick = default_random());

  boost::asio::awaitable<resolve_result> resolve_server(std::string domain) const;

  // One SRV query. status: 0 on success, else an ARES_* code (ARES_ENOTFOUND, ARES_ENODATA,
  // ARES_ETIMEOUT, ...). Targets come without the trailing dot; the root target is ".".
  boost::asio::awaitable<std::vector<srv_record>> lookup_srv(std::string name, int& status) const;
  // A and AAAA of one host (hosts file first when use_hosts_file).
  boost::asio::awaitable<std::vector<boost::asio::ip::address>> lookup_host(std::string host,
                                                                            int& status) const;

  const resolver_options& options() const { return opts_; }

 private:
  resolver_options opts_;
  random_pick pick_;
};

// Converts an ARES_* status to a short text ("ENOTFOUND", ...).
std::string ares_status_text(int status);

}  // namespace starling::net
