#include "core/rate_limiter.hpp"

namespace starling {

void rate_limiter::prune(clock::time_point now) {
  if (now - last_prune_ < window_) return;
  last_prune_ = now;
  for (auto it = events_.begin(); it != events_.end();) {
    auto& q = it->second;
    while (!q.empty() && now - q.front() > window_) q.pop_front();
    it = q.empty() ? events_.erase(it) : std::next(it);
  }
}

bool rate_limiter::allowed(const std::string& key) {
  if (max_ == 0) return true;
  std::lock_guard lock(mutex_);
  auto now = clock::now();
  prune(now);
  auto it = events_.find(key);
  if (it == events_.end()) return true;
  auto& q = it->second;
  while (!q.empty() && now - q.front() > window_) q.pop_front();
  return q.size() < max_;
}

void rate_limiter::record(const std::string& key) {
  if (max_ == 0) return;
  std::lock_guard lock(mutex_);
  auto& q = events_[key];
  q.push_back(clock::now());
  // Never keep more than the limit needs.
  while (q.size() > max_) q.pop_front();
}

void rate_limiter::clear(const std::string& key) {
  std::lock_guard lock(mutex_);
  events_.erase(key);
}

void rate_limiter::set_limits(uint32_t max_events, clock::duration window) {
  std::lock_guard lock(mutex_);
  max_ = max_events;
  window_ = window;
}

}  // namespace starling
