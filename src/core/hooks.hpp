#pragma once
// Typed hooks (ARCHITECTURE.md: no stringly-typed event names, a typo does not compile).
// Handlers run in priority order (higher first); a handler returns stop to end the chain.
#include <algorithm>
#include <functional>
#include <mutex>
#include <vector>

namespace starling {

enum class hook_result { next, stop };

template <class... Args>
class hook {
 public:
  using handler = std::function<hook_result(Args...)>;

  // Registration happens at start-up, before network threads run.
  void add(int priority, handler h) {
    handlers_.push_back({priority, std::move(h)});
    std::stable_sort(handlers_.begin(), handlers_.end(),
                     [](const entry& a, const entry& b) { return a.priority > b.priority; });
  }
  // Returns stop if a handler stopped the chain.
  hook_result run(Args... args) const {
    for (const auto& e : handlers_)
      if (e.fn(args...) == hook_result::stop) return hook_result::stop;
    return hook_result::next;
  }
  bool empty() const { return handlers_.empty(); }

 private:
  struct entry {
    int priority;
    handler fn;
  };
  std::vector<entry> handlers_;
};

}  // namespace starling
