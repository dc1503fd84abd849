#pragma once
// Bound client sessions by bare and full JID (RFC 6120 §7). Shared by all network threads;
// the lock covers only map look-ups, never I/O: delivery is posted to the session's own thread.
#include <memory>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "jid/jid.hpp"

namespace starling {

class c2s_session;

// What routing needs to know of a bound resource (RFC 6121 §8.5.2): whether it sent available
// presence and with which priority. Kept here, under the same lock, because routing decisions
// are made on any thread while the presence module updates it from the session's thread.
struct resource_info {
  jid full;
  std::shared_ptr<c2s_session> session;
  bool available = false;  // initial presence sent and not yet unavailable (RFC 6121 §4.2)
  int priority = 0;        // RFC 6121 §4.7.2.3, -128..127
};

class session_manager {
 public:
  // Registers `s` under `full`. If the resource is taken, returns the session holding it
  // (nothing is registered then).
  std::shared_ptr<c2s_session> add(const jid& full, const std::shared_ptr<c2s_session>& s);
  // Replaces whoever holds `full` with `s`; returns the previous holder (may be null).
  std::shared_ptr<c2s_session> replace(const jid& full, const std::shared_ptr<c2s_session>& s);
  void remove(const jid& full, const c2s_session* s);
  std::shared_ptr<c2s_session> find(const jid& full) const;
  std::vector<std::shared_ptr<c2s_session>> find_bare(const jid& bare) const;
  size_t resource_count(const jid& bare) const;
  // Availability and priority of a bound resource; no-op if `full` is not bound.
  void set_presence(const jid& full, bool available, int priority);
  // Every bound resource of an account, with availability and priority.
  std::vector<resource_info> resources(const jid& bare) const;
  size_t size() const;
  // XEP-0198 §5: `now` takes the place of `before` under `full`, keeping the resource's
  // availability and priority (a resumed session is the same resource). If `full` is held by
  // somebody else, that holder is returned and replaced.
  std::shared_ptr<c2s_session> take_over(const jid& full, const c2s_session* before,
                                         const std::shared_ptr<c2s_session>& now);

  // XEP-0198 resumable sessions by SM-ID, only for the account that enabled them.
  void add_resumable(const std::string& id, const jid& bare, const std::shared_ptr<c2s_session>& s);
  std::shared_ptr<c2s_session> find_resumable(const std::string& id, const jid& bare) const;
  // Forgets `id` if `s` holds it; `h` is kept for a while so that a late <resume/> can be
  // answered with the count of handled stanzas (XEP-0198 §5 <failed h=…/>).
  void remove_resumable(const std::string& id, const c2s_session* s, std::optional<uint32_t> h = {});
  std::optional<uint32_t> expired_h(const std::string& id, const jid& bare) const;
  // Drops every registration (shutdown).
  void clear();

 private:
  mutable std::mutex mutex_;
  struct entry {
    std::shared_ptr<c2s_session> session;
    bool available = false;
    int priority = 0;
  };
  // bare JID string -> (resource -> session)
  std::unordered_map<std::string, std::unordered_map<std::string, entry>> by_bare_;
  size_t count_ = 0;
  struct resumable {
    std::string bare;
    std::shared_ptr<c2s_session> session;
  };
  std::unordered_map<std::string, resumable> resumable_;
  struct expired {
    std::string bare;
    uint32_t h;
  };
  static constexpr size_t max_expired = 10000;
  std::unordered_map<std::string, expired> expired_;
  std::deque<std::string> expired_order_;
};

}  // namespace starling
