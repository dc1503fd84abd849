#include "net/thread_sched.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace starling::net {
namespace {

// The kernel's struct sched_attr (include/uapi/linux/sched/types.h, size version 1); its
// header clashes with glibc's struct sched_param, and glibc 2.36 has no wrapper.
struct sched_attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;  // for SCHED_OTHER with EEVDF: the requested slice, ns
  uint64_t sched_deadline;
  uint64_t sched_period;
  uint32_t sched_util_min;
  uint32_t sched_util_max;
};
constexpr uint64_t reset_on_fork = 0x01;  // SCHED_FLAG_RESET_ON_FORK

bool get_attr(sched_attr& a) {
  a = {};
  return ::syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) == 0;
}

}  // namespace

bool request_scheduler_slice(std::chrono::microseconds slice) {
  if (slice.count() <= 0) return false;
  sched_attr a;
  if (!get_attr(a) || a.sched_policy != SCHED_OTHER) return false;
  const auto requested = static_cast<uint64_t>(std::chrono::nanoseconds(slice).count());
  // sched_setattr sets policy and nice too: keep what the thread has (get_attr filled them).
  a.size = sizeof a;
  a.sched_flags = reset_on_fork;
  a.sched_runtime = requested;
  a.sched_deadline = 0;
  a.sched_period = 0;
  if (::syscall(SYS_sched_setattr, 0, &a, 0) != 0) return false;
  // Kernels before custom slices accept the call and ignore sched_runtime for SCHED_OTHER
  // (reading back 0); those with them clamp it to 0.1 .. 100 ms.
  const uint64_t expected = std::clamp<uint64_t>(requested, 100'000, 100'000'000);
  sched_attr now;
  return get_attr(now) && now.sched_runtime == expected;
}

std::chrono::microseconds scheduler_slice() {
  sched_attr a;
  if (!get_attr(a) || a.sched_policy != SCHED_OTHER) return std::chrono::microseconds(0);
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(a.sched_runtime));
}

}  // namespace starling::net
