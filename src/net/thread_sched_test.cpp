#include "net/thread_sched.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace std::chrono_literals;
using starling::net::request_scheduler_slice;
using starling::net::scheduler_slice;

TEST(ThreadSched, ShortSliceIsTakenWhereTheKernelOffersItAndNotInherited) {
  std::chrono::microseconds own{}, child{}, before{};
  bool granted = false;
  // On a thread of its own, so that the test runner's threads keep their defaults.
  std::thread t([&] {
    before = scheduler_slice();
    granted = request_scheduler_slice(200us);
    own = scheduler_slice();
    std::thread c([&] { child = scheduler_slice(); });
    c.join();
  });
  t.join();
  if (granted) {
    EXPECT_EQ(own, 200us);
    // SCHED_RESET_ON_FORK: a thread it starts runs with the kernel's default slice again
    // (not necessarily `before`: the test itself may have been started with a custom one).
    EXPECT_NE(child, own);
    EXPECT_GT(child.count(), 0);
  } else {
    // No custom slices here (kernel before 6.12): nothing changed.
    EXPECT_EQ(own, before);
  }
}

TEST(ThreadSched, ValuesAreClampedOrRefused) {
  std::chrono::microseconds zero_after{}, before{}, small{};
  bool zero = true, tiny = false;
  std::thread t([&] {
    before = scheduler_slice();
    zero = request_scheduler_slice(0us);
    zero_after = scheduler_slice();
    tiny = request_scheduler_slice(10us);
    small = scheduler_slice();
  });
  t.join();
  EXPECT_FALSE(zero);
  EXPECT_EQ(zero_after, before);
  if (tiny) {
    EXPECT_EQ(small, 100us);  // the kernel's lower bound
  }
}
