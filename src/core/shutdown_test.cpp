// server::spawn() work accounting, which the graceful shutdown waits for (server::shutdown()).
#include <gtest/gtest.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "core/server.hpp"

namespace starling {
namespace {
namespace asio = boost::asio;

// Waits on `t` until it is cancelled or expires; `done` is set when the coroutine ends.
asio::awaitable<void> wait_on(asio::steady_timer& t, std::atomic<bool>& done) {
  boost::system::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  done = true;
}

bool eventually(const std::function<bool()>& f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return f();
}

TEST(ServerShutdown, SpawnedWorkIsCountedUntilItEnds) {
  server srv{config::server_config{}};
  asio::thread_pool pool{1};
  asio::steady_timer first(pool, std::chrono::hours(1));
  asio::steady_timer second(pool, std::chrono::hours(1));
  std::atomic<bool> first_done{false}, second_done{false};
  EXPECT_EQ(srv.work_in_flight(), 0);
  srv.spawn(pool, wait_on(first, first_done));
  srv.spawn(pool.get_executor(), wait_on(second, second_done));
  // Suspended work counts as much as running work: a shutdown must wait for both.
  EXPECT_EQ(srv.work_in_flight(), 2);
  asio::post(pool, [&] { first.cancel(); });
  EXPECT_TRUE(eventually([&] { return srv.work_in_flight() == 1; }));
  EXPECT_TRUE(first_done);
  EXPECT_FALSE(second_done);
  asio::post(pool, [&] { second.cancel(); });
  EXPECT_TRUE(eventually([&] { return srv.work_in_flight() == 0; }));
  EXPECT_TRUE(second_done);
  pool.join();
}

TEST(ServerShutdown, WorkDroppedByItsPoolIsNoLongerCounted) {
  // After shutdown_timeout the server stops hard and modules stop their pools: work that
  // never completes must not stay counted (nothing would wait for it any more, but the count
  // is the only record of it).
  server srv{config::server_config{}};
  {
    auto pool = std::make_unique<asio::thread_pool>(1);
    auto t = std::make_unique<asio::steady_timer>(*pool, std::chrono::hours(1));
    std::atomic<bool> done{false};
    srv.spawn(*pool, wait_on(*t, done));
    EXPECT_EQ(srv.work_in_flight(), 1);
    pool->stop();
    pool->join();
    t.reset();     // the stopped pool never resumes the coroutine
    pool.reset();  // destroys the suspended coroutine and its completion handler
    EXPECT_FALSE(done);
  }
  EXPECT_EQ(srv.work_in_flight(), 0);
}

TEST(ServerShutdown, ShutdownBeforeStartDoesNothing) {
  server srv{config::server_config{}};
  srv.shutdown();  // no network threads: nothing to end, and no flag left behind
  EXPECT_FALSE(srv.shutting_down());
}

}  // namespace
}  // namespace starling
