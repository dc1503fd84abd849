#pragma once
// The objects of one kind that exist right now (client sessions, server streams), for a
// graceful shutdown to reach every one of them (server::shutdown()). An object adds itself
// when it starts and removes itself in its destructor, from any thread.
#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace starling {

template <class T>  // T derives from std::enable_shared_from_this<T>
class live_set {
 public:
  void add(T* p) {
    std::lock_guard lock(mutex_);
    set_.insert(p);
  }
  void remove(T* p) {
    std::lock_guard lock(mutex_);
    set_.erase(p);
  }
  size_t size() const {
    std::lock_guard lock(mutex_);
    return set_.size();
  }
  // Owning references to those not being destroyed, to act on outside the lock (an object's
  // destructor takes it to remove itself).
  std::vector<std::shared_ptr<T>> snapshot() const {
    std::vector<std::shared_ptr<T>> out;
    std::lock_guard lock(mutex_);
    out.reserve(set_.size());
    for (T* p : set_)
      if (auto sp = p->weak_from_this().lock()) out.push_back(std::move(sp));
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_set<T*> set_;
};

}  // namespace starling
