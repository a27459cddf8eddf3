// Session, part: the process tree. Every process the program makes (fork,
// vfork, clone without CLONE_THREAD) is traced and recorded in the same
// trace, its threads scheduled one at a time with all the others; exec
// gives a process a new image, recorded like the first one; a process ends
// at a recorded stop. See "Process trees and exec" in ARCHITECTURE.md.
#include <fcntl.h>
#include <fmt/core.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>

#include "base/errors.h"
#include "base/interrupt.h"
#include "preload/syscallbuf_abi.h"
#include "ptrace/proc.h"
#include "recorder/session.h"

namespace backstep::recorder {

using trace::StopKind;
using trace::SwitchReason;

namespace {

// The clone flags of the call that made a new task (fork and vfork as the
// flags glibc's clone equivalents pass).
uint64_t clone_flags(const Thread& t) {
  switch (t.call.nr) {
    case SYS_fork:
      return SIGCHLD;
    case SYS_vfork:
      return CLONE_VM | CLONE_VFORK | SIGCHLD;
    case SYS_clone:
      return t.call.arg[0];
    case SYS_clone3: {
      uint64_t flags = 0;  // struct clone_args starts with the flags
      if (t.call.arg[1] >= sizeof flags) t.process->mem.read(t.call.arg[0], &flags, sizeof flags);
      return flags;
    }
    default:
      return 0;
  }
}

// Whether a wait4/waitid that `t` is blocked in may wait for `child` (as
// the program sees it; process groups are taken to match).
bool waits_for(const Thread& t, pid_t child) {
  const uint64_t* a = t.call.arg;
  if (t.call.nr == SYS_wait4) {
    auto pid = static_cast<pid_t>(a[0]);
    return pid == -1 || pid == child || pid <= 0;
  }
  if (t.call.nr == SYS_waitid) {
    switch (static_cast<idtype_t>(a[0])) {
      case P_ALL:
        return true;
      case P_PID:
        return static_cast<pid_t>(a[1]) == child;
      case P_PGID:
        return true;
      default:
        return false;
    }
  }
  return false;
}

}  // namespace

bool Session::in_tree(pid_t tid) const { return in_known_tree(tid, processes_); }

bool Session::alive(const Process& p) const {
  for (const auto& [tid, t] : threads_) {
    if (t.process == &p && t.state != Thread::State::kDead) return true;
  }
  return false;
}

bool Session::other_processes_alive(const Process& p) const {
  for (const auto& [pid, q] : processes_) {
    if (q.get() != &p && !q->ended && alive(*q)) return true;
  }
  return false;
}

// At a clone, fork or vfork event stop of `parent`: the new task is a
// thread of its process or the first thread of a new one.
void Session::on_new_task(Thread& parent, int event, const Registers& regs) {
  Thread& child = thread(static_cast<pid_t>(parent.task.event_message()));
  child.bound = parent.bound;      // a new task starts with its creator's affinity
  child.seccomp = parent.seccomp;  // and its seccomp filter
  parent.cloned = true;
  StopKind kind = event == PTRACE_EVENT_FORK    ? StopKind::kFork
                  : event == PTRACE_EVENT_VFORK ? StopKind::kVfork
                                                : StopKind::kClone;
  record_stop(parent, kind, regs, child.vtid);
  if (child.process != parent.process) {
    Process& p = *child.process;
    p.parent = parent.process->tgid;
    uint64_t flags = clone_flags(parent);
    writer_.write(trace::ProcessStart{p.vpid, parent.process->vpid, parent.vtid, flags});
    // A copy of the parent's memory (or the same, with CLONE_VM): its code
    // is patched where the parent's is, and its thread goes on counting in
    // the copy of its creator's thread block (the runtime registered it).
    p.patcher = parent.process->patcher;
    child.block = parent.block;
    child.ticks = parent.ticks;
    child.ring_drained = parent.ring_drained;
    child.ring_capacity = parent.ring_capacity;
    child.tick_limit = parent.tick_limit;
    child.event_limit = parent.event_limit;
    // Its thread's copy of the creator's syscall buffer, until it registers
    // one of its own (after fork, pthread_atfork); a vfork child shares its
    // parent's, which is off until the parent comes back (pause_buffer_for_vfork).
    if (!(flags & CLONE_VM)) {
      child.syscallbuf = parent.syscallbuf;
      if (parent.buffer_view) {
        // The header and the records not drained yet (a call in progress).
        const std::byte* b = parent.buffer_view->data();
        bksb_header h{};
        std::memcpy(&h, b, sizeof h);
        child.buffer_at_fork.emplace(b, b + sizeof h + std::min(h.used, h.capacity));
      }
    }
    buffers_[p.tgid] = buffers_[parent.process->tgid];
    if (flags & CLONE_VFORK) p.vfork_parent = parent.task.tid();
  }
  note_clone(parent, child);
  if (event == PTRACE_EVENT_VFORK) {
    // The parent sleeps in the kernel until the child execs or exits:
    // blocked, and due when that is recorded (end_of_vfork).
    resume(parent, Resume::kSyscall);
    parent.state = Thread::State::kInKernel;
    parent.wait = Wait::kVfork;
    parent.blocked_at = decisions_;
    switch_from(parent, SwitchReason::kBlocked);
  }
}

// A vfork child has execed or ended: its parent comes back from vfork.
void Session::end_of_vfork(Process& p) {
  pid_t tid = std::exchange(p.vfork_parent, 0);
  auto it = threads_.find(tid);
  if (it != threads_.end() && it->second.state == Thread::State::kInKernel) make_due(it->second);
}

// At the entry of execve/execveat: which file the program names, kept in
// the trace now (replay runs the copy when the original is gone).
void Session::note_exec_call(Thread& t) {
  const uint64_t* a = t.call.arg;
  bool at = t.call.nr == SYS_execveat;
  std::string path = t.process->mem.read_string(at ? a[1] : a[0], PATH_MAX);
  std::string dir = fmt::format("/proc/{}/cwd", t.task.tid());
  if (at && static_cast<int>(a[0]) != AT_FDCWD) {
    dir = fmt::format("/proc/{}/fd/{}", t.task.tid(), static_cast<int>(a[0]));
  }
  std::string file = dir;
  if (!path.empty() && path[0] == '/') {
    file = path;
  } else if (!path.empty()) {
    file.append("/").append(path);
  }
  t.exec_path = path;
  t.exec_content.clear();
  try {
    if (::access(file.c_str(), R_OK) == 0) t.exec_content = writer_.keep_file(file);
  } catch (const std::exception&) {
    // Not readable (or not there): the exec fails, or replay has no copy.
  }
  t.process->execing = t.task.tid();
}

// Whether `st` is the exec stop of `tid`, reported under its process
// leader's tid because `tid` was another thread (the kernel gives the
// caller the leader's id).
bool Session::is_exec_of(pid_t tid, const WaitStatus& st) const {
  if (st.ptrace_event() != PTRACE_EVENT_EXEC) return false;
  auto it = threads_.find(tid);
  return it != threads_.end() && it->second.process->execing == tid &&
         it->second.process->tgid == st.tid;
}

// PTRACE_EVENT_EXEC of `caller` (its stop came as `st`, under the leader's
// tid when the caller was another thread). The process has a new image:
// its other threads are gone, its memory, thread block and rdtsc sites are
// new, and the image is recorded as the first one was.
void Session::on_exec(Thread& caller, const WaitStatus& st) {
  Process& p = *caller.process;
  const pid_t former = caller.task.tid();
  const pid_t leader = st.tid;
  p.execing = 0;
  Registers regs = Task(leader).regs();
  for (auto& [tid, th] : threads_) {
    if (th.process == &p && tid != former && th.state != Thread::State::kDead) {
      // Killed by the kernel where it stood: nothing of it is recorded.
      th.state = Thread::State::kDead;
      futexes_.forget(tid);
      scheduler_.remove_thread(tid);
      if (th.due) std::erase(due_, tid);
      th.due = false;
    }
  }
  // Nothing of the old image is read any more (its memory is gone).
  caller.block.reset();
  // The seccomp filter survives exec (so t.seccomp stays); the library, if
  // the new image loads it, registers a new buffer.
  caller.syscallbuf.reset();
  caller.buffer_view.reset();
  caller.buffer_at_fork.reset();
  caller.buffer_paused = false;
  caller.handler_frames = 0;
  buffers_.erase(p.tgid);
  caller.ticks = 0;
  caller.ring_drained = 0;
  caller.tick_limit = 0;
  caller.event_limit = 0;
  caller.ring_capacity = abi::kRingCapacity;
  caller.clear_tid = 0;
  pid_t new_vtid = namespace_tid(leader);
  record_stop(caller, StopKind::kExec, regs, new_vtid);
  std::string path = caller.exec_path;
  std::string content = caller.exec_content;
  const int32_t former_vtid = caller.vtid;
  if (former != leader) {
    Thread moved = caller;
    moved.task = Task(leader);
    moved.vtid = new_vtid;
    resumptions_[leader] = resumptions_[former];
    threads_.erase(former);
    scheduler_.remove_thread(former);
    scheduler_.remove_thread(leader);
    threads_.erase(leader);
    threads_.emplace(leader, moved);
    scheduler_.add_thread(leader);
  }
  Thread& t = threads_.at(leader);
  t.state = Thread::State::kStopped;
  current_ = leader;
  p.mem.reopen();
  p.patcher = RdtscPatcher();
  trace::Exec x = new_image(t, regs);
  x.path = path;
  x.content = content;
  x.former_tid = former != leader ? former_vtid : 0;
  std::error_code ec;
  x.exe = std::filesystem::read_symlink(fmt::format("/proc/{}/exe", leader), ec).string();
  if (x.exe.empty()) x.exe = path.empty() ? std::string("?") : path;
  writer_.write(x);
  keep_exec_mappings(p);
  write_patch(p.patcher.patch_all_mappings(p.mem));
  end_of_vfork(p);
}

// The process of `t` is dying (exit_group, a fatal signal) while other
// processes of the program live on: `t`, the thread ending it, goes to its
// exit stop, recorded (result 1: the whole process ends there), and every
// thread of the process is collected before anything else runs, so that
// when the parent learns of it (wait4, SIGCHLD) depends on the recording.
void Session::end_process(Thread& t) {
  Process& p = *t.process;
  if (t.state != Thread::State::kDead) {
    resume(t, Resume::kContinue);
    if (t.state != Thread::State::kDead) {
      WaitStatus st = wait_for_thread(t.task.tid());
      if (st.ptrace_event() == PTRACE_EVENT_EXIT) {
        Registers regs = t.task.regs();
        record_stop(t, StopKind::kExit, regs, static_cast<int64_t>(t.task.event_message()), 1);
        t.task.resume(Resume::kContinue, 0);
      } else if (st.exited() || st.signaled()) {
        note_death(t, st);
      }
      t.state = Thread::State::kDead;
    }
  }
  collect(p);
}

// Waits for every thread of the ended or ending process `p` to be gone,
// letting their last stops go on, then does what its end means to the
// others (a vfork parent, a parent waiting in wait4).
void Session::collect(Process& p) {
  // The leader's end is reported last, once every other thread is reaped.
  while (!p.end) {
    check_interrupt();
    auto st = wait_for(-1);
    if (!st) break;
    if (st->tid == inferior_.holder()) continue;
    auto it = threads_.find(st->tid);
    if (it == threads_.end() || it->second.process != &p) {
      note_other(*st);
      continue;
    }
    Thread& th = it->second;
    if (st->exited() || st->signaled()) {
      note_death(th, *st);
    } else {
      th.state = Thread::State::kDead;
      th.task.resume(Resume::kContinue, 0);
    }
  }
  after_process_end(p);
}

// A thread is gone for good (its exit was reported).
void Session::note_death(Thread& t, const WaitStatus& st) {
  t.state = Thread::State::kDead;
  t.reaped = true;
  t.stat_files = ThreadStatFiles();  // its /proc files closed: a thread is gone for good
  futexes_.forget(t.task.tid());
  Process& p = *t.process;
  if (t.task.tid() == p.tgid) {
    p.end = st;
    if (&p == processes_.at(inferior_.leader()).get()) end_status_ = st;
  }
}

void Session::after_process_end(Process& p) {
  if (p.ended) return;
  p.ended = true;
  for (auto& [tid, th] : threads_) {
    if (th.process != &p) continue;
    scheduler_.remove_thread(tid);
    if (th.due) std::erase(due_, tid);
    th.due = false;
  }
  end_of_vfork(p);
  // The parent learns of it now (we collected it): a wait4 for it comes back.
  auto parent = processes_.find(p.parent);
  if (parent == processes_.end()) return;
  for (auto& [tid, th] : threads_) {
    if (th.process == parent->second.get() && th.state == Thread::State::kInKernel &&
        th.wait == Wait::kUntimed && waits_for(th, p.vpid)) {
      make_due(th);
    }
  }
}

}  // namespace backstep::recorder
