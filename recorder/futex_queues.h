// The recorder's model of the kernel's futex wait queues. Only one thread
// runs at a time and the kernel queues waiters of equal priority FIFO, so
// the order in which the recorder let threads into FUTEX_WAIT is the
// kernel's order, and a wake that returned n names the first n waiters.
// See "Blocked threads" in docs/ARCHITECTURE.md.
//
// A futex is named by a space and an address, as the kernel keys it: by
// its process (Session::futex_space), or, for a non-private operation on
// memory mapped shared, by space 0, which stands for memory several
// processes may share (MAP_SHARED memory inherited by fork sits at the same
// address in each; mapped elsewhere, its wakes are not accounted).
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
  void wait(pid_t space, uint64_t addr, pid_t tid, uint32_t bitset);
  // A futex call that returned `result` > 0 woke (or requeued) that many
  // waiters: the first ones queued on its address(es), as the kernel does.
  // Returns the woken ones, in the order they wake; requeued ones move.
  std::vector<pid_t> note_wake(pid_t space, const sys::SyscallArgs& call, int64_t result);
  // Up to n waiters on addr whose bitset intersects `bitset`, removed.
  std::vector<pid_t> wake(pid_t space, uint64_t addr, int64_t n, uint32_t bitset);
  // `tid` waits no more (it came back, or died).
  void forget(pid_t tid);

 private:
  using Key = std::pair<pid_t, uint64_t>;
  void requeue(pid_t space, uint64_t from, uint64_t to, int64_t n);
  struct Waiter {
    pid_t tid;
    uint32_t bitset;
  };
  std::map<Key, std::deque<Waiter>> queues_;
};

}  // namespace backstep::recorder
