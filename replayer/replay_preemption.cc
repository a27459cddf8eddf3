// ReplayEngine, part: stops where the recorder interrupted a thread that ran
// without stopping (kInterrupt, see recorder/preemption.cc). There is no
// branch counter to count to the instant; the thread runs from its previous
// stop and stops at the first moment whose state matches the recorded one:
// the pc, every general register, the tick count, the vector registers'
// digest and the memory words of the signature. At that pc an int3 is
// planted; at each hit the rest is compared, and the thread steps over the
// instruction and runs on until one matches.
#include <fmt/core.h>
#include <sys/ptrace.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "base/interrupt.h"
#include "ptrace/conditional_breakpoint.h"
#include "ptrace/interrupt_signature.h"
#include "ptrace/runtime_link.h"
#include "ptrace/stop_waiter.h"
#include "replayer/replay_engine.h"

namespace backstep::replayer {
namespace {

using Clock = std::chrono::steady_clock;

// How long the search for an instant may take: generous (stepping over a
// breakpoint per loop iteration is far slower than the recording ran), yet
// a search that went wrong ends in a divergence rather than a hang.
Clock::duration search_bound(const trace::Stop& s) {
  auto recorded = std::chrono::microseconds(std::max<int64_t>(s.result, 0));
  return std::max<Clock::duration>(std::chrono::seconds(60), recorded * 1000);
}

// One waiter for the whole replay (it blocks SIGCHLD in the replaying
// thread from its first use on).
StopWaiter& waiter() {
  static StopWaiter w;
  return w;
}

std::string not_found(const trace::Stop& s) {
  return fmt::format(
      "thread {} did not come to the point where it was interrupted (pc {:#x}, after {} us of "
      "running when recorded) within {} s",
      s.tid, s.regs.rip, s.result,
      std::chrono::duration_cast<std::chrono::seconds>(search_bound(s)).count());
}

}  // namespace

std::string ReplayEngine::interrupt_mismatch(Thread& t, const trace::Stop& s) const {
  Registers regs = t.task.regs();
  if (std::string d = register_mismatch(s.regs, regs); !d.empty()) return d;
  if (t.block) {
    uint64_t ticks = ThreadBlockView(t.process->mem, *t.block).ticks();
    if (ticks != s.ticks) return fmt::format("ticks are {}, recorded {}", ticks, s.ticks);
  }
  for (const trace::MemWrite& w : s.writes) {
    std::vector<std::byte> now(w.data.size());
    if (!t.process->mem.read(w.addr, now.data(), now.size()) || now != w.data) {
      return fmt::format("memory at {:#x} differs", w.addr);
    }
  }
  if (s.value != 0) {
    auto digest = static_cast<int64_t>(vector_digest(t.task.xstate()));
    if (digest != s.value) return "the vector registers differ";
  }
  return {};
}

WaitStatus ReplayEngine::wait_for_thread_until(size_t index, pid_t tid) {
  for (;;) {
    check_interrupt();
    auto st = waiter().wait(-1, seek_->deadline);
    if (!st) {
      if (waiter().lost()) throw Error("lost track of the program (no traced thread left)");
      diverge(index, not_found(std::get<trace::Stop>(trace_.events()[seek_->index])));
    }
    if (st->tid == inferior_.holder()) continue;
    if (st->tid == tid) return *st;
    note_other(*st);
  }
}

void ReplayEngine::play_interrupt(size_t index, Thread& t, const trace::Stop& s, int sig) {
  if (sig == 0 && at_interrupt(t, s)) {
    // Its run starts in that very state (a loop that only reads memory,
    // interrupted twice at the same place): nothing to run.
    complete_stop(index, t, s, WaitStatus{t.task.tid(), 0x7f | (SIGTRAP << 8)});
    return;
  }
  const uint64_t pc = s.regs.rip;
  const bool user_breakpoint =
      std::find(breakpoints_.begin(), breakpoints_.end(), pc) != breakpoints_.end();
  // The fast way: a stub in the process compares the state at each pass
  // and traps only on a match. Else an int3 at pc, a ptrace stop per pass.
  std::unique_ptr<ConditionalBreakpoint> stub;
  if (sig == 0 && t.held && std::getenv("BACKSTEP_NO_STUB") == nullptr) {
    ConditionalBreakpoint::Target target{pc, s.regs, {}};
    for (const trace::MemWrite& w : s.writes) target.words.push_back({w.addr, w.data});
    if (t.block) {
      std::vector<std::byte> ticks(sizeof s.ticks);
      std::memcpy(ticks.data(), &s.ticks, sizeof s.ticks);
      target.words.push_back({*t.block + offsetof(abi::ThreadBlock, ticks), std::move(ticks)});
    }
    std::string why;
    stub =
        ConditionalBreakpoint::install(t.task, t.process->mem, *t.held, target, breakpoints_, &why);
    ++(stub ? result_.interrupt_stubs : result_.interrupt_int3s);
  } else {
    ++result_.interrupt_int3s;
  }
  seek_ = Seek{index, pc, Clock::now() + search_bound(s), false, !stub};
  struct Done {
    std::optional<Seek>& seek;
    ~Done() { seek.reset(); }
  } done{seek_};
  for (;;) {
    seek_->hit = false;
    WaitStatus st = resume_run(index, t, static_cast<Resume>(s.resumed.how), sig);
    sig = 0;
    if (stub && st.stopped() && !st.syscall_stop() && !st.ptrace_event() &&
        st.stop_signal() == SIGTRAP && stub->is_trap(t.task.regs())) {
      // Every register, rsp, the flags and the words matched in the stub;
      // fs_base, gs_base and the vector registers are checked here.
      Registers trap = t.task.regs();
      t.task.set_regs(stub->program_registers(trap));
      if (at_interrupt(t, s)) {
        t.held = HeldAt::kUserCode;
        stub->remove(t.task, HeldAt::kUserCode);
        complete_stop(index, t, s, st);
        t.requeued = t.in_place;
        return;
      }
      t.task.set_regs(stub->miss_registers(trap));
      if (Clock::now() > seek_->deadline) diverge(index, not_found(s));
      continue;
    }
    if (!seek_->hit) {
      diverge(index, fmt::format("thread {} met another stop ({}, at rip {:#x}) before the point "
                                 "where it was interrupted (pc {:#x})",
                                 s.tid, st.describe(), t.task.regs().rip, pc));
    }
    if (at_interrupt(t, s)) {
      complete_stop(index, t, s, st);
      return;
    }
    // Not yet: a breakpoint of the caller's there is hit on this pass (on
    // the last, the arrival is reported by the next run, which starts on it).
    if (user_breakpoint && on_breakpoint_) {
      on_breakpoint_(t.vtid, pc, t.block ? ThreadBlockView(t.process->mem, *t.block).ticks() : 0);
    }
    if (Clock::now() > seek_->deadline) diverge(index, not_found(s));
    // Over the instruction, unplanted, and on.
    if (!t.task.resume(Resume::kSingleStep, 0)) diverge(index, "a thread vanished");
    WaitStatus stepped = wait_for_thread_until(index, t.task.tid());
    if (!stepped.stopped() || stepped.stop_signal() != SIGTRAP || stepped.syscall_stop() ||
        stepped.ptrace_event() || t.task.siginfo().si_code != TRAP_TRACE) {
      diverge(index, fmt::format("thread {} met another stop ({}) before the point where it was "
                                 "interrupted (pc {:#x})",
                                 s.tid, stepped.describe(), pc));
    }
  }
}

}  // namespace backstep::replayer
