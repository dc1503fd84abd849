#pragma once
// The state and enforcement shared by the privacy (XEP-0016) and blocking (XEP-0191) modules:
// a cache of each account's lists, default list and blocklist (loaded from the store), the
// per-resource active list, and the hooks that apply them to every stanza in both directions.
//
// Hooks are synchronous: a decision that needs data not yet in memory (an account not yet
// loaded, or a roster lookup for a group/subscription item) takes the stanza over, finishes
// asynchronously, and then routes it on (or bounces it) as the core would have.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/hooks.hpp"
#include "modules/privacy/privacy_engine.hpp"
#include "modules/privacy/privacy_store.hpp"

namespace starling {
class server;
class c2s_session;
}  // namespace starling

namespace starling::privacy {

// Limits: [limits] max_privacy_lists, max_privacy_list_items, max_blocked_jids.

struct resource_state {
  const c2s_session* owner = nullptr;
  std::optional<std::string> active;  // XEP-0016 §2.4: per session
  bool wants_blocklist = false;       // XEP-0191 §3.3: pushes only to resources that asked
};

struct account_state {
  std::vector<list> lists;
  std::optional<std::string> default_list;
  std::vector<jid> blocklist;
  std::map<std::string, resource_state> resources;  // by resource

  list* find(std::string_view name);
  const list* find(std::string_view name) const;
  // XEP-0016 §2.2 rules 1-2: the session's active list, else the default list, else none.
  const list* applicable(const std::string& resource) const;
};

class service {
 public:
  // The one service of this server, created by whichever module starts first.
  static service& attach(server& srv);
  ~service();
  // Module stop: no more deferred decisions.
  void shutdown();

  server& srv() { return srv_; }
  store& db() { return *store_; }

  // The account's state, loaded on first use; nullptr if storage failed. The pointer stays
  // valid (entries are never erased while the server runs, except on account removal). Touch
  // the state only with mutex() held.
  boost::asio::awaitable<std::shared_ptr<account_state>> state(jid bare);
  std::mutex& mutex() { return mutex_; }

  // Sends an IQ set with `payload` to the account's bound resources (all, or only those that
  // asked for the blocklist).
  void push(const jid& bare, const xml::element& payload, bool blocklist_only);
  // Resources of the account that are bound now.
  std::vector<jid> connected(const jid& bare) const;

  // XEP-0191 §3.3/§3.4: presence effects of (un)blocking.
  boost::asio::awaitable<void> presence_on_block(jid owner, std::vector<jid> blocked, bool unblocked);

 private:
  explicit service(server& srv);
  void register_hooks();

  enum class side { allow, deny, blocked, not_loaded, need_roster };
  side check(const jid& owner, const xml::element& st, direction dir, const jid& peer, const roster_facts* r);
  bool is_local_user(const jid& j) const;
  bool exempt(const jid& owner, const jid& peer) const;

  hook_result on_inbound(xml::element& st, const jid& to);
  hook_result on_outbound(c2s_session& s, xml::element& st);
  void deny_inbound(const xml::element& st, const jid& to);
  void deny_outbound(c2s_session& s, const xml::element& st, bool blocklist);

  boost::asio::awaitable<side> check_async(jid owner, const xml::element& st, direction dir, jid peer);
  boost::asio::awaitable<void> inbound_async(xml::element st, jid to);
  boost::asio::awaitable<void> outbound_async(std::shared_ptr<c2s_session> s, xml::element st);
  // Deferred stanzas are handled one at a time, in arrival order, and later stanzas wait
  // behind them, so that deferring never reorders a sender's stanzas (RFC 6120 §10.1).
  void defer_inbound(const xml::element& st, const jid& to);
  boost::asio::awaitable<void> drain_inbound();
  boost::asio::awaitable<void> drain_outbound(std::shared_ptr<c2s_session> s);
  boost::asio::awaitable<void> preload(jid bare);
  boost::asio::awaitable<roster_facts> roster_of(jid owner, jid peer);

  server& srv_;
  std::unique_ptr<store> store_;
  std::mutex mutex_;
  // By bare JID. Hashed, and looked up by string_view (heterogeneous lookup): a presence
  // broadcast checks sender and recipient once per contact (RFC 6121 §4.2.2), and a tree of
  // heap-allocated strings cost a cache miss per level there (issue 6).
  struct key_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::shared_ptr<account_state>, key_hash, std::equal_to<>> accounts_;
  boost::asio::thread_pool pool_{1};  // runs inbound decisions that had to wait
  std::mutex queue_mutex_;
  std::deque<std::pair<xml::element, jid>> inbound_queue_;
  bool inbound_draining_ = false;
};

}  // namespace starling::privacy
