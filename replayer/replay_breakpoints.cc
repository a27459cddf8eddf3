// ReplayEngine, part: breakpoints planted while threads run toward their
// recorded stops, and the value watch the runtime checks at every tick.
#include <fmt/core.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"
#include "replayer/replay_engine.h"
#include "syscalls/syscall_table.h"

namespace backstep::replayer {

namespace {

// int3 written over each breakpoint's first byte for as long as it lives.
// Addresses not mapped (yet) are skipped: nothing can execute there.
class PlantedBreakpoints {
 public:
  PlantedBreakpoints(const AddressSpace& mem, const std::vector<uint64_t>& addrs, uint64_t skip)
      : mem_(mem) {
    for (uint64_t a : addrs) {
      uint8_t orig = 0;
      if (a == skip || !mem_.read(a, &orig, 1)) continue;
      if (orig == kInt3) continue;  // planted twice, or an rdtsc site
      const uint8_t int3 = kInt3;
      if (mem_.write(a, &int3, 1)) saved_.emplace_back(a, orig);
    }
  }
  ~PlantedBreakpoints() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      mem_.write(it->first, &it->second, 1);
  }
  PlantedBreakpoints(const PlantedBreakpoints&) = delete;
  PlantedBreakpoints& operator=(const PlantedBreakpoints&) = delete;

 private:
  static constexpr uint8_t kInt3 = 0xcc;
  const AddressSpace& mem_;
  std::vector<std::pair<uint64_t, uint8_t>> saved_;
};

bool is_syscall_insn(const AddressSpace& mem, uint64_t pc) {
  uint8_t insn[2] = {};
  return mem.read(pc, insn, 2) && insn[0] == 0x0f && insn[1] == 0x05;
}

}  // namespace

void ReplayEngine::set_value_watch(std::optional<ValueWatch> watch, WatchTrap on_change) {
  watch_ = watch;
  on_watch_ = std::move(on_change);
}

void ReplayEngine::write_limits(Thread& t, uint64_t tick_limit, uint64_t event_limit,
                                const std::optional<ValueWatch>& watch) {
  ThreadBlockView view(t.process->mem, *t.block);
  view.set_limits(tick_limit, event_limit);
  uint64_t value = 0;
  if (watch && t.process->mem.read(watch->addr, &value, watch->len)) {
    view.set_watch(watch->addr, watch->len, value, tick_limit);
    t.armed = watch;
  } else if (t.armed) {
    view.clear_watch();
    t.armed.reset();
  }
}

void ReplayEngine::sync_watch(Thread& t, const std::optional<ValueWatch>& want) {
  if (!t.block || t.armed == want) return;
  // A run begun under another watch (or none): the limits it has, or keeps
  // in watch_limit while armed, are its real ones.
  ThreadBlockView view(t.process->mem, *t.block);
  uint64_t limit = t.armed ? view.watch_limit() : view.tick_limit();
  write_limits(t, limit, view.event_limit(), want);
}

void ReplayEngine::set_breakpoints(std::vector<uint64_t> addrs, BreakpointHit on_hit) {
  breakpoints_ = std::move(addrs);
  on_breakpoint_ = std::move(on_hit);
}

int32_t ReplayEngine::running_thread() const {
  for (const auto& [tid, t] : threads_) {
    if (t.run_started && !t.dead) return t.vtid;
  }
  return 0;
}

bool ReplayEngine::is_breakpoint_hit(Thread& t, const WaitStatus& st) const {
  if (!st.stopped() || st.syscall_stop() || st.ptrace_event() || st.stop_signal() != SIGTRAP) {
    return false;
  }
  uint64_t at = t.task.regs().rip - 1;
  if (std::find(breakpoints_.begin(), breakpoints_.end(), at) == breakpoints_.end() &&
      !(seek_ && seek_->plant && seek_->pc == at)) {
    return false;
  }
  return t.task.siginfo().si_code == SI_KERNEL;
}

WaitStatus ReplayEngine::resume_run(size_t index, Thread& t, Resume how, int signal) {
  uint64_t skip = 0;  // a breakpoint on a syscall instruction, passed over once
  if (how != Resume::kSingleStep) sync_watch(t, watch_);
  std::optional<siginfo_t> requeued = std::exchange(t.requeued, std::nullopt);
  if (requeued && requeued->si_signo != signal) requeued.reset();
  t.in_place.reset();
  for (;;) {
    WaitStatus st;
    {
      std::optional<PlantedBreakpoints> planted;
      if ((!breakpoints_.empty() || seek_) && how != Resume::kSingleStep) {
        std::vector<uint64_t> addrs = breakpoints_;
        if (seek_ && seek_->plant) addrs.push_back(seek_->pc);
        planted.emplace(t.process->mem, addrs, skip);
      }
      if (!t.task.resume(how, signal)) diverge(index, fmt::format("thread {} vanished", t.vtid));
      st = seek_ ? wait_for_thread_until(index, t.task.tid()) : wait_for_thread(t.task.tid());
    }
    signal = 0;
    skip = 0;
    if (t.in_syscall && st.ptrace_event() == PTRACE_EVENT_SECCOMP) {
      // The syscall buffer's filter stops a traced syscall once more after
      // its entry stop, as it did when recording; the exit comes next.
      how = Resume::kSyscall;
      continue;
    }
    if (requeued && st.stopped() && !st.syscall_stop() && !st.ptrace_event() &&
        st.stop_signal() == requeued->si_signo) {
      t.task.set_siginfo(*requeued);
      signal = requeued->si_signo;
      requeued.reset();
      continue;
    }
    if (st.ptrace_event() == PTRACE_EVENT_STOP) continue;  // SIGCONT's notification, as recorded
    if (is_stray_sigchld(index, t, st)) continue;          // dropped; the run goes on
    if (t.armed && st.stopped() && !st.syscall_stop() && !st.ptrace_event() &&
        st.stop_signal() == SIGTRAP) {
      ThreadBlockView view(t.process->mem, *t.block);
      if (view.trap_reason() == abi::TrapReason::kWatch) {
        view.clear_trap_reason();
        if (on_watch_) on_watch_(t.vtid, view.ticks());
        continue;  // on from the trap, inside the tick counter
      }
    }
    if (!is_breakpoint_hit(t, st)) return st;
    Registers regs = t.task.regs();
    regs.rip -= 1;
    t.task.set_regs(regs);
    if (seek_ && seek_->plant && regs.rip == seek_->pc) {
      seek_->hit = true;  // play_interrupt looks (and reports a breakpoint there)
      return st;
    }
    if (on_breakpoint_) {
      on_breakpoint_(t.vtid, regs.rip,
                     t.block ? ThreadBlockView(t.process->mem, *t.block).ticks() : 0);
    }
    if (is_syscall_insn(t.process->mem, regs.rip)) {
      // Single-stepping it would run the syscall for real: let the run
      // reach its recorded syscall stop with this one breakpoint lifted.
      skip = regs.rip;
      continue;
    }
    // Over the breakpoint's own instruction, unplanted, then on.
    if (!t.task.resume(Resume::kSingleStep, 0)) diverge(index, "a thread vanished");
    WaitStatus stepped = wait_for_thread(t.task.tid());
    bool traced_step = stepped.stopped() && stepped.stop_signal() == SIGTRAP &&
                       !stepped.syscall_stop() && !stepped.ptrace_event() &&
                       t.task.siginfo().si_code == TRAP_TRACE;
    if (!traced_step) return stepped;  // that instruction was the recorded stop (a fault, ...)
  }
}

}  // namespace backstep::replayer
