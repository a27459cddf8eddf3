// Session, part: preemption without a hardware counter. A thread that runs
// without a stop in code that counts no ticks (a program built without
// backstep_instrument, or libc inside an instrumented one: `while (!flag)
// {}`, pthread_spin_lock) would keep the one-thread-at-a-time recording
// from ever giving another thread a turn. rr interrupts such a thread with
// a branch-counter overflow and finds the point again by counting branches;
// here there is no counter. So the recorder interrupts the thread after a
// wall-clock timeslice (PTRACE_INTERRUPT), single-steps it once round its
// loop to learn what the loop writes, and records the instant by its state:
// every register, the tick count, a digest of the vector registers, and the
// current values of the words the loop writes. Replay stops the thread at
// the first moment of its run with that state (replayer/replay_preemption.cc).
// See "Preemption without a counter" in docs/ARCHITECTURE.md.
#include <fmt/core.h>
#include <sys/ptrace.h>

#include <algorithm>
#include <cerrno>

#include "base/errors.h"
#include "ptrace/conditional_breakpoint.h"
#include "ptrace/interrupt_signature.h"
#include "ptrace/runtime_link.h"
#include "recorder/session.h"

namespace backstep::recorder {
namespace {

using Clock = StopWaiter::Clock;
using std::chrono::microseconds;
using trace::StopKind;
using trace::SwitchReason;

// How long the stop of an interrupt may take before it is asked for again
// (a signal stop the recorder held may have taken its place).
constexpr std::chrono::milliseconds kInterruptGrace{20};
// Single steps spent going once round the interrupted loop (15-30 us each).
constexpr int kObserveSteps = 512;
// Single steps, at most, from there on to code replay's stub can patch.
constexpr int kPatchSteps = 64;
// The memory part of a signature: at most this many ranges of written
// bytes, each at most this long.
constexpr size_t kMaxSignatureRanges = 16;
constexpr uint64_t kMaxRangeBytes = 64;

// An instrumented thread is interrupted only after this much CPU time
// without a tick: it counts ticks wherever it runs its own code, so only a
// long stretch in libc (pthread_spin_lock) gets there, and its schedule
// stays the one its seed makes.
constexpr microseconds kInstrumentedSlice{50'000};
// The CPU time a thread that makes syscalls without ever blocking may run
// before it gives way to others (used_up_timeslice).
constexpr microseconds kSyscallLoopSlice{100'000};

bool is_interrupt_stop(const WaitStatus& st) {
  return st.ptrace_event() == PTRACE_EVENT_STOP && st.stop_signal() == SIGTRAP;
}

bool is_step_trap(const Task& task, const WaitStatus& st) {
  return st.stopped() && !st.syscall_stop() && !st.ptrace_event() && st.stop_signal() == SIGTRAP &&
         task.siginfo().si_code == TRAP_TRACE;
}

// Whether the instruction at `code` may be single-stepped while the
// recorder looks at a loop: not one that enters the kernel or traps (its
// stop is a recorded event of its own), nor pushf, which under a single
// step would save the trap flag where the program can read it.
bool steppable(const uint8_t* code, size_t len) {
  size_t i = 0;
  auto prefix = [](uint8_t b) {
    return b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0xf0 || b == 0x2e ||
           b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65;
  };
  while (i < len && prefix(code[i])) ++i;
  if (i < len && (code[i] & 0xf0) == 0x40) ++i;  // REX
  if (i >= len) return false;
  switch (code[i]) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xf1:
    case 0xf4:
    case 0x9c:
      return false;
    case 0x0f:
      if (i + 1 >= len) return false;
      switch (code[i + 1]) {
        case 0x05:
        case 0x07:
        case 0x34:
        case 0x35:
        case 0x0b:
        case 0xa2:
          return false;  // syscall, sysret, sysenter, sysexit, ud2, cpuid
        default:
          return true;
      }
    default:
      return true;
  }
}

// The ranges `stores` wrote, merged, as they hold now: the memory part of
// the signature.
std::vector<trace::MemWrite> signature_words(const AddressSpace& mem,
                                             std::vector<MemoryAccess> stores) {
  std::sort(stores.begin(), stores.end(),
            [](const MemoryAccess& a, const MemoryAccess& b) { return a.addr < b.addr; });
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end)
  for (const MemoryAccess& a : stores) {
    uint64_t end = a.addr + std::min<uint64_t>(a.size, kMaxRangeBytes);
    if (!ranges.empty() && a.addr <= ranges.back().second &&
        end - ranges.back().first <= kMaxRangeBytes) {
      ranges.back().second = std::max(ranges.back().second, end);
    } else {
      ranges.emplace_back(a.addr, end);
    }
  }
  std::vector<trace::MemWrite> out;
  for (const auto& [begin, end] : ranges) {
    if (out.size() == kMaxSignatureRanges) break;
    trace::MemWrite w;
    w.addr = begin;
    w.data.resize(end - begin);
    if (mem.read(begin, w.data.data(), w.data.size())) out.push_back(std::move(w));
  }
  return out;
}

// Where in one iteration of the loop (`loop`: the pcs from the interrupted
// one back to it) replay can patch a jump to its stub: the first pc whose
// code the stub can displace. Its index in `loop`, or 0.
size_t patchable_point(const AddressSpace& mem, const std::vector<uint64_t>& loop) {
  for (size_t i = 0; i < loop.size(); ++i) {
    if (ConditionalBreakpoint::patchable(mem, loop[i])) return i;
  }
  return 0;
}

}  // namespace

bool Session::others_could_run(const Thread& t) const {
  for (const auto& [tid, o] : threads_) {
    if (&o == &t || o.state == Thread::State::kDead) continue;
    if (o.state == Thread::State::kStopped || o.state == Thread::State::kStarting || o.arrival ||
        o.due) {
      return true;
    }
    // Those may come back and be admitted at a decision; a futex waiter
    // without a timeout needs a wake, which is a syscall: a stop anyway.
    if (o.state == Thread::State::kInKernel &&
        (o.wait == Wait::kTimed || o.wait == Wait::kUntimed)) {
      return true;
    }
  }
  return false;
}

void Session::note_running(Thread& t) {
  if (t.task.tid() == running_) return;
  running_ = t.task.tid();
  running_since_ = Clock::now();
  // The timeslice is CPU time, not wall time: a thread the machine's load
  // keeps off the CPU has not been running, and is not interrupted for it.
  switched_in_cpu_ = t.cpu_ns();
  running_cpu_ = switched_in_cpu_.value_or(0);
}

// A thread that neither blocks nor runs long without a stop (a loop of
// cheap syscalls, polling for what another thread or process will do)
// would keep every other thread off the CPU for good: once it has run a
// long timeslice of its own CPU time since it was scheduled (100 ms: far
// more than ordinary code runs between two blocking calls, so that seeded
// schedules are left alone), while another could run, it gives way at a
// syscall entry. That point is recorded and replayed like any switch;
// which syscall it is depends on timing, not on the seed, as with
// interrupts.
bool Session::used_up_timeslice(Thread& t) {
  if (scheduler_.options().wall_timeslice.count() <= 0 || t.task.tid() != running_) return false;
  const microseconds slice = kSyscallLoopSlice;
  if (Clock::now() - running_since_ < slice) return false;  // cheap first
  std::optional<uint64_t> cpu = t.cpu_ns();
  if (!cpu || *cpu - running_cpu_ < static_cast<uint64_t>(slice.count()) * 1000) return false;
  if (!others_could_run(t)) return false;
  running_ = 0;  // scheduled anew, whoever runs next
  return true;
}

bool Session::newcomer_waiting(const Thread& t) const {
  for (const auto& [tid, o] : threads_) {
    if (&o == &t) continue;
    if (o.state == Thread::State::kStarting || (o.state == Thread::State::kStopped && !o.has_run)) {
      return true;
    }
  }
  return false;
}

std::optional<WaitStatus> Session::wait_for_thread_until(pid_t tid, Clock::time_point deadline) {
  for (;;) {
    auto st = waiter_.wait(-1, deadline);
    if (!st) {
      if (waiter_.lost()) throw Error("lost track of the program (no traced thread left)");
      return std::nullopt;
    }
    if (st->tid == inferior_.holder()) continue;
    if (st->tid != tid) {
      if (is_exec_of(tid, *st)) return st;  // its exec, under the leader's tid
      note_other(*st);
      continue;
    }
    Thread& t = threads_.at(tid);
    if (!hold_async_signal(t, *st) && !abort_buffered_call(t, *st)) return st;
  }
}

std::optional<WaitStatus> Session::wait_or_preempt(Thread& t) {
  const pid_t tid = t.task.tid();
  // Its CPU time when it was switched to, if this is its first run since:
  // it has not run in between, so the value holds (one /proc read less).
  std::optional<uint64_t> switched_in = std::exchange(switched_in_cpu_, std::nullopt);
  if (tid != running_) switched_in.reset();
  // Never inside a syscall: the interrupt would end it (EINTR, a restart).
  microseconds slice = t.in_syscall || t.process->dying
                           ? microseconds(0)
                           : scheduler_.next_wall_timeslice(newcomer_waiting(t));
  if (slice.count() == 0) return wait_for_thread(tid);
  if (t.block) slice = std::max(slice, kInstrumentedSlice);
  const auto started = Clock::now();
  auto deadline = started + slice;
  const std::optional<uint64_t> cpu_start = switched_in ? switched_in : t.cpu_ns();
  uint64_t cpu_from = cpu_start.value_or(0);  // since the last tick seen
  auto ticks_now = [&]() -> std::optional<uint64_t> {
    if (!t.block) return std::nullopt;
    return ThreadBlockView(t.process->mem, *t.block).ticks();
  };
  std::optional<uint64_t> ticks_seen = ticks_now();
  bool asked = false;
  for (;;) {
    std::optional<WaitStatus> st = wait_for_thread_until(tid, deadline);
    if (st && is_interrupt_stop(*st)) {
      if (!asked) {
        // Asked for before the stop that ended a previous wait, and kept
        // pending by the kernel: it was not this run's; on as before.
        t.task.resume(static_cast<Resume>(resumptions_[tid].how), 0);
        continue;
      }
      asked = false;
      WaitStatus stop{};
      auto ran = std::chrono::duration_cast<microseconds>(Clock::now() - started);
      if (auto cpu = t.cpu_ns(); cpu && cpu_start) {
        ran = microseconds((*cpu - *cpu_start) / 1000);
      }
      switch (preempt(t, ran, stop)) {
        case Preemption::kRecorded:
          return std::nullopt;
        case Preemption::kStopped:
          if (!hold_async_signal(t, stop)) return stop;
          break;
        case Preemption::kRunning:
          break;
      }
      deadline = Clock::now() + slice;
      continue;
    }
    if (st) {
      const bool entry =
          st->syscall_stop() || (st->ptrace_event() == PTRACE_EVENT_SECCOMP && !t.in_syscall);
      if (asked && entry) {
        // It entered a syscall just as the interrupt was asked for: that
        // stop took the interrupt's place but left the thread marked as
        // signalled, which would end the syscall early (EINTR). Cleared.
        WaitStatus again = clear_interrupt_wakeup(t);
        if (hold_async_signal(t, again)) {
          asked = false;
          deadline = Clock::now() + slice;
          continue;
        }
        return again;
      }
      return st;
    }
    auto now = Clock::now();
    if (!asked) {
      // Interrupted when another thread could run, or for a signal that
      // waits to be delivered at a point replay finds again (a timer's,
      // while the thread spins without syscalls).
      if (!others_could_run(t) && !held_signal_waiting(t)) {
        deadline = now + slice;
        continue;
      }
      std::optional<uint64_t> cpu = t.cpu_ns();
      if (auto ticks = ticks_now(); ticks && ticks != ticks_seen) {
        // Counting ticks: its tick limit preempts it where replay finds
        // the point by counting, and where a seed decides.
        ticks_seen = ticks;
        if (cpu) cpu_from = *cpu;
        deadline = now + slice;
        continue;
      }
      if (cpu && *cpu - cpu_from < static_cast<uint64_t>(slice.count()) * 1000) {
        // Off the CPU for part of the slice (a loaded machine): what is
        // left of it, in the thread's own time.
        deadline = now + microseconds(slice.count() - (*cpu - cpu_from) / 1000);
        continue;
      }
    }
    if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0 && errno != ESRCH) {
      throw_errno(fmt::format("interrupting thread {}", t.vtid));
    }
    asked = true;
    deadline = now + kInterruptGrace;
  }
}

WaitStatus Session::clear_interrupt_wakeup(Thread& t) {
  // Skip the syscall (orig_rax -1): on the way back to user space the
  // kernel looks for signals, finds none and clears the mark. Then the
  // thread is put back on its syscall instruction, which it executes again:
  // a fresh entry stop with the same registers, the program none the wiser.
  Registers entry = t.task.regs();
  Registers skip = entry;
  skip.orig_rax = ~0ull;
  t.task.set_regs(skip);
  auto step = [&] {
    if (!t.task.resume(Resume::kSyscall, 0)) throw Error("a thread vanished during an interrupt");
    auto st = wait_for(t.task.tid());
    if (!st) throw Error("lost track of the program (no traced thread left)");
    return *st;
  };
  WaitStatus exit = step();
  if (!exit.syscall_stop()) {
    throw Error(
        fmt::format("interrupting thread {}: expected the exit of a skipped syscall, found {}",
                    t.vtid, exit.describe()));
  }
  Registers back = entry;
  back.rax = entry.orig_rax;
  back.rip -= 2;  // syscall is 0f 05
  t.task.set_regs(back);
  return step();
}

Session::Preemption Session::preempt(Thread& t, microseconds ran, WaitStatus& stop) {
  const Registers at = t.task.regs();
  if (in_syscall_buffer(t, at)) {
    // Inside the syscall buffer's path, which replay runs differently: on
    // until its next syscall, which goes traced and ends its timeslice.
    yield_at_next_call(t);
    t.task.resume(static_cast<Resume>(resumptions_[t.task.tid()].how), 0);
    return Preemption::kRunning;
  }
  auto ticks_now = [&]() -> uint64_t {
    return t.block ? ThreadBlockView(t.process->mem, *t.block).ticks() : 0;
  };
  const uint64_t ticks_at = ticks_now();
  if (!decoder_) decoder_.emplace();
  // Once round the loop, single-stepping, noting what it writes: if the
  // registers come back the same, only memory tells the iterations apart.
  Registers regs = at;
  std::vector<MemoryAccess> stores;
  std::vector<uint64_t> loop;
  int steps = 0;
  // One instruction; false when it must not be stepped, or a real stop came.
  bool in_buffer = false;  // the loop went into the syscall buffer's path
  auto step = [&](std::optional<Preemption>& outcome) {
    uint8_t code[16] = {};
    size_t len = sizeof code;
    while (len > 0 && !t.process->mem.read(regs.rip, code, len)) --len;  // the end of a mapping
    if (!steppable(code, len)) return false;
    for (const MemoryAccess& a : decoder_->accesses(std::span(code, len), regs)) {
      if (a.write) stores.push_back(a);
    }
    loop.push_back(regs.rip);
    t.task.resume(Resume::kSingleStep, 0);  // if it vanished, its exit comes
    auto st = wait_for(t.task.tid());
    if (!st) throw Error("lost track of the program (no traced thread left)");
    if (!is_step_trap(t.task, *st)) {
      // A real stop (a fault, a runtime trap, a signal): recorded as usual;
      // the steps so far are part of the run that led to it.
      stop = *st;
      outcome = Preemption::kStopped;
      return false;
    }
    regs = t.task.regs();
    ++steps;
    // A loop through the syscall buffer (a buffered call per iteration):
    // the library writes what record and replay do not share.
    in_buffer = in_syscall_buffer(t, regs);
    return !in_buffer;
  };
  std::optional<Preemption> outcome;
  bool looped = false;
  while (steps < kObserveSteps && step(outcome)) {
    if (regs.rip == at.rip) {
      looped = true;
      break;
    }
  }
  if (outcome) return *outcome;
  if (looped) {
    // On to the point of the loop replay can patch (its stub is what makes
    // finding the instant fast), the stores on the way included.
    size_t best = patchable_point(t.process->mem, loop);
    for (size_t i = 0; i < best && step(outcome); ++i) {
    }
    if (outcome) return *outcome;
  }
  // On to an instruction replay's stub can be patched over, if it does not
  // stand on one (a PLT's indirect jmp, a call): else replay traps at every
  // pass of that pc, which may be hot enough (a comparison callback in a
  // sort) that the search outlasts its bound.
  for (int i = 0; i < kPatchSteps && !in_buffer && steps > 0 &&
                  !ConditionalBreakpoint::patchable(t.process->mem, regs.rip) && step(outcome);
       ++i) {
  }
  if (outcome) return *outcome;
  if (in_buffer) yield_at_next_call(t);
  if (steps == 0 || in_buffer || ticks_now() != ticks_at) {
    // Nothing to step (it stands at a syscall or a trap: that stop comes at
    // once), or the loop counts ticks after all: its tick limit will do,
    // and an instant inside the tick counter is no position replay names.
    t.task.resume(static_cast<Resume>(resumptions_[t.task.tid()].how), 0);
    return Preemption::kRunning;
  }
  std::vector<trace::MemWrite> words = signature_words(t.process->mem, std::move(stores));
  auto digest = static_cast<int64_t>(vector_digest(t.task.xstate()));
  // The thread stands at a single step's SIGTRAP: a held signal can go in
  // its place.
  std::vector<std::byte> info = deliver_held_signal_in_place(t);
  record_stop(t, StopKind::kInterrupt, regs, digest, ran.count(), std::move(words),
              std::move(info));
  result_.interrupts++;
  if (delivery_ends_process(t)) return Preemption::kRecorded;  // it goes next
  switch_from(t, SwitchReason::kInterrupt);
  return Preemption::kRecorded;
}

}  // namespace backstep::recorder
