#pragma once
// Counts events per key within a sliding window: failed authentications per IP and per
// account, registrations per IP. Thread-safe; memory bounded by pruning expired keys.
#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace starling {

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;
  rate_limiter(uint32_t max_events, clock::duration window) : max_(max_events), window_(window) {}

  // True if another event for `key` is still within the limit (does not record it).
  bool allowed(const std::string& key);
  void record(const std::string& key);
  void clear(const std::string& key);
  void set_limits(uint32_t max_events, clock::duration window);

 private:
  void prune(clock::time_point now);
  std::mutex mutex_;
  uint32_t max_;
  clock::duration window_;
  std::unordered_map<std::string, std::deque<clock::time_point>> events_;
  clock::time_point last_prune_{};
};

}  // namespace starling
