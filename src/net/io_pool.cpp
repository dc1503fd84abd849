#include "net/io_pool.hpp"

#include "net/thread_sched.hpp"

#include <pthread.h>

#include <cstdio>

namespace starling::net {

io_pool::io_pool(unsigned threads, std::chrono::microseconds slice) : slice_(slice) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is only ever run by one thread, so Asio can skip
    // internal locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

io_pool::~io_pool() {
  stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

boost::asio::io_context& io_pool::next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

void io_pool::run() {
  for (size_t i = 1; i < contexts_.size(); ++i)
    threads_.emplace_back([this, i] {
      // Named so that per-thread CPU (/proc/PID/task, top -H, starling-bench) can be told
      // apart; the first context runs on the main thread, which keeps the process's name.
      char name[16];
      std::snprintf(name, sizeof name, "starling-io%zu", i);
      pthread_setname_np(pthread_self(), name);
      request_scheduler_slice(slice_);
      contexts_[i]->run();
    });
  // After the other threads are started (they would inherit it), and only on the network
  // threads: the database and worker threads keep the default slice, so a network thread
  // that wakes with stanzas preempts their long runs (issue 6, message latency).
  slice_granted_ = request_scheduler_slice(slice_);
  contexts_[0]->run();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void io_pool::stop() {
  guards_.clear();
  for (auto& c : contexts_) c->stop();
}

}  // namespace starling::net
