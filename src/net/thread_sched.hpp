#pragma once
// Scheduling hints for the threads that carry stanzas.
#include <chrono>

namespace starling::net {

// Asks the kernel to schedule the calling thread in short slices: with EEVDF (Linux 6.12 and
// later) a SCHED_OTHER thread may request its slice length (sched_attr.sched_runtime), and a
// thread with a shorter slice gets an earlier virtual deadline, so when it wakes with work it
// preempts a thread of equal weight that is running a long computation instead of waiting for
// that thread's slice to end. Its share of the CPU is unchanged (same weight), only the
// granularity. Threads it creates later start with the default slice (SCHED_RESET_ON_FORK).
// Returns false, changing nothing, where the kernel does not offer this, the thread is not
// SCHED_OTHER (an operator's chrt stays in force), or `slice` is zero.
bool request_scheduler_slice(std::chrono::microseconds slice);

// The calling thread's slice as the kernel reports it (its default where none was requested);
// zero where the kernel does not report one.
std::chrono::microseconds scheduler_slice();

}  // namespace starling::net
