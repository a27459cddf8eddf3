// ReplayEngine, part: the process tree. The recorded forks, vforks and
// clones of processes really happen again (so memory they share is really
// shared, and evolves the same as their threads run in the recorded order),
// execs really run the recorded files, and a process ends at its recorded
// exit stop. See "Process trees and exec" in ARCHITECTURE.md.
#include <fcntl.h>
#include <fmt/core.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <filesystem>

#include "base/interrupt.h"
#include "ptrace/inferior.h"
#include "ptrace/proc.h"
#include "replayer/executable_stand_in.h"
#include "replayer/replay_engine.h"
#include "trace/trace_writer.h"

namespace backstep::replayer {

using trace::StopKind;

void ReplayEngine::on_new_task(size_t index, Thread& t, const trace::Stop& s) {
  Thread& child = thread(static_cast<pid_t>(t.task.event_message()));
  if (is_copy_) {
    child.vtid = static_cast<pid_t>(s.value);
    by_vtid_[child.vtid] = child.task.tid();
  } else if (child.vtid != s.value) {
    diverge(index, fmt::format("new thread got tid {}, recorded {}", child.vtid, s.value));
  }
  CloneRequest c = clone_request(t);
  if (c.flags & CLONE_CHILD_CLEARTID) child.clear_tid = c.child_tid;
  t.clone_child = child.task.tid();
  if (child.process != t.process) {
    // A new process: a copy of its parent's memory (or the same, with
    // CLONE_VM), patched where the parent's is; its thread counts on in
    // its copy of the creator's thread block.
    Process& p = *child.process;
    if (is_copy_) p.vpid = static_cast<pid_t>(s.value);
    p.patcher = t.process->patcher;
    p.tick_section = t.process->tick_section;
    p.terminal = t.process->terminal;  // a fork copies the descriptors
    child.block = t.block;
    // Its thread's copy of the creator's syscall buffer, until it registers
    // one of its own (after fork, pthread_atfork); a vfork child shares
    // its parent's, which is off until the parent comes back.
    if (!(c.flags & CLONE_VM)) child.syscallbuf = t.syscallbuf;
  }
  // Its first stop, now: from this record on, the task exists and can be
  // inspected, whenever the kernel got round to stopping it.
  await_first_stop(child);
}

void ReplayEngine::prepare_exec(size_t index, Thread& t, Registers& regs, size_t exec_stop) {
  const auto& ev = trace_.events();
  const trace::Exec* x = nullptr;
  for (size_t i = exec_stop + 1; i < ev.size() && !x; ++i) {
    x = std::get_if<trace::Exec>(&ev[i]);
    if (std::holds_alternative<trace::Stop>(ev[i])) break;
  }
  if (!x || x->content.empty()) return;  // nothing to compare with: run what is there
  bool at = t.nr == SYS_execveat;
  int path_arg = at ? 1 : 0;
  std::string path = t.process->mem.read_string(t.args[path_arg], PATH_MAX);
  // The name the kernel gives the new image (and puts on its stack): the
  // path, or for a path relative to a directory fd "/dev/fd/N/path". Fds
  // are emulated in replay, so that form always runs the trace's copy.
  std::string kernel_name = path;
  bool by_fd = at && static_cast<int>(t.args[0]) != AT_FDCWD && (path.empty() || path[0] != '/');
  if (by_fd) {
    kernel_name = fmt::format("/dev/fd/{}", static_cast<int>(t.args[0]));
    if (!path.empty()) kernel_name.append("/").append(path);
  } else {
    std::string file = path;
    if (!path.empty() && path[0] != '/') {
      file = fmt::format("/proc/{}/cwd/", t.task.tid());
      file.append(path);
    }
    try {
      if (trace::hash_file(file) == x->content) return;  // the recorded file is here
    } catch (const std::exception&) {
    }
  }
  // The trace's copy, at a path of the same length: the kernel puts the
  // path on the new image's stack (AT_EXECFN), where its length moves
  // everything after it.
  std::filesystem::path copy = trace_.file_copy(x->content);
  std::error_code ec;
  auto dir_made = std::make_unique<ScratchDir>("bkx");
  std::string base = dir_made->path().string() + "/";
  if (!std::filesystem::is_regular_file(copy, ec) || kernel_name.size() < base.size() + 1) {
    throw Error(fmt::format(
        "replay needs {} as it was recorded (event {}): it is missing or changed here, and {}",
        kernel_name, index,
        std::filesystem::is_regular_file(copy, ec)
            ? "its path is too short for the trace's copy to stand in for it"
            : "the trace holds no copy of it"));
  }
  std::string rel = ExecutableStandIn::path_of_length(
      kernel_name.size() - base.size(), std::filesystem::path(kernel_name).filename().string());
  std::filesystem::path target = dir_made->path() / rel;
  std::filesystem::create_directories(target.parent_path());
  std::filesystem::copy_file(copy, target);
  std::filesystem::permissions(target, std::filesystem::perms::owner_all);
  t.exec_stand_in = target.string();
  // The path goes below the red zone of the caller's stack (the exec
  // replaces that memory; a vfork child's parent is not using it).
  uint64_t where = (regs.rsp - 256 - t.exec_stand_in.size() - 1) & ~uint64_t{15};
  t.process->mem.write_or_throw(where, t.exec_stand_in.c_str(), t.exec_stand_in.size() + 1);
  set_syscall_arg(regs, path_arg, where);
  if (at) set_syscall_arg(regs, 0, static_cast<uint64_t>(AT_FDCWD));
  t.task.set_regs(regs);
  t.rewrote_args = true;
  stand_ins_.push_back(std::move(dir_made));
}

void ReplayEngine::play_exec_stop(size_t index, Thread& t, const trace::Stop& s) {
  int sig = begin_run(index, t, s);
  Process& p = *t.process;
  if (!t.task.resume(static_cast<Resume>(s.resumed.how), sig)) {
    diverge(index, fmt::format("thread {} vanished", s.tid));
  }
  // The other threads of the process die (the kernel kills them); the
  // caller's exec stop comes under the leader's tid.
  WaitStatus st;
  for (;;) {
    check_interrupt();
    auto w = wait_for(-1);
    if (!w) throw Error("lost track of the program (no traced thread left)");
    if (w->tid == inferior_.holder()) continue;
    if (w->ptrace_event() == PTRACE_EVENT_EXEC && (w->tid == t.task.tid() || w->tid == p.pid)) {
      st = *w;
      break;
    }
    if (w->tid == t.task.tid()) {
      diverge(index,
              fmt::format("expected the exec stop of thread {}, found {}", s.tid, w->describe()));
    }
    auto it = threads_.find(w->tid);
    if (it != threads_.end() && it->second.process == &p) {
      it->second.dead = true;
      if (w->stopped()) it->second.task.resume(Resume::kContinue, 0);
      continue;
    }
    note_other(*w);
  }
  for (auto& [tid, other] : threads_) {
    if (other.process == &p && &other != &t) other.dead = true;
  }
  const pid_t former = t.task.tid();
  const pid_t leader = st.tid;
  if (former != leader) {
    Thread moved = t;
    moved.task = Task(leader);
    by_vtid_.erase(t.vtid);
    threads_.erase(former);
    threads_.erase(leader);
    threads_.emplace(leader, moved);
  }
  Thread& n = threads_.at(leader);
  by_vtid_.erase(n.vtid);
  n.vtid = static_cast<pid_t>(s.value);
  by_vtid_[n.vtid] = leader;
  n.dead = false;
  n.started = true;
  n.run_started = false;
  n.steps = 0;
  n.base_ticks = 0;
  n.block.reset();
  n.syscallbuf.reset();  // the new image's library (if any) registers again
  n.held.reset();  // an exec stop: no copy can be made here
  n.in_syscall = true;
  n.emulated = false;
  n.rewrote_args = false;
  n.clear_tid = 0;
  n.robust.reset();
  n.altstack.reset();
  p.mem.reopen();
  p.patcher = RdtscPatcher();
  p.tick_section = {0, 0};
  Registers regs = n.task.regs();
  if (s.ticks != 0) {
    diverge(index, fmt::format("thread {} is at tick 0, recorded {}", s.tid, s.ticks));
  }
  if (std::string d = regs_difference(s.regs, regs); !d.empty()) {
    diverge(index, fmt::format("thread {} at its exec stop: {}", s.tid, d));
  }
  result_.stops++;
}

void ReplayEngine::play_exec_image(size_t index, const trace::Exec& x) {
  Thread* t = thread_by_vtid(x.tid);
  if (!t || t->dead) diverge(index, fmt::format("thread {} should run a new image", x.tid));
  const AddressSpace& mem = t->process->mem;
  InitialStack stack = InitialStack::read(mem, t->task.regs().rsp);
  stack.hide_vdso(mem);
  if (stack.random_addr) mem.write_or_throw(stack.random_addr, x.at_random.data(), 16);
  if (stack.auxv_bytes() != x.auxv) {
    diverge(index, fmt::format("the new image of process {} has another auxiliary vector than "
                               "recorded (another kernel, or another {}?)",
                               t->process->vpid, x.exe));
  }
  t->process->tick_section = tick_section_after(index, x.exe);
}

void ReplayEngine::collect(Process& p) {
  while (!p.end) {
    check_interrupt();
    auto w = wait_for(-1);
    if (!w) break;
    if (w->tid == inferior_.holder()) continue;
    auto it = threads_.find(w->tid);
    if (it == threads_.end() || it->second.process != &p) {
      note_other(*w);
      continue;
    }
    Thread& th = it->second;
    th.dead = true;
    if (w->exited() || w->signaled()) {
      if (w->tid == p.pid) p.end = *w;
      if (w->tid == inferior_.leader()) end_status_ = *w;
    } else if (w->stopped()) {
      th.task.resume(Resume::kContinue, 0);
    }
  }
}

bool ReplayEngine::is_stray_sigchld(size_t index, Thread& t, const WaitStatus& st) const {
  if (!multi_process_ || !st.stopped() || st.syscall_stop() || st.ptrace_event() ||
      st.stop_signal() != SIGCHLD) {
    return false;
  }
  siginfo_t si = t.task.siginfo();
  if (si.si_code < CLD_EXITED || si.si_code > CLD_CONTINUED) return false;  // ours, or a kill
  const auto* s = std::get_if<trace::Stop>(&trace_.events()[index]);
  return !(s && s->kind == StopKind::kSignal && s->value == SIGCHLD);
}

}  // namespace backstep::replayer
