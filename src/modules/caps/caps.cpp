// XEP-0115: Entity Capabilities — the server learns what each local client supports, for PEP
// notifications (XEP-0163 §4.3.3) later: on available presence carrying <c/>, an unknown
// verification string is resolved by a disco#info query to that client (sent in the
// background so the presence is not delayed), verified (§5.4) and cached globally in memory
// (LRU) and in the database; the full JID is mapped to its string while online.
// Not implemented: legacy caps without 'hash' (§8.3, ignored), caps of remote entities (no
// s2s), the server's own caps stream feature (§6.3).
#include <spdlog/spdlog.h>

#include <boost/asio/detached.hpp>
#include <chrono>
#include <list>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "core/c2s_session.hpp"
#include "core/per_server.hpp"
#include "core/server.hpp"
#include "modules/caps/caps_api.hpp"
#include "modules/caps/caps_store.hpp"
#include "modules/caps/caps_ver.hpp"
#include "modules/stored_xml/stored_xml.hpp"

namespace starling::modules {

// Above the presence module (priority 0), so that the query starts as the presence arrives.
constexpr int caps_priority = 90;
constexpr std::chrono::milliseconds caps_query_timeout{10000};
// Verified strings kept in memory beyond those used by online clients.
constexpr size_t caps_memory_entries = 1000;

class caps_module;

namespace {
per_server_instance<caps_module> registry;
// Kept apart from the module instance: listeners may register before caps starts.
per_server_listeners<caps::features_listener> listeners;

void notify_listeners(const server* srv, const jid& full, const std::vector<std::string>& features) {
  std::vector<caps::features_listener> ls = listeners.of(srv);
  for (const auto& l : ls) l(full, features);
}
}  // namespace

class caps_module : public module {
 public:
  ~caps_module() override { unregister(); }

  void start(server& srv) override {
    srv_ = &srv;
    store_ = make_sqlite_caps_store(srv.sqlite());
    srv.add_migrations({{"caps", 1,
                         "CREATE TABLE caps_cache ("
                         " hash TEXT NOT NULL,"      // IANA hash name, e.g. sha-1
                         " ver TEXT NOT NULL,"       // the verification string
                         " info TEXT NOT NULL,"      // the verified disco#info <query/>
                         " verified INTEGER NOT NULL,"  // unix seconds
                         " PRIMARY KEY (hash, ver)"
                         ") WITHOUT ROWID"}});
    registry.set(srv, this);
    srv.hooks().client_stanza.add(caps_priority, [this](c2s_session& s, xml::element& el) {
      on_presence(s, el);
      return hook_result::next;
    });
    srv.hooks().session_closed.add(0, [this](c2s_session& s) {
      std::lock_guard lock(mutex_);
      forget(s.full_jid().str());
      return hook_result::next;
    });
  }

  void stop() override { unregister(); }

  std::optional<std::vector<std::string>> features_of(const jid& full) {
    std::lock_guard lock(mutex_);
    auto j = jids_.find(full.str());
    if (j == jids_.end()) return std::nullopt;
    if (j->second.own) return j->second.own;
    auto v = vers_.find(j->second.key);
    if (v == vers_.end()) return std::nullopt;
    touch(j->second.key, v->second);
    return v->second.features;
  }

 private:
  struct ver_entry {
    std::vector<std::string> features;
    std::list<std::string>::iterator lru;
  };
  struct jid_entry {
    std::string key;     // hash '\n' ver
    std::string failed;  // a key whose query or verification failed for this JID
    // Features learnt for a hash we cannot verify (§5.4 step 2.3: for this JID only).
    std::optional<std::vector<std::string>> own;
  };

  void unregister() { registry.erase(srv_, this); }

  static std::string key_of(std::string_view hash, std::string_view ver) {
    std::string k(hash);
    k += '\n';
    k += ver;
    return k;
  }

  void on_presence(c2s_session& s, const xml::element& el) {
    if (el.name() != "presence" || el.attr("to")) return;  // broadcasts only
    std::string_view type = el.attr_or("type");
    if (type == "unavailable") {
      std::lock_guard lock(mutex_);
      forget(s.full_jid().str());
      return;
    }
    if (!type.empty()) return;
    const xml::element* c = el.child("c", ns_caps);
    // Without <c/>, the last announced capabilities stand; without 'hash' it is the legacy
    // format (XEP-0115 §5.4 step 1), which we do not use.
    if (!c || !c->attr("hash") || !c->attr("node") || !c->attr("ver")) return;
    std::string hash(c->attr_or("hash"));
    std::string ver(c->attr_or("ver"));
    std::string node(c->attr_or("node"));
    std::string full = s.full_jid().str();
    std::string key = key_of(hash, ver);
    std::optional<std::vector<std::string>> known;  // for listeners, when the key is new for this JID
    {
      std::lock_guard lock(mutex_);
      auto& j = jids_[full];
      const bool changed = j.key != key;
      if (changed) {
        j.key = key;
        j.own.reset();
      }
      if (auto v = vers_.find(key); v != vers_.end()) {
        touch(key, v->second);
        if (changed) known = v->second.features;
      }
    }
    if (known) {
      notify_listeners(srv_, s.full_jid(), *known);
      return;
    }
    {
      std::lock_guard lock(mutex_);
      if (vers_.contains(key)) return;
      auto& j = jids_[full];
      if (j.failed == key || j.own || in_flight_.contains(key)) return;
      in_flight_.insert(key);
    }
    boost::asio::co_spawn(s.executor(), resolve(s.full_jid(), std::move(node), std::move(hash), std::move(ver)),
                          boost::asio::detached);
  }

  // XEP-0115 §5.4: learn and check what (hash, ver) stands for, asking `full` if the database
  // does not know it.
  boost::asio::awaitable<void> resolve(jid full, std::string node, std::string hash, std::string ver) {
    std::string key = key_of(hash, ver);
    const bool verifiable = is_supported_caps_hash(hash);
    std::optional<std::vector<std::string>> features;
    bool failed = false;
    try {
      if (verifiable) {
        auto op = store_->get(hash, ver);
        if (auto stored = co_await std::move(op)) {
          if (auto q = load_xml(*stored)) features = disco_features(*q);
        }
      }
      if (!features) {
        xml::element iq("iq", std::string(xml::ns_client));
        iq.set_attr("type", "get");
        iq.set_attr("from", full.domain());
        iq.set_attr("to", full.str());
        // §6.2: the query names node#ver.
        iq.add("query", std::string(ns_disco_info)).set_attr("node", node + "#" + ver);
        auto op = srv_->request(std::move(iq), caps_query_timeout);
        auto res = co_await std::move(op);
        const xml::element* q = res && res->attr_or("type") == "result" ? res->child("query", ns_disco_info) : nullptr;
        if (!q) {
          failed = true;
        } else if (!verifiable) {
          // §5.4 step 2: unknown hash function: use the answer for this JID only.
          auto list = disco_features(*q);
          bool still = false;
          {
            std::lock_guard lock(mutex_);
            if (auto j = jids_.find(full.str()); j != jids_.end() && j->second.key == key) {
              j->second.own = list;
              still = true;
            }
          }
          if (still) notify_listeners(srv_, full, list);
        } else if (caps_ver(*q, hash) != ver) {
          // §5.4 step 3.9: not cached; another client announcing it will be asked.
          spdlog::info("caps: {} announced ver {} that does not match its disco#info", full.str(), ver);
          failed = true;
        } else {
          features = disco_features(*q);
          std::string info = store_xml(*q);
          auto put_op = store_->put(hash, ver, std::move(info));
          co_await std::move(put_op);
        }
      }
    } catch (const std::exception& e) {
      spdlog::warn("caps: resolving {} for {} failed: {}", ver, full.str(), e.what());
      failed = true;
    }
    // Online JIDs announcing this string learn their features now (listeners run unlocked).
    std::vector<jid> waiting;
    std::vector<std::string> learnt;
    {
      std::lock_guard lock(mutex_);
      in_flight_.erase(key);
      if (features) {
        auto [it, inserted] = vers_.try_emplace(key);
        if (inserted) {
          it->second.features = std::move(*features);
          lru_.push_front(key);
          it->second.lru = lru_.begin();
          evict();
        }
        learnt = it->second.features;
        for (const auto& [f, j] : jids_)
          if (j.key == key)
            if (auto pj = jid::parse(f)) waiting.push_back(std::move(*pj));
      } else if (failed) {
        if (auto j = jids_.find(full.str()); j != jids_.end() && j->second.key == key) j->second.failed = key;
      }
    }
    for (const auto& w : waiting) notify_listeners(srv_, w, learnt);
  }

  // --- under mutex_ ---
  void touch(const std::string& key, ver_entry& e) {
    lru_.splice(lru_.begin(), lru_, e.lru);
    (void)key;
  }

  void forget(const std::string& full) { jids_.erase(full); }

  // Drops least recently used strings beyond the memory budget, except those that online
  // clients announce (features_of must answer for them without a database read).
  void evict() {
    if (vers_.size() <= caps_memory_entries) return;
    std::unordered_set<std::string> in_use;
    for (const auto& [full, j] : jids_) in_use.insert(j.key);
    for (auto it = lru_.end(); it != lru_.begin() && vers_.size() > caps_memory_entries;) {
      --it;
      if (in_use.contains(*it)) continue;
      vers_.erase(*it);
      it = lru_.erase(it);
    }
  }

  server* srv_ = nullptr;
  std::unique_ptr<caps_store> store_;
  std::mutex mutex_;
  std::unordered_map<std::string, ver_entry> vers_;  // verified key -> features
  std::list<std::string> lru_;                       // keys of vers_, most recently used first
  std::unordered_map<std::string, jid_entry> jids_;  // online full JID -> announced caps
  std::unordered_set<std::string> in_flight_;        // keys being resolved
};

namespace caps {

std::optional<std::vector<std::string>> features_of(server& srv, const jid& full) {
  caps_module* m = registry.find(srv);
  if (!m) return std::nullopt;
  return m->features_of(full);
}

void add_features_listener(server& srv, features_listener fn) {
  listeners.add(srv, std::move(fn));
}

}  // namespace caps

}  // namespace starling::modules

using starling::modules::caps_module;
STARLING_MODULE(caps_module, "caps")
