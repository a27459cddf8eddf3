// The recorder's model of the kernel's futex wait queues. Only one thread
// runs at a time and the kernel queues waiters of equal priority FIFO, so
// the order in which the recorder let threads into FUTEX_WAIT is the
// kernel's order, and a wake that returned n names the first n waiters.
// See "Blocked threads" in docs/ARCHITECTURE.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "syscalls/syscall_table.h"

namespace backstep::recorder {

class FutexQueues {
 public:
  // `tid` sleeps in a FUTEX_WAIT(_BITSET) on `addr`.
  void wait(uint64_t addr, pid_t tid, uint32_t bitset);
  // A futex call that returned `result` > 0 woke (or requeued) that many
  // waiters: the first ones queued on its address(es), as the kernel does.
  // Returns the woken ones, in the order they wake; requeued ones move.
  std::vector<pid_t> note_wake(const sys::SyscallArgs& call, int64_t result);
  // Up to n waiters on addr whose bitset intersects `bitset`, removed.
  std::vector<pid_t> wake(uint64_t addr, int64_t n, uint32_t bitset);
  // `tid` waits no more (it came back, or died).
  void forget(pid_t tid);

 private:
  void requeue(uint64_t from, uint64_t to, int64_t n);
  struct Waiter {
    pid_t tid;
    uint32_t bitset;
  };
  std::map<uint64_t, std::deque<Waiter>> queues_;
};

}  // namespace backstep::recorder
