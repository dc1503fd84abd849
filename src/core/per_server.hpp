#pragma once
// How a module offers a C++ API to other modules (private_xml::get, vcard::set_photo,
// caps::features_of, pep::publish...): free functions that find the module's instance for a
// server, and listeners other modules register for its events. Several servers may run in one
// process (the tests do), so both are kept per server. Listeners are kept apart from the
// instance because a listener may be added before the module starts, or with the module
// disabled (then it is never called).
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace starling {

class server;

// The running instance of module M for each server. (S is a parameter for the unit tests.)
template <class M, class S = server>
class per_server_instance {
 public:
  void set(const S& srv, M* m) {
    std::lock_guard lock(mutex_);
    map_[&srv] = m;
  }
  // Only if `m` is still the instance: a module restarted on the same server may have
  // registered its successor already.
  void erase(const S* srv, const M* m) {
    if (!srv) return;
    std::lock_guard lock(mutex_);
    auto it = map_.find(srv);
    if (it != map_.end() && it->second == m) map_.erase(it);
  }
  // nullptr when the module is not running on `srv`. The pointer stays valid while the
  // module runs: modules are stopped only once the server's sessions are gone.
  M* find(const S& srv) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(&srv);
    return it == map_.end() ? nullptr : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const S*, M*> map_;
};

// Listeners of type L for each server. The callers get a copy, so that a listener is called
// without the lock held (it may call back into the module or add a listener).
template <class L, class S = server>
class per_server_listeners {
 public:
  void add(const S& srv, L fn) {
    std::lock_guard lock(mutex_);
    map_[&srv].push_back(std::move(fn));
  }
  std::vector<L> of(const S* srv) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(srv);
    return it == map_.end() ? std::vector<L>{} : it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<const S*, std::vector<L>> map_;
};

}  // namespace starling
