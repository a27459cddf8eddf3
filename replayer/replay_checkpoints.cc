// ReplayEngine, part: checkpoints. A copy of the replay is a fork of the
// replayed program made from inside it, with every thread cloned into the
// copy and given its state again (see "Checkpoints" in ARCHITECTURE.md).
#include <fmt/core.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "base/interrupt.h"
#include "ptrace/proc.h"
#include "ptrace/runtime_link.h"
#include "ptrace/syscall_injection.h"
#include "replayer/replay_engine.h"
#include "syscalls/syscall_table.h"

namespace backstep::replayer {

namespace {

// Memory shared with another process would be shared with the copy too, and
// a checkpoint must not change when the replay runs on: no shared mapping
// (even read-only: the replayer writes recorded file changes into backing
// files), and no private one of a backing file either (its pages that were
// not written show those changes).
bool has_shared_memory(pid_t pid) {
  for (const ProcMapping& m : read_proc_maps(pid)) {
    if (m.shared() || is_backing_file(m.path)) return true;
  }
  return false;
}

// A signal sent but not delivered yet (a self-kill between its syscall and
// its delivery) stays with the process: a copy would not have it. Each
// thread's own pending set, and the process's shared one (any thread's
// status shows it).
bool has_pending_signals(const std::vector<pid_t>& tids) {
  auto pending = [](pid_t tid, const char* field) {
    auto v = proc_status_field(tid, field);
    return !v || std::stoull(*v, nullptr, 16) != 0;
  };
  for (pid_t tid : tids) {
    if (pending(tid, "SigPnd")) return true;
  }
  return tids.empty() || pending(tids.front(), "ShdPnd");
}

}  // namespace

bool ReplayEngine::can_fork() const {
  // Copies of several processes (and of one that will fork: the copy's
  // children would get other pids) are not made: going back relaunches.
  if (multi_process_ || processes_.size() > 1) return false;
  if (dying_ || finished() || end_status_) return false;
  auto leader = threads_.find(inferior_.leader());
  if (leader == threads_.end() || leader->second.dead) return false;
  std::vector<pid_t> alive;
  for (const auto& [tid, t] : threads_) {
    if (t.dead) continue;
    alive.push_back(tid);
    if (!t.started || !t.held || t.vtid == 0) return false;
    // Held at the entry of a wait_with_mask, or with its signal pending.
    if (t.wake_signal || t.wake_pending || t.wake_expected) return false;
    // A signal to itself about to be sent names this process's kernel ids.
    if (*t.held == HeldAt::kSyscallEntry && !t.emulated &&
        (t.nr == SYS_kill || t.nr == SYS_tkill || t.nr == SYS_tgkill)) {
      return false;
    }
    if (!t.run_started) {
      // Its next run begins with the signal delivered then, which a new
      // thread's first resumption could not carry.
      if (auto n = next_stop_of_thread(t.vtid);
          n && std::get<trace::Stop>(trace_.events()[*n]).resumed.signal != 0) {
        return false;
      }
    }
  }
  return !has_pending_signals(alive) && !has_shared_memory(inferior_.leader());
}

ReplayEngine::ReplayEngine(const ReplayEngine& source, Inferior copy)
    : trace_(source.trace_),
      options_(source.options_),
      inferior_(std::move(copy)),
      result_(source.result_),
      end_status_(source.end_status_),
      dying_(source.dying_),
      next_(source.next_),
      pending_signal_(source.pending_signal_),
      last_tid_(source.last_tid_),
      is_copy_(true),
      multi_process_(source.multi_process_),
      backing_(source.backing_.fresh()) {
  Process& p = process(inferior_.leader());
  p.vpid = source.root().vpid;
  p.patcher = source.root().patcher;
  p.tick_section = source.root().tick_section;
  p.signal_fds = source.root().signal_fds;
}

ReplayEngine::Thread& ReplayEngine::adopt_thread(pid_t tid, const Thread& source) {
  Thread& t = threads_.try_emplace(tid, tid, source.vtid).first->second;
  t = source;
  t.task = Task(tid);
  t.process = &root();
  // The copy's thread stands at the exit of an injected clone, not at the
  // source's signal-delivery stop.
  t.requeued = source.in_place;
  t.in_place.reset();
  t.clone_child = 0;
  by_vtid_[t.vtid] = tid;
  return t;
}

std::unique_ptr<ReplayEngine> ReplayEngine::fork() {
  if (!can_fork()) return nullptr;
  // Half-made, the copy would be lost and the source's leader left inside
  // an injected syscall.
  InterruptDeferral defer;
  Thread& leader = threads_.at(inferior_.leader());
  const Registers leader_regs = leader.task.regs();
  // The process, forked by its leader. No exit signal: the copy's end must
  // not signal the program it came from.
  InjectedResult forked = inject_syscall(leader.task, root().mem, *leader.held, SYS_clone);
  if (forked.value <= 0 || forked.created <= 0) {
    throw Error(fmt::format("cannot copy the replayed program (clone returned {})", forked.value));
  }
  wait_for_new_task(forked.created);
  std::unique_ptr<ReplayEngine> copy(new ReplayEngine(*this, inferior_.adopt_copy(forked.created)));
  const AddressSpace& cmem = copy->root().mem;
  // The copy was made with a syscall instruction over the leader's code.
  uint8_t code[2] = {};
  root().mem.read_or_throw(leader_regs.rip, code, sizeof code);
  cmem.write_or_throw(leader_regs.rip, code, sizeof code);

  // Its only thread stands for the leader; the others are cloned into it.
  // Each is adopted at once, so that a failure kills and reaps them all.
  std::vector<std::pair<const Thread*, Thread*>> pairs{
      {&leader, &copy->adopt_thread(forked.created, leader)}};
  const Task first(forked.created);
  for (const auto& [tid, t] : threads_) {
    if (t.dead || &t == &leader) continue;
    constexpr uint64_t kThread =
        CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    InjectedResult made = inject_syscall(first, cmem, HeldAt::kUserCode, SYS_clone, {kThread});
    if (made.value <= 0 || made.created <= 0) {
      throw Error(fmt::format("cannot copy thread {} (clone returned {})", t.vtid, made.value));
    }
    Thread& twin = copy->adopt_thread(made.created, t);
    wait_for_new_task(made.created);
    pairs.emplace_back(&t, &twin);
  }
  for (const auto& [source, twin] : pairs) {
    Thread& t = *twin;
    const Registers regs = source->task.regs();
    // Neither a fork nor a clone passes these on.
    if (t.clear_tid) {
      inject_syscall(t.task, cmem, HeldAt::kUserCode, SYS_set_tid_address, {t.clear_tid});
    }
    if (t.robust) {
      inject_syscall(t.task, cmem, HeldAt::kUserCode, SYS_set_robust_list,
                     {t.robust->first, t.robust->second});
    }
    if (t.altstack && t.task.tid() != forked.created) {
      // The stack_t goes below the red zone, and the bytes there come back.
      uint64_t at = (regs.rsp - 256) & ~uint64_t{15};
      auto saved = cmem.read_bytes(at, sizeof(stack_t));
      cmem.write_value(at, *t.altstack);
      inject_syscall(t.task, cmem, HeldAt::kUserCode, SYS_sigaltstack, {at, 0});
      cmem.write_or_throw(at, saved.data(), saved.size());
    }
    t.task.set_blocked_signals(source->task.blocked_signals());
    t.task.set_xstate(source->task.xstate());
    if (*t.held == HeldAt::kSyscallEntry) {
      reenter_syscall(t.task, cmem, regs);
    } else {
      t.task.set_regs(regs);
    }
  }
  return copy;
}

}  // namespace backstep::replayer
