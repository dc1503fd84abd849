#pragma once
// One io_context per network thread. Each connection lives on exactly one context for its
// whole life, so its state needs no locks; work for it from elsewhere is posted to it.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace starling::net {

class io_pool {
 public:
  explicit io_pool(unsigned threads);
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

 private:
  using guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace starling::net
