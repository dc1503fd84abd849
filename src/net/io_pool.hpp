#pragma once
// One io_context per network thread. Each connection lives on exactly one context for its
// whole life, so its state needs no locks; work for it from elsewhere is posted to it.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace starling::net {

class io_pool {
 public:
  // `slice`: the scheduling slice each network thread asks for (thread_sched.hpp); zero
  // leaves the kernel's default.
  explicit io_pool(unsigned threads, std::chrono::microseconds slice = {});
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  // Round-robin choice of the context for a new connection.
  boost::asio::io_context& next();
  boost::asio::io_context& at(size_t i) { return *contexts_[i]; }
  size_t size() const { return contexts_.size(); }

  // Runs every context on its own thread; the calling thread runs context 0 until stop().
  void run();
  void stop();

  // Whether the kernel gave the thread that called run() the requested slice (known once
  // run() has started).
  bool slice_granted() const { return slice_granted_.load(std::memory_order_relaxed); }

 private:
  std::chrono::microseconds slice_;
  std::atomic<bool> slice_granted_{false};
  using guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace starling::net
