#include "recorder/futex_queues.h"

#include <linux/futex.h>

#include <algorithm>

namespace backstep::recorder {

void FutexQueues::wait(pid_t space, uint64_t addr, pid_t tid, uint32_t bitset) {
  queues_[{space, addr}].push_back({tid, bitset});
}

std::vector<pid_t> FutexQueues::note_wake(pid_t space, const sys::SyscallArgs& call,
                                          int64_t result) {
  const uint64_t* a = call.arg;
  std::vector<pid_t> woken;
  auto take = [&woken](std::vector<pid_t> more) {
    woken.insert(woken.end(), more.begin(), more.end());
    return static_cast<int64_t>(more.size());
  };
  switch (static_cast<int>(a[1]) & FUTEX_CMD_MASK) {
    case FUTEX_WAKE:
      take(wake(space, a[0], result, FUTEX_BITSET_MATCH_ANY));
      break;
    case FUTEX_WAKE_BITSET:
      take(wake(space, a[0], result, static_cast<uint32_t>(a[5])));
      break;
    case FUTEX_WAKE_OP: {
      // Up to val on uaddr first, the rest on uaddr2.
      int64_t first = take(wake(space, a[0], std::min<int64_t>(result, static_cast<int32_t>(a[2])),
                                FUTEX_BITSET_MATCH_ANY));
      take(wake(space, a[4], result - first, FUTEX_BITSET_MATCH_ANY));
      break;
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      // Up to val woken, the rest moved to uaddr2's queue.
      int64_t n = take(wake(space, a[0], std::min<int64_t>(result, static_cast<int32_t>(a[2])),
                            FUTEX_BITSET_MATCH_ANY));
      requeue(space, a[0], a[4], result - n);
      break;
    }
    default:
      break;
  }
  return woken;
}

std::vector<pid_t> FutexQueues::wake(pid_t space, uint64_t addr, int64_t n, uint32_t bitset) {
  std::vector<pid_t> woken;
  auto it = queues_.find({space, addr});
  if (it == queues_.end()) return woken;
  auto& queue = it->second;
  for (auto w = queue.begin(); w != queue.end() && static_cast<int64_t>(woken.size()) < n;) {
    if ((w->bitset & bitset) == 0) {
      ++w;
      continue;
    }
    woken.push_back(w->tid);
    w = queue.erase(w);
  }
  if (queue.empty()) queues_.erase(it);
  return woken;
}

void FutexQueues::requeue(pid_t space, uint64_t from, uint64_t to, int64_t n) {
  auto it = queues_.find({space, from});
  if (it == queues_.end() || n <= 0) return;
  auto& queue = it->second;
  auto& target = queues_[{space, to}];
  for (; n > 0 && !queue.empty(); --n) {
    target.push_back(queue.front());
    queue.pop_front();
  }
  if (queue.empty()) queues_.erase({space, from});
  if (target.empty()) queues_.erase({space, to});
}

void FutexQueues::forget(pid_t tid) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    std::erase_if(it->second, [tid](const Waiter& w) { return w.tid == tid; });
    it = it->second.empty() ? queues_.erase(it) : std::next(it);
  }
}

}  // namespace backstep::recorder
