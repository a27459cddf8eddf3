// Session, part: threads blocked in the kernel. When a blocking syscall
// comes back is a matter of the wall clock, so its stop is only kept when it
// arrives and the thread is admitted at a deterministic point: the same
// seed then gives the same schedule on a loaded machine too. See "Blocked
// threads" in docs/ARCHITECTURE.md.
#include <fmt/core.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>

#include <chrono>
#include <thread>

#include "base/interrupt.h"
#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"
#include "recorder/session.h"

namespace backstep::recorder {
namespace {

// Scheduling decisions a timed wait stays invisible to the scheduler: long
// enough for short sleeps to have elapsed, short enough not to starve.
constexpr uint64_t kTimedWaitDecisions = 64;
// Every this many decisions, untimed waits that have already come back are
// let in even though other threads can run: a liveness fallback, the only
// place where wall-clock order decides while threads are runnable.
constexpr uint64_t kUntimedPollDecisions = 256;
// How long the recorder waits for a thread that must come back (a woken
// futex waiter, a new thread's first stop) before it gives up on the
// accounting and goes on without it, rather than hang.
constexpr std::chrono::seconds kDueBound{10};
// How long a timed wait that is due is waited for (it may sleep for long).
constexpr std::chrono::seconds kTimedBound{1};
// How long a thread let into a blocking syscall gets to fall asleep.
constexpr std::chrono::seconds kSettleBound{5};

void back_off(int round) {
  if (round < 64) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::min(1000, 10 << std::min(round - 64, 7))));
  }
}

// How a blocking syscall comes back (see Wait).
Wait classify_wait(const sys::SyscallArgs& call) {
  const uint64_t* a = call.arg;
  switch (call.nr) {
    case SYS_futex:
      switch (a[1] & FUTEX_CMD_MASK) {
        case FUTEX_WAIT:
        case FUTEX_WAIT_BITSET:
          return a[3] ? Wait::kTimed : Wait::kFutex;
        default:
          return Wait::kUntimed;
      }
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
      return Wait::kTimed;
    case SYS_poll:
      return static_cast<int>(a[2]) >= 0 ? Wait::kTimed : Wait::kUntimed;
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
      return static_cast<int>(a[3]) >= 0 ? Wait::kTimed : Wait::kUntimed;
    case SYS_ppoll:
      return a[2] ? Wait::kTimed : Wait::kUntimed;
    case SYS_select:
    case SYS_pselect6:
      return a[4] ? Wait::kTimed : Wait::kUntimed;
    default:
      return Wait::kUntimed;
  }
}

// Says, once, that the running thread has gone a long time without a stop
// while others wait. Threads of an uninstrumented program switch only at
// syscalls and signals, so one that spins waiting for another thread
// (`while (!ready) {}`) never gives the others a turn and the recording
// hangs; without this the user sees nothing at all. Runs on a thread of

}  // namespace

// The syscall `t` just entered may block: it goes into the kernel, and
// stays out of the runnable set until a deterministic point admits it.
void Session::block_in_kernel(Thread& t) {
  const sys::SyscallArgs& call = t.semantics();
  resume(t, Resume::kSyscall);
  t.state = Thread::State::kInKernel;
  t.wait = classify_wait(call);
  t.blocked_at = decisions_;
  settle(t);
  if (t.arrival) {
    // It came straight back (EAGAIN, a ready fd): deterministic, since
    // nothing else ran meanwhile. A timed wait keeps its rule, as
    // whether a short sleep ends before we look is not.
    if (t.wait != Wait::kTimed) make_due(t);
  } else if (call.nr == SYS_futex && (call.arg[1] & FUTEX_CMD_MASK) != FUTEX_LOCK_PI &&
             t.wait != Wait::kUntimed) {
    int op = static_cast<int>(call.arg[1]) & FUTEX_CMD_MASK;
    uint32_t bitset =
        op == FUTEX_WAIT_BITSET ? static_cast<uint32_t>(call.arg[5]) : FUTEX_BITSET_MATCH_ANY;
    futexes_.wait(futex_space(t), call.arg[0], t.task.tid(), bitset);
  }
}

// A thread just let into a blocking syscall: waits until it sleeps in the
// kernel or comes back. Only then may another thread run, so that whether
// it blocked, and where it is queued (a futex), never depends on timing.
void Session::settle(Thread& t) {
  auto deadline = std::chrono::steady_clock::now() + kSettleBound;
  // Bound to this CPU, it runs only once the recorder gives way: looking
  // before that would find it still running (two syscalls for nothing).
  if (t.bound) std::this_thread::yield();
  for (int round = 0; !t.arrival && t.state != Thread::State::kDead; ++round) {
    if (auto st = wait_for(t.task.tid(), /*nohang=*/true)) {
      note_other(*st);
      continue;
    }
    // Asleep in the kernel (state S): a futex waiter in that state holds or
    // has passed the futex bucket lock, so a later wake finds it queued.
    if (t.proc_state() == 'S') return;
    if (std::chrono::steady_clock::now() > deadline) {
      warn_once("a thread entering a blocking syscall neither slept nor came back in time");
      return;
    }
    back_off(round);
  }
}

// Waits (bounded) for the stop that brings `t` back.
bool Session::await_arrival(Thread& t, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  for (int round = 0; !t.arrival && t.state != Thread::State::kDead; ++round) {
    check_interrupt();
    if (auto st = wait_for(t.task.tid(), /*nohang=*/true)) {
      note_other(*st);
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) return false;
    back_off(round);
  }
  return t.arrival.has_value();
}

pid_t Session::futex_space(const Thread& t, uint64_t addr, bool private_op) {
  if (private_op) return t.process->tgid;
  for (const ProcMapping& m : read_proc_maps(t.process->tgid)) {
    if (addr >= m.start && addr < m.end)
      return m.perms.size() > 3 && m.perms[3] == 's' ? 0 : t.process->tgid;
  }
  return t.process->tgid;
}

void Session::make_due(Thread& t) {
  if (t.due || t.state == Thread::State::kDead) return;
  t.due = true;
  due_.push_back(t.task.tid());
}

void Session::make_due(const std::vector<pid_t>& tids) {
  for (pid_t tid : tids) {
    if (auto it = threads_.find(tid); it != threads_.end()) make_due(it->second);
  }
}

// Brings a thread whose stop has arrived into the runnable set: a blocking
// syscall's exit is recorded here, at a point the schedule decides.
void Session::admit(Thread& t) {
  std::optional<WaitStatus> st = std::exchange(t.arrival, std::nullopt);
  futexes_.forget(t.task.tid());
  Wait was = std::exchange(t.wait, Wait::kNone);
  if (t.due) {
    t.due = false;
    std::erase(due_, t.task.tid());
  }
  if (!st || t.state == Thread::State::kDead) return;
  if (was == Wait::kVfork && t.block) {
    // The vfork child ran on this thread's block (shared memory) and drained
    // what it published at its own stops.
    t.ring_drained = ThreadBlockView(t.process->mem, *t.block).ring_head();
  }
  if (t.state == Thread::State::kInKernel) {
    Registers regs = t.task.regs();
    on_syscall_exit(t, regs);
  }
  t.state = Thread::State::kStopped;
}

// Before each scheduling decision: every thread known to be coming back
// (woken futex waiters, new threads, timed waits whose turn came) joins the
// runnable set, waited for if need be, so the set is a function of the run.
void Session::admit_due() {
  for (auto& [tid, t] : threads_) {
    if (t.state == Thread::State::kInKernel && t.wait == Wait::kTimed &&
        decisions_ - t.blocked_at >= kTimedWaitDecisions) {
      make_due(t);
    }
  }
  while (!due_.empty()) {
    Thread& t = threads_.at(due_.front());
    auto bound = t.wait == Wait::kTimed ? std::chrono::milliseconds(kTimedBound)
                                        : std::chrono::milliseconds(kDueBound);
    if (t.state != Thread::State::kDead && !t.arrival && !await_arrival(t, bound)) {
      // Not back: a long sleep, or the wake accounting was wrong. Go on
      // without it rather than hang; it is seen later by the other rules.
      due_.pop_front();
      t.due = false;
      t.blocked_at = decisions_;
      if (t.wait != Wait::kTimed) {
        warn_once("a woken thread did not come back in time; this schedule may not repeat");
      }
      continue;
    }
    admit(t);
  }
  if (decisions_ > 0 && decisions_ % kUntimedPollDecisions == 0) {
    bool untimed = false;
    for (auto& [tid, t] : threads_) {
      untimed |= t.state == Thread::State::kInKernel && t.wait == Wait::kUntimed;
    }
    if (untimed) {
      while (auto st = wait_for(-1, /*nohang=*/true)) {
        if (st->tid != inferior_.holder()) note_other(*st);
      }
      for (auto& [tid, t] : threads_) {
        if (t.arrival && t.wait == Wait::kUntimed) admit(t);
      }
    }
  }
}

// Nothing can run: admits one thread whose stop already came, if any.
bool Session::admit_any_arrived() {
  for (auto& [tid, t] : threads_) {
    if (t.arrival && t.state != Thread::State::kDead) {
      admit(t);
      return true;
    }
  }
  return false;
}

// A new thread: its first stop must be in before the next decision, and its
// clear-tid word (the kernel's wake at its exit) is remembered.
void Session::note_clone(Thread& parent, Thread& child) {
  const sys::SyscallArgs& call = parent.call;
  uint64_t flags = 0;
  uint64_t child_tid = 0;
  if (call.nr == SYS_clone) {
    flags = call.arg[0];
    child_tid = call.arg[3];  // x86-64: clone(flags, stack, ptid, ctid, tls)
  } else if (call.nr == SYS_clone3) {
    uint64_t args[3] = {};  // struct clone_args: flags, pidfd, child_tid
    if (call.arg[1] >= sizeof args && parent.process->mem.read(call.arg[0], args, sizeof args)) {
      flags = args[0];
      child_tid = args[2];
    }
  }
  if (flags & CLONE_CHILD_CLEARTID) child.clear_tid = child_tid;
  if (child.state == Thread::State::kStarting) make_due(child);
}

// --bind-cpu is the recorder's business: the program's view of its affinity
// stays the mask it started with (ptrace/cpu_binding.h). A query about a
// bound thread runs with the binding lifted; a thread whose affinity the
// program sets keeps what it set.

}  // namespace backstep::recorder
