#pragma once
// Bound client sessions by bare and full JID (RFC 6120 §7). Shared by all network threads;
// the lock covers only map look-ups, never I/O: delivery is posted to the session's own thread.
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "jid/jid.hpp"

namespace starling {

class c2s_session;

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
  size_t size() const;

 private:
  mutable std::mutex mutex_;
  // bare JID string -> (resource -> session)
  std::unordered_map<std::string, std::unordered_map<std::string, std::shared_ptr<c2s_session>>> by_bare_;
  size_t count_ = 0;
};

}  // namespace starling
